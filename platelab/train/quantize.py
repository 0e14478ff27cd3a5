"""A float ONNX detector -> an 8-bit one (QDQ: int8 weights per channel, uint8 activations), calibrated on
synthetic scenes. On the 2-core CPU it takes about half the detector's time for the same real plates.

The first convolution (it sees the raw standardised pixels) and the output heads (scores and corner offsets read
as exact values) stay float: quantized too, they cost 2 to 3 of the 118 US photos' plates; with them kept float,
none (measured in docs/engine_log.md).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from platelab.io.atomic import atomic_path

CALIBRATION_SCENES = 256
KEPT_FLOAT = ("/stem/stem.0/", "/head/", "/heat/", "/corners/")


class _Images(CalibrationDataReader):
    def __init__(self, images: Sequence[np.ndarray], input_name: str) -> None:
        self.feeds: Iterator[dict[str, np.ndarray]] = iter({input_name: image[None]} for image in images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def quantize_detector(source: Path, out: Path, images: Sequence[np.ndarray]) -> list[str]:
    """Write source quantized at out (atomically), its metadata kept; images: (1, H, W) float32 model inputs
    for calibration. Returns the names of the layers kept float."""
    float_model = onnx.load(str(source))
    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.onnx"
        # the detector's height and width are open, which symbolic shape inference cannot follow
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        kept = [node.name for node in onnx.load(str(prepared)).graph.node
                if node.op_type == "Conv" and any(part in node.name for part in KEPT_FLOAT)]
        with atomic_path(out) as temp:
            quantize_static(str(prepared), str(temp), _Images(images, float_model.graph.input[0].name),
                            quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, nodes_to_exclude=kept)
            quantized = onnx.load(str(temp))
            del quantized.metadata_props[:]
            quantized.metadata_props.extend(float_model.metadata_props)
            onnx.save(quantized, str(temp))
    return kept
