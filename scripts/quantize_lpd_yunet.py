"""Make the int8 LPD-YuNet (``lpd_yunet_qdq`` in configs/models.yaml) from the f32 one, calibrated on what the
detector sees in the plate reader on the shared *videos* (never the labelled benchmark photos).

onnxruntime's static quantisation, QDQ format, unsigned 8-bit activations and signed 8-bit weights per
output channel: onnxruntime runs such convolutions with its integer kernels (2-2.6 times less CPU than f32
on an AVX2 CPU without VNNI) and OpenVINO reads the same file as an int8 graph. The first convolution (raw
pixels) and the four output heads (box, corners and scores) stay in f32, where 8 bits would cost the
detector's localisation most. Calibration inputs are recorded from the f32 detector inside ``PlateReader``
(the shrunk whole frame, each candidate's close look, the large-plate look) on every third frame of each
clip, so their sizes and contents are those of real use.

    python scripts/quantize_lpd_yunet.py [--models-dir DIR] [--videos FILE ...] [--out FILE]

Prints the file's size and sha256 for the registry entry.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.models import engine as engines
from pipeline.models.runtime import free_input_size
from pipeline.plates.reader import PlateReader
from pipeline.settings.models import ModelsSettings
from pipeline.settings.plates import PlatesSettings

SHARED = Path(__file__).resolve().parents[2] / "shared"
SOURCE = "license_plate_detection_lpd_yunet_2023mar.onnx"
TARGET = "license_plate_detection_lpd_yunet_2023mar_qdq.onnx"
EVERY = 3  # every third frame of a clip
_KEPT_F32 = 4  # output heads: the convolutions whose results reach the outputs without another one


# For configs/models.yaml; then ``plates.detector.coarse_model: lpd_yunet_qdq``.
ENTRY = """  - name: lpd_yunet_qdq
    file: {file}
    task: plate_detection
    bytes: {bytes}
    sha256: {sha256}
    source:
      url: file://{path}
    licence: Apache-2.0
    commercial_use: true
    default: false
    notes: int8 (QDQ) lpd_yunet made by scripts/quantize_lpd_yunet.py; the shrunk first look only.
    validated_engines: [onnxruntime:f32]"""


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_dir = Path(os.environ.get("SAFECITY_MODELS_DIR", SHARED / "models"))
    parser.add_argument("--models-dir", type=Path, default=default_dir)
    parser.add_argument(
        "--videos", type=Path, nargs="+", default=sorted((SHARED / "media" / "video").glob("*.mp4"))
    )
    parser.add_argument("--out", type=Path, help=f"default: MODELS_DIR/{TARGET}")
    return parser.parse_args()


def frames(videos: list[Path]) -> Iterator[npt.NDArray[np.uint8]]:
    for video in videos:
        capture = cv2.VideoCapture(str(video))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % EVERY == 0:
                yield np.asarray(frame, dtype=np.uint8)
            index += 1
        capture.release()


def detector_inputs(models_dir: Path, videos: list[Path]) -> list[npt.NDArray[np.float32]]:
    """Every input the f32 detector is given while the reader detects plates in the clips' frames."""
    seen: list[npt.NDArray[np.float32]] = []
    original = engines.OnnxRuntimeEngine.run

    def recording(self: Any, feeds: Any, outputs: Any = None) -> list[Any]:
        if "input" in feeds:
            seen.append(np.array(feeds["input"], dtype=np.float32))
        return original(self, feeds, outputs)

    reader = PlateReader(PlatesSettings(), models_dir, engines=ModelsSettings(engine="onnxruntime"))
    reader.load()
    seen.clear()  # not the warm-up's zeros
    engines.OnnxRuntimeEngine.run = recording  # type: ignore[method-assign]
    try:
        for frame in frames(videos):
            reader.detect(frame)
    finally:
        engines.OnnxRuntimeEngine.run = original  # type: ignore[method-assign]
    return seen


def kept_f32(model_bytes: bytes) -> list[str]:
    """The first convolution and the output heads, by node name."""
    import onnx

    graph = onnx.load_model_from_string(model_bytes).graph
    convs = [n for n in graph.node if n.op_type == "Conv"]
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}

    def reaches_output(tensor: str) -> bool:
        if tensor in outputs:
            return True
        nexts = [n for n in consumers.get(tensor, []) if n.op_type != "Conv"]
        return any(reaches_output(out) for n in nexts for out in n.output)

    heads = [c.name for c in convs if reaches_output(c.output[0])]
    if len(heads) != _KEPT_F32:
        raise ValueError(f"expected {_KEPT_F32} output heads in LPD-YuNet, found {heads}")
    return [convs[0].name, *heads]


def quantise(source: Path, out: Path, inputs: list[npt.NDArray[np.float32]]) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._left = iter(inputs)

        def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
            blob = next(self._left, None)
            return None if blob is None else {"input": blob}

    freed = free_input_size(source.read_bytes(), 0)
    staged = out.with_suffix(".f32-free.onnx")
    staged.write_bytes(freed)
    try:
        quantize_static(
            str(staged),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=kept_f32(freed),
        )
    finally:
        staged.unlink(missing_ok=True)


def main() -> int:
    args = arguments()
    out = args.out or args.models_dir / TARGET
    inputs = detector_inputs(args.models_dir, args.videos)
    print(f"{len(inputs)} detector inputs from {len(args.videos)} clip(s)", file=sys.stderr)
    quantise(args.models_dir / SOURCE, out, inputs)
    data = out.read_bytes()
    print(ENTRY.format(file=out.name, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), path=out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
