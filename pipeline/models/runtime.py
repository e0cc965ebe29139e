"""The one place that builds onnxruntime sessions: CPU provider, explicit threads, full graph optimisation."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def ort_session(model: Path | bytes, threads: int) -> ort.InferenceSession:
    """A CPU inference session for ``model`` (a file, or a graph's bytes) using ``threads`` intra-op
    threads and one inter-op thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only; initializer warnings are noise here
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def free_input_size(model: bytes, anchor_axis: int) -> bytes:
    """A fully convolutional graph (serialised) with its NCHW input's height and width declared free, and
    its outputs' ``anchor_axis`` (whose length follows the input's area) with them, so one session runs at
    any input size. Shapes the exporter inferred at the declared size are dropped."""
    import onnx  # only to edit the graph's declared shapes, once per load

    proto = onnx.load_model_from_string(model)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ValueError(f"expected an NCHW input, the graph declares {len(dims)} dimensions")
    for index, name in ((2, "height"), (3, "width")):
        dims[index].Clear()
        dims[index].dim_param = name
    for output in proto.graph.output:
        anchors = output.type.tensor_type.shape.dim[anchor_axis]
        anchors.Clear()
        anchors.dim_param = "anchors"
    del proto.graph.value_info[:]
    return bytes(proto.SerializeToString())
