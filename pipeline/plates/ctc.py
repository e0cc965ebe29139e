"""CTC decoding of plate OCR output: greedy, and best string constrained to character-class templates.

Inputs are (T, 37) probability matrices over ``PLATE_ALPHABET`` (column 0 = blank). A template is a
sequence of allowed-class masks, one per character (e.g. letter, letter, digit...). ``constrained`` finds,
for every template at once, the best CTC alignment path whose collapsed text fits the template: a Viterbi
pass over states (characters emitted so far, current symbol). This is how the format rules correct
O/0, I/1, B/8... using the network's own second choice at that position rather than a fixed table.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.plates.alphabet import PLATE_ALPHABET

N_CLASSES = len(PLATE_ALPHABET)
LETTERS = np.zeros(N_CLASSES, dtype=np.bool_)
LETTERS[1:27] = True
DIGITS = np.zeros(N_CLASSES, dtype=np.bool_)
DIGITS[27:37] = True
ALNUM = LETTERS | DIGITS
_CLASS_ORDER = "LDA"
_MIN_PROB = 1e-3
_NEG = np.float32(-1e9)
_EPS = 1e-12

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
PointerArray = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded string with per-character confidences and the time steps that emitted each character."""

    text: str
    char_conf: tuple[float, ...]
    steps: tuple[int, ...]
    log_score: float

    @property
    def confidence(self) -> float:
        """The weakest character's confidence (0 for an empty string): one bad character spoils a plate."""
        return min(self.char_conf, default=0.0)


def greedy(probs: FloatArray) -> Decoded:
    """Best symbol per step, repeats merged, blanks dropped."""
    best = probs.argmax(axis=1)
    chars: list[str] = []
    confs: list[float] = []
    steps: list[int] = []
    previous = 0
    for t, k in enumerate(best):
        if k != 0 and k != previous:
            chars.append(PLATE_ALPHABET[k])
            confs.append(float(probs[t, k]))
            steps.append(t)
        elif k != 0 and k == previous:
            confs[-1] = max(confs[-1], float(probs[t, k]))
        previous = int(k)
    score = float(np.log(np.maximum(probs[np.arange(len(best)), best], _EPS)).sum())
    return Decoded("".join(chars), tuple(confs), tuple(steps), score)


@functools.lru_cache(maxsize=256)
def masks_for(classes: str) -> npt.NDArray[np.bool_]:
    """(K, 37) allowed-symbol masks (read-only) for a class string of ``L`` (letter), ``D`` (digit),
    ``A`` (either)."""
    table = {"L": LETTERS, "D": DIGITS, "A": ALNUM}
    try:
        masks = np.stack([table[c] for c in classes]) if classes else np.zeros((0, N_CLASSES), np.bool_)
    except KeyError as exc:
        raise ValueError(f"unknown character class {exc.args[0]!r} in {classes!r}") from None
    masks.flags.writeable = False
    return masks


def class_probs(probs: FloatArray, transfer: Mapping[str, FloatArray] | None = None) -> FloatArray:
    """(3, T, 37) probabilities as seen by an ``L``, a ``D`` and an ``A`` slot.

    ``transfer[cls]`` is a (37, 37) matrix moving probability between symbols for a slot of that class,
    e.g. part of the mass of ``0`` onto ``O`` in a letter slot: that is how a format corrects a confusion.
    Without one a slot sees the probabilities unchanged.
    """
    out = np.empty((3, *probs.shape), dtype=np.float32)
    for i, cls in enumerate(_CLASS_ORDER):
        matrix = None if transfer is None else transfer.get(cls)
        out[i] = probs if matrix is None else probs @ matrix
    return out


def constrained(
    probs: FloatArray,
    templates: Sequence[str],
    transfer: Mapping[str, FloatArray] | None = None,
    confidence_transfer: Mapping[str, FloatArray] | None = None,
    keep_within: float | None = None,
) -> list[Decoded | None]:
    """The best path for each template of classes (``L``/``D``/``A``); None where no path fits at all,
    or (with ``keep_within``, a log-ratio <= 0) where the template's best path scores below the best
    template's by more than that.

    ``transfer`` is as in ``class_probs`` and prices the paths. Character confidences are read from the
    probabilities as ``confidence_transfer`` sees them (default: as ``transfer`` does).

    Two shortcuts keep this fast without changing any plausible result: symbols never more likely than
    ``_MIN_PROB`` at any step are left out, and at "quiet" steps, where no symbol is that likely, paths
    can only be in a blank.
    """
    if not templates:
        return []
    seen = class_probs(probs, transfer)
    conf_seen = seen if confidence_transfer is None else class_probs(probs, confidence_transfer)
    peak = seen[:, :, 1:].max(axis=0)  # (T, 36): the likeliest view of each symbol at each step
    active = np.flatnonzero(peak.max(axis=0) >= _MIN_PROB) + 1
    if active.size == 0:
        return [None] * len(templates)
    quiet = peak.max(axis=1) < _MIN_PROB
    kmax = max(1, max(len(t) for t in templates))
    m = len(templates)
    slot_class, emit = _emissions(seen, templates, active, kmax)
    lp_blank = np.log(np.maximum(probs[:, 0], _EPS)).astype(np.float32)
    blank, char, blank_bp, char_bp = _best_paths(emit, lp_blank, quiet, kmax)
    lengths = np.array([len(t) for t in templates])
    ends = np.maximum(
        blank[np.arange(m), lengths], char[np.arange(m), np.maximum(lengths - 1, 0)].max(axis=1)
    )
    floor = _NEG / 2 if keep_within is None else max(_NEG / 2, float(ends.max()) + keep_within)
    return [
        _backtrack(conf_seen, active, slot_class[i], blank, char, blank_bp, char_bp, i, len(tpl))
        if ends[i] >= floor
        else None
        for i, tpl in enumerate(templates)
    ]


def _emissions(
    seen: FloatArray, templates: Sequence[str], active: IntArray, kmax: int
) -> tuple[IntArray, FloatArray]:
    """Each template slot's class, and emit[t, m, k, s]: the log-probability of (active) symbol s as
    character k of template m at step t (``_NEG`` where the slot's class does not allow it)."""
    m, n_sym = len(templates), active.size
    allowed = np.zeros((m, kmax, n_sym), dtype=np.bool_)
    slot_class = np.zeros((m, kmax), dtype=np.intp)
    for i, tpl in enumerate(templates):
        allowed[i, : len(tpl)] = masks_for(tpl)[:, active]
        slot_class[i, : len(tpl)] = [_CLASS_ORDER.index(c) for c in tpl]
    lp3 = np.log(np.maximum(seen[:, :, active], _EPS)).astype(np.float32)  # (3, T, S)
    emit = np.where(allowed[None], lp3[slot_class].transpose(2, 0, 1, 3), _NEG).astype(np.float32)
    return slot_class, emit


def _best_paths(
    emit: FloatArray, lp_blank: FloatArray, quiet: BoolArray, kmax: int
) -> tuple[FloatArray, FloatArray, PointerArray, PointerArray]:
    """Viterbi over every template at once: the final scores ``blank[m, k]`` (in a blank after k
    characters) and ``char[m, k, s]`` (emitting symbol s as character k), with their back-pointers."""
    steps, m, _, n_sym = emit.shape
    blank = np.full((m, kmax + 1), _NEG, dtype=np.float32)
    blank[:, 0] = lp_blank[0]
    char = np.full((m, kmax, n_sym), _NEG, dtype=np.float32)
    char[:, 0] = emit[0, :, 0]
    # Back-pointers: char: -1 stayed, -2 came from the blank, s >= 0 came from character k-1 = s;
    # blank: -2 stayed in the blank, s >= 0 came from character k-1 = s (local symbol indices).
    char_bp = np.zeros((steps, m, kmax, n_sym), dtype=np.int8)
    blank_bp = np.full((steps, m, kmax + 1), -2, dtype=np.int8)
    rows, cols = np.indices((m, kmax))
    symbols = np.arange(n_sym)
    no_char = np.full_like(char, _NEG)
    for t in range(1, steps):
        arg1 = char.argmax(axis=2)
        first = char[rows, cols, arg1]
        take_char = first > blank[:, 1:]
        new_blank = blank.copy()
        new_blank[:, 1:] = np.where(take_char, first, blank[:, 1:])
        blank_bp[t, :, 1:] = np.where(take_char, arg1, -2)
        if quiet[t]:
            blank, char = new_blank + lp_blank[t], no_char
            continue
        # Into character k with symbol s: stay, from the blank after k chars, or from char k-1 != s.
        others = char.copy()
        others[rows, cols, arg1] = _NEG
        arg2 = others.argmax(axis=2)
        second = others[rows, cols, arg2]
        prev = np.full_like(char, _NEG)
        prev_sym = np.zeros(char.shape, dtype=np.int8)
        if kmax > 1:
            same = arg1[:, :-1, None] == symbols
            prev[:, 1:] = np.where(same, second[:, :-1, None], first[:, :-1, None])
            prev_sym[:, 1:] = np.where(same, arg2[:, :-1, None], arg1[:, :-1, None])
        from_blank = blank[:, :kmax, None]
        best = np.maximum(np.maximum(char, from_blank), prev)
        char_bp[t] = np.where(best == char, -1, np.where(best == from_blank, -2, prev_sym))
        blank, char = new_blank + lp_blank[t], best + emit[t]
    return blank, char, blank_bp, char_bp


def _backtrack(
    conf_seen: FloatArray,
    active: npt.NDArray[np.intp],
    slot_class: npt.NDArray[np.intp],
    blank: FloatArray,
    char: FloatArray,
    blank_bp: npt.NDArray[np.int8],
    char_bp: npt.NDArray[np.int8],
    i: int,
    length: int,
) -> Decoded | None:
    end_blank = float(blank[i, length])
    end_char = float(char[i, length - 1].max()) if length else float(_NEG)
    score = max(end_blank, end_char)
    if score <= _NEG / 2:
        return None
    # Walk the path backwards; a state is (k, symbol) with symbol -1 meaning "blank after k characters".
    k, sym = (length, -1) if end_blank >= end_char else (length - 1, int(char[i, length - 1].argmax()))
    path: list[tuple[int, int]] = []
    for t in range(conf_seen.shape[1] - 1, -1, -1):
        path.append((k, sym))
        if t == 0:
            break
        if sym < 0:
            bp = int(blank_bp[t, i, k])
            if bp >= 0:
                k, sym = k - 1, bp
            continue
        bp = int(char_bp[t, i, k, sym])
        if bp == -2:
            sym = -1
        elif bp >= 0:
            k, sym = k - 1, bp
    path.reverse()
    chars: list[int] = []
    confs: list[float] = []
    steps: list[int] = []
    for t, (k, sym) in enumerate(path):
        if sym < 0:
            continue
        symbol = int(active[sym])
        if len(chars) == k:  # a new character starts at this step
            chars.append(symbol)
            confs.append(0.0)
            steps.append(t)
        confs[k] = max(confs[k], float(conf_seen[slot_class[k], t, symbol]))
    text = "".join(PLATE_ALPHABET[c] for c in chars)
    return Decoded(text, tuple(confs), tuple(steps), score)


def string_log_prob(seen: FloatArray, text: str, classes: str) -> float:
    """log P(text) under CTC for one ``class_probs`` matrix (3, T, 37); see ``string_log_probs``."""
    return float(string_log_probs(seen[None], [(text, classes)])[0, 0])


def string_log_probs(seen: FloatArray, items: Sequence[tuple[str, str]]) -> npt.NDArray[np.float64]:
    """log P(text) under CTC for each ``(text, classes)`` item and each of V views of one plate, (P, V):
    the sum over every alignment path (forward algorithm, log space).

    ``seen`` is (V, 3, T, 37), ``class_probs`` of each view stacked; character k of an item is scored by
    its slot class ``classes[k]`` (the format's), so corrections cost the same as in ``constrained``. As
    there, no character is emitted at a quiet step (one where no symbol reaches ``_MIN_PROB``). Items
    of one length are computed together.
    """
    out = np.empty((len(items), seen.shape[0]), dtype=np.float64)
    by_length: dict[int, list[int]] = {}
    for i, (text, classes) in enumerate(items):
        if len(text) != len(classes):
            raise ValueError(f"{text!r} and classes {classes!r} differ in length")
        by_length.setdefault(len(text), []).append(i)
    for length, indices in by_length.items():
        out[indices] = _forward(seen, [items[i] for i in indices], length)
    return out


def _forward(seen: FloatArray, items: Sequence[tuple[str, str]], length: int) -> npt.NDArray[np.float64]:
    """``string_log_probs`` for items that all have ``length`` characters."""
    blank = np.log(np.maximum(seen[:, 2, :, 0], _EPS)).astype(np.float64)  # (V, T)
    if length == 0:
        return np.repeat(blank.sum(axis=1)[None], len(items), axis=0)
    steps = seen.shape[2]
    symbols = np.array([[PLATE_ALPHABET.index(c) for c in text] for text, _ in items])  # (P, L)
    rows = np.array([[_CLASS_ORDER.index(c) for c in classes] for _, classes in items])  # (P, L)
    n = 2 * length + 1
    # Emission log-probabilities per item, view, time step and state (even states are blanks).
    chars = seen[:, rows, :, symbols]  # (P, L, V, T)
    emit = np.empty((len(items), seen.shape[0], steps, n), dtype=np.float64)
    emit[..., 0::2] = blank[None, :, :, None]
    emit[..., 1::2] = np.log(np.maximum(chars, _EPS)).transpose(0, 2, 3, 1)
    quiet = seen[:, :, :, 1:].max(axis=(1, 3)) < _MIN_PROB  # (V, T)
    # A state may skip the blank before it when it is a character different from the one before.
    skip = np.zeros((len(items), 1, n), dtype=np.bool_)
    skip[:, 0, 3::2] = symbols[:, 1:] != symbols[:, :-1]
    alpha = np.full((*emit.shape[:2], n), -np.inf)
    alpha[..., 0], alpha[..., 1] = emit[:, :, 0, 0], emit[:, :, 0, 1]
    lead = np.full((*alpha.shape[:2], 2), -np.inf)
    for t in range(1, steps):
        shifted1 = np.concatenate((lead[..., :1], alpha[..., :-1]), axis=2)
        shifted2 = np.where(skip, np.concatenate((lead, alpha[..., :-2]), axis=2), -np.inf)
        moved = np.logaddexp(np.logaddexp(alpha, shifted1), shifted2)
        if quiet[:, t].any():
            # Only blanks: each blank state gathers itself and the character just before it.
            merged = np.full_like(alpha, -np.inf)
            merged[..., 0] = alpha[..., 0]
            merged[..., 2::2] = np.logaddexp(alpha[..., 2::2], alpha[..., 1::2])
            moved = np.where(quiet[None, :, t, None], merged, moved)
        alpha = moved + emit[:, :, t]
    return np.asarray(np.logaddexp(alpha[..., -1], alpha[..., -2]))
