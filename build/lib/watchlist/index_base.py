"""What every face-index backend shares: the ``FaceIndex`` protocol, its snapshot state, small helpers.

``IndexState`` is what a snapshot stores of an index: the FAISS structure as FAISS serialises it plus
the plain arrays the backend keeps beside it (id maps, live masks, exact vectors). Restoring one costs a
read, not a rebuild: no vector is added or trained again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import faiss
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class IndexState:
    """A backend's content: ``kind`` is its settings ``type``; ``faiss_index`` may be None (untrained)."""

    kind: str
    faiss_index: faiss.Index | None
    arrays: Mapping[str, npt.NDArray[Any]] = field(default_factory=dict)


class FaceIndex(Protocol):
    dim: int

    def add(self, ids: Sequence[int] | IdArray, vectors: FloatArray) -> None: ...

    def remove(self, ids: Sequence[int] | IdArray) -> int: ...

    def search(self, vectors: FloatArray, k: int) -> tuple[FloatArray, IdArray]: ...

    def export_state(self) -> IndexState: ...

    def __len__(self) -> int: ...


class StateError(ValueError):
    """A snapshot's index state does not fit the backend (wrong kind, missing or inconsistent arrays)."""


def prepare(ids: Sequence[int] | IdArray, vectors: FloatArray, dim: int) -> tuple[IdArray, FloatArray]:
    id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
    matrix = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    if len(id_array) != len(matrix):
        raise ValueError(f"{len(id_array)} ids for {len(matrix)} vectors")
    if len(np.unique(id_array)) != len(id_array):
        raise ValueError("duplicate ids in one add()")
    return id_array, matrix


def as_queries(vectors: FloatArray, dim: int) -> FloatArray:
    return np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)


def no_results(n: int, k: int) -> tuple[FloatArray, IdArray]:
    return np.full((n, k), -np.inf, dtype=np.float32), np.full((n, k), -1, dtype=np.int64)


def state_array(state: IndexState, name: str, dtype: type[np.generic], kind: str) -> npt.NDArray[Any]:
    """``state.arrays[name]`` as ``dtype``, or StateError if the state is not of ``kind`` or lacks it."""
    if state.kind != kind:
        raise StateError(f"a {state.kind!r} index state cannot restore a {kind!r} index")
    array = state.arrays.get(name)
    if array is None:
        raise StateError(f"the {kind!r} index state has no {name!r} array")
    return np.asarray(array).astype(dtype, copy=False)
