"""The one place that builds onnxruntime sessions: CPU provider, explicit threads, full graph optimisation."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def ort_session(model: Path | bytes, threads: int) -> ort.InferenceSession:
    """A CPU inference session for ``model`` (a file, or a graph already read and edited) using
    ``threads`` intra-op threads and one inter-op thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only; initializer warnings are noise here
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
