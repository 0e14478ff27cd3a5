"""A float ONNX model -> an 8-bit one (QDQ: int8 weights per channel, uint8 activations), calibrated on synthetic
inputs. On the 2-core CPU the detector takes about half its float time, the recognizer about half as well.

Some layers stay float. The detector's first convolution (it sees the raw standardised pixels) and output heads
(scores and corner offsets read as exact values): quantized too, they cost 2 to 3 of the 118 US photos' plates;
with them kept float, none. The recognizer's first convolution and its classifier, by the same reasoning:
quantized too, they read one crop of crops-us fewer (measured in docs/engine_log.md). What follows the last
weighted layer stays float as well (float_outputs).
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
CALIBRATION_CROPS = 512
DETECTOR_KEPT_FLOAT = ("/stem/stem.0/", "/head/", "/heat/", "/corners/")
RECOGNIZER_KEPT_FLOAT = ("/backbone/layers/layers.0/layers.0.0/", "/head/classify/")
WEIGHTED_OPS = ("Conv", "MatMul", "Gemm")


class _Batches(CalibrationDataReader):
    def __init__(self, batches: Sequence[np.ndarray], input_name: str) -> None:
        self.feeds: Iterator[dict[str, np.ndarray]] = iter({input_name: batch} for batch in batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def quantize(source: Path, out: Path, batches: Sequence[np.ndarray], kept_float: Sequence[str]) -> list[str]:
    """Write source quantized at out (atomically), its metadata kept; batches: (N, C, H, W) float32 model inputs
    for calibration; kept_float: name parts of the weighted layers to leave float. Returns those layers' names."""
    float_model = onnx.load(str(source))
    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.onnx"
        # the detector's height and width are open, which symbolic shape inference cannot follow
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        kept = [node.name for node in onnx.load(str(prepared)).graph.node
                if node.op_type in WEIGHTED_OPS and any(part in node.name for part in kept_float)]
        with atomic_path(out) as temp:
            quantize_static(str(prepared), str(temp), _Batches(batches, float_model.graph.input[0].name),
                            quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, nodes_to_exclude=kept)
            quantized = float_outputs(onnx.load(str(temp)))
            del quantized.metadata_props[:]
            quantized.metadata_props.extend(float_model.metadata_props)
            onnx.save(quantized, str(temp))
    return kept


def float_outputs(model: onnx.ModelProto) -> onnx.ModelProto:
    """model with the quantize-dequantize pairs after its last weighted layer taken out, in place: the outputs are
    then computed in float from that layer's float result. quantize_static rounds them otherwise: the recognizer's
    logits and probabilities to 256 levels (most of a frame's alternatives exactly 0, which no prior or class scale
    can then raise), the detector's heat scores likewise. Measured on the shipped models: as many false plates, a
    few more plates read, each set within chance (docs/engine_log.md)."""
    nodes = list(model.graph.node)
    last = max(i for i, node in enumerate(nodes) if node.op_type in WEIGHTED_OPS)
    pairs = [node for node in nodes[last + 1 :] if node.op_type in ("QuantizeLinear", "DequantizeLinear")]
    quantized_from = {node.output[0]: node.input[0] for node in pairs if node.op_type == "QuantizeLinear"}
    dequantized = {node.output[0]: quantized_from[node.input[0]]
                   for node in pairs if node.op_type == "DequantizeLinear"}
    outputs = {output.name for output in model.graph.output}
    for node in pairs:
        model.graph.node.remove(node)
    # a graph output came from a dequantize: its float source takes the output's name
    renamed = {source: name for name, source in dequantized.items() if name in outputs}
    for node in model.graph.node:
        node.input[:] = [renamed.get(dequantized.get(name, name), dequantized.get(name, name)) for name in node.input]
        node.output[:] = [renamed.get(name, name) for name in node.output]
    # the pairs' scales and zero points, which onnxruntime would warn about at every load
    used = {name for node in model.graph.node for name in node.input}
    for initializer in [i for i in model.graph.initializer if i.name not in used]:
        model.graph.initializer.remove(initializer)
    onnx.checker.check_model(model)
    return model
