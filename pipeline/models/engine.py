"""Inference engines behind one interface: onnxruntime (f32) or OpenVINO (f32 or bf16), CPU only.

Every model class runs its graph through an ``Engine``: input and output names, ``run(feeds)`` → the
outputs in the graph's order, and the graph's metadata. Both engines are safe to call from several
threads at once: an onnxruntime session is; OpenVINO's compiled model is shared and each thread gets its
own infer request (a request is not thread-safe), which runs in the calling thread.

OpenVINO in bf16 costs a third of onnxruntime's CPU on processors that compute bf16 natively (AMX,
AVX512-BF16): LPD-YuNet 28.6 against 88.8 ms at 704x416, PP-OCRv6 9.5 against 25.6 ms per plate crop,
MobileFaceNet 1.4 against 4.5 ms per face (one thread, README "Inference engines"). ``choose`` resolves
the settings' ``auto`` to it there, and to onnxruntime elsewhere or when ``openvino`` cannot be imported.

Graphs whose input size is free (the YuNet detectors, PP-OCR's width and batch) are compiled once with
dynamic dimensions; a shape that keeps coming back (a camera's frame, the plate detector's 320x240 close
look) gets its own static compilation in the background, 10-25 % cheaper per run (``_Shapes``).
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from pipeline.models.runtime import free_input_size, ort_session
from pipeline.settings.models import ModelsSettings

if TYPE_CHECKING:
    import openvino

log = logging.getLogger(__name__)

EngineName = Literal["onnxruntime", "openvino"]
Precision = Literal["f32", "bf16"]
Array = npt.NDArray[Any]
ShapeKey = tuple[tuple[int, ...], ...]

STATIC_AFTER = 8
"""Runs at one input shape after which that shape gets its own static compilation (in the background)."""
MAX_STATIC = 6
"""Static compilations per model, the first shapes to recur (a camera's frame, the close looks, the usual
plate widths); beyond that the dynamic compilation serves. None is dropped for a newer one: with many
recurring shapes (photos of every size) that would compile forever."""
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
AUTO_ONNXRUNTIME = frozenset({"yunet"})
"""Models that ``auto`` keeps on onnxruntime even where OpenVINO computes bf16: YuNet runs at a new size
almost every call (a photo's, a face's region), where OpenVINO costs more (enrolment's detection and
re-detection 38.6-43.3 against 20.3-22.0 ms per photo, 2026-12-07); only at a camera's fixed frame size is
it cheaper (864x480: 12.8 against 18.9 ms). ``models.per_model`` can still ask for it."""


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """A concrete engine and the precision it computes in (onnxruntime computes in f32 only)."""

    engine: EngineName = "onnxruntime"
    precision: Precision = "f32"

    def __post_init__(self) -> None:
        if self.engine == "onnxruntime" and self.precision != "f32":
            raise ValueError("onnxruntime runs these models in f32 only; bf16 needs engine openvino")

    def __str__(self) -> str:
        return f"{self.engine}:{self.precision}"


class Engine(Protocol):
    spec: EngineSpec
    inputs: list[str]
    outputs: list[str]

    def run(self, feeds: Mapping[str, Array], outputs: Sequence[str] | None = None) -> list[Array]:
        """The named outputs (default: all, in the graph's order) for one set of inputs."""
        ...

    def metadata(self, key: str) -> str | None:
        """A value of the graph's metadata (ONNX ``metadata_props``), None when absent."""
        ...


@functools.lru_cache(maxsize=1)
def openvino_available() -> bool:
    """Whether ``openvino`` imports here (its wheel exists for x86-64 and arm64 Linux, macOS, Windows)."""
    if "gi.repository.Gst" in sys.modules and "openvino" not in sys.modules:
        # OpenVINO's CPU plugin loaded after camera_sim's GStreamer RTSP server crashes the process
        # (segmentation fault in Core(), 2026.4.1); loaded before it, both work. Workers load no GStreamer.
        log.warning("GStreamer is loaded in this process: every model runs with onnxruntime")
        return False
    try:
        import openvino  # noqa: F401
    except ImportError as exc:
        log.warning("openvino cannot be imported (%s): every model runs with onnxruntime", exc)
        return False
    return True


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX or AVX512-BF16) and OpenVINO will use it."""
    if not openvino_available():
        return False
    if "BF16" not in _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # not Linux: OpenVINO's own capability list is all there is
    return any(flag in flags for flag in _BF16_FLAGS)


def choose(engine: str = "onnxruntime", precision: str = "auto") -> EngineSpec:
    """The engine a model runs with, from the settings' names (``auto`` resolved on this machine).

    ``auto``: OpenVINO in bf16 when it imports and the CPU computes bf16 natively (OpenVINO in f32 is no
    cheaper than onnxruntime), otherwise onnxruntime. ``openvino`` asked for but not importable falls back
    to onnxruntime (logged once)."""
    if engine not in ("auto", "onnxruntime", "openvino") or precision not in ("auto", "f32", "bf16"):
        raise ValueError(f"unknown engine {engine!r} or precision {precision!r}")
    if engine == "onnxruntime":
        return EngineSpec("onnxruntime", "f32")
    if engine == "auto" and not native_bf16():
        return EngineSpec("onnxruntime", "f32")
    if not openvino_available():
        return EngineSpec("onnxruntime", "f32")
    if precision == "auto":
        return EngineSpec("openvino", "bf16" if native_bf16() else "f32")
    return EngineSpec("openvino", "bf16" if precision == "bf16" else "f32")


def engine_for(models: ModelsSettings, name: str) -> EngineSpec:
    """The engine the model ``name`` (a registry name) runs with under the ``models`` settings."""
    engine, precision = models.for_model(name)
    if engine == "auto" and name in AUTO_ONNXRUNTIME:
        engine = "onnxruntime"
    return choose(engine, precision)


def open_engine(path: Path, threads: int, spec: EngineSpec, free_size_axis: int | None = None) -> Engine:
    """An engine running the graph in ``path`` on ``threads`` threads per run. ``free_size_axis``: the
    graph is fully convolutional and its NCHW input's height and width are freed (onnxruntime: with the
    outputs' ``free_size_axis``, which follows the input's area; OpenVINO re-infers the shapes itself)."""
    if spec.engine == "openvino":
        return OpenVinoEngine(path, threads, spec, free_size=free_size_axis is not None)
    return OnnxRuntimeEngine(path, threads, free_size_axis)


class OnnxRuntimeEngine:
    """One onnxruntime session (thread-safe)."""

    def __init__(self, path: Path, threads: int, free_size_axis: int | None = None) -> None:
        self.spec = EngineSpec("onnxruntime", "f32")
        source = path if free_size_axis is None else free_input_size(path.read_bytes(), free_size_axis)
        self._session = ort_session(source, threads)
        self.inputs = [i.name for i in self._session.get_inputs()]
        self.outputs = [o.name for o in self._session.get_outputs()]

    def run(self, feeds: Mapping[str, Array], outputs: Sequence[str] | None = None) -> list[Array]:
        names = list(outputs) if outputs is not None else None
        return [np.asarray(a) for a in self._session.run(names, dict(feeds))]

    def metadata(self, key: str) -> str | None:
        value = self._session.get_modelmeta().custom_metadata_map.get(key)
        return None if value is None else str(value)


@functools.lru_cache(maxsize=1)
def _core() -> openvino.Core:
    import openvino

    return openvino.Core()


@functools.lru_cache(maxsize=1)
def _compiler() -> ThreadPoolExecutor:
    """One background thread per process compiles static shapes, one at a time."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="openvino-compile")


class OpenVinoEngine:
    """One OpenVINO model compiled for the CPU, shared by every thread, each with its own request."""

    def __init__(self, path: Path, threads: int, spec: EngineSpec, free_size: bool = False) -> None:
        import openvino

        self.spec = spec
        model = _core().read_model(str(path))
        if free_size:
            dims = model.inputs[0].get_partial_shape()
            if dims.rank.get_length() != 4:
                raise ValueError(f"expected an NCHW input, {path.name} declares {dims}")
            model.reshape({model.inputs[0]: openvino.PartialShape([dims[0], dims[1], -1, -1])})
        self._model = model
        self._config: dict[str, Any] = {
            "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": spec.precision,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,  # runs in the calling thread; concurrent requests do not wait for each other
            "ENABLE_CPU_PINNING": False,  # several processes share the cores
        }
        self.inputs = [p.any_name for p in model.inputs]
        self.outputs = [p.any_name for p in model.outputs]
        self._shapes = _Shapes(self._compile) if model.is_dynamic() else None
        self._compiled = _core().compile_model(model, "CPU", self._config)
        self._local = threading.local()

    def run(self, feeds: Mapping[str, Array], outputs: Sequence[str] | None = None) -> list[Array]:
        arrays = [np.ascontiguousarray(feeds[name]) for name in self.inputs]
        key: ShapeKey = tuple(a.shape for a in arrays)
        compiled = (self._shapes.get(key) if self._shapes is not None else None) or self._compiled
        result = self._request(key, compiled).infer(arrays, share_inputs=True)
        wanted = self.outputs if outputs is None else list(outputs)
        return [np.array(result[self.outputs.index(name)]) for name in wanted]

    def metadata(self, key: str) -> str | None:
        if not self._model.has_rt_info(["framework", key]):
            return None
        return str(self._model.get_rt_info(["framework", key]).value)

    def _request(self, key: ShapeKey, compiled: openvino.CompiledModel) -> openvino.InferRequest:
        requests: dict[ShapeKey | None, tuple[Any, Any]] | None = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        slot = key if compiled is not self._compiled else None
        held = requests.get(slot)
        if held is None or held[0] is not compiled:
            held = requests[slot] = (compiled, compiled.create_infer_request())
        return held[1]

    def _compile(self, key: ShapeKey) -> openvino.CompiledModel:
        import openvino

        model = self._model.clone()
        shapes = zip(model.inputs, key, strict=True)
        model.reshape({port: openvino.PartialShape(list(shape)) for port, shape in shapes})
        return _core().compile_model(model, "CPU", self._config)


class _Shapes:
    """Static compilations of a dynamic model for shapes it runs at often: a shape seen ``STATIC_AFTER``
    times is compiled in the background (the dynamic compilation serves meanwhile), ``MAX_STATIC`` at most."""

    def __init__(self, compile_shape: Callable[[ShapeKey], Any]) -> None:
        self._compile_shape = compile_shape
        self._seen: Counter[ShapeKey] = Counter()
        self._ready: dict[ShapeKey, Any] = {}
        self._pending: dict[ShapeKey, Future[None]] = {}
        self._failed: set[ShapeKey] = set()
        self._lock = threading.Lock()

    def get(self, key: ShapeKey) -> Any | None:
        with self._lock:
            compiled = self._ready.get(key)
            if compiled is not None or len(self._ready) + len(self._pending) >= MAX_STATIC:
                return compiled
            self._seen[key] += 1
            if self._seen[key] >= STATIC_AFTER and key not in self._pending and key not in self._failed:
                self._pending[key] = _compiler().submit(self._build, key)
            if len(self._seen) > 64 * MAX_STATIC:  # many one-off shapes (photos): count afresh
                self._seen = Counter({k: n for k, n in self._seen.items() if n > 1})
        return None

    def _build(self, key: ShapeKey) -> None:
        try:
            compiled = self._compile_shape(key)
        except Exception:  # the dynamic compilation keeps serving this shape
            log.exception("static compilation for input shape %s failed", key)
            compiled = None
        with self._lock:
            self._pending.pop(key, None)
            self._seen.pop(key, None)
            if compiled is None:
                self._failed.add(key)
            else:
                self._ready[key] = compiled
