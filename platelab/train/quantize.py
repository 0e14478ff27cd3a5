"""A float ONNX model -> an 8-bit one (QDQ: int8 weights per channel, uint8 activations), calibrated on synthetic
inputs. On the 2-core CPU the detector takes about half its float time, the recognizer about half as well.

Some layers stay float. The detector's first convolution (it sees the raw standardised pixels) and output heads
(scores and corner offsets read as exact values): quantized too, they cost 2 to 3 of the 118 US photos' plates;
with them kept float, none. The recognizer's first convolution and its classifier, by the same reasoning:
quantized too, they read one crop of crops-us fewer (measured in docs/engine_log.md). The layers between the
outputs and the weighted layers that make them (softmax, sigmoid) compute in float as well (float_outputs).
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
# the first convolution of either backbone (the plate one's conv_bn, EfficientNet-Lite's stem) and the classifier
RECOGNIZER_KEPT_FLOAT = ("/backbone/layers/layers.0/", "/head/classify/")
WEIGHTED_OPS = ("Conv", "MatMul", "Gemm")


class _Batches(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type information: its base is Any
    def __init__(self, batches: Sequence[np.ndarray], input_name: str) -> None:
        self.feeds: Iterator[dict[str, np.ndarray]] = iter({input_name: batch} for batch in batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def quantize(source: Path, out: Path, batches: Sequence[np.ndarray], kept_float: Sequence[str]) -> list[str]:
    """Write source quantized at out (atomically), its metadata kept; batches: (N, C, H, W) float32 model inputs
    for calibration; kept_float: name parts of the weighted layers to leave float. Returns those layers' names."""
    float_model = onnx.load(str(source))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.onnx"
        # the detector's height and width are open, which symbolic shape inference cannot follow
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        kept = [node.name for node in onnx.load(str(prepared)).graph.node
                if node.op_type in WEIGHTED_OPS and any(part in node.name for part in kept_float)]
        # found by name: an exporter that names its nodes otherwise (torch's dynamo one) would quantize them all
        unmatched = [part for part in kept_float if not any(part in name for name in kept)]
        if unmatched:
            raise ValueError(f"{source}: no weighted layer named with {', '.join(map(repr, unmatched))}, which "
                             "should stay float; the export's layer names are not the ones platelab's exporter gives")
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
    """model with the quantize-dequantize pairs between its outputs and the weighted layers that make them taken
    out, in place: the outputs are then computed in float from those layers' float results. quantize_static rounds
    them otherwise: the recognizer's logits and probabilities to 256 levels (most of a frame's alternatives exactly
    0, which no prior or class scale can then raise), the detector's heat scores likewise. Measured on the shipped
    models: as many false plates, a few more plates read, each set within chance (docs/engine_log.md)."""
    graph = model.graph
    producer = {name: node for node in graph.node for name in node.output}
    weighted_inputs = {name for node in graph.node if node.op_type in WEIGHTED_OPS for name in node.input}
    outputs = [output.name for output in graph.output]
    # each output's ancestors back to the weighted layers, through layers without weights (softmax, sigmoid, bias
    # add): a dequantize there of a quantize is bypassed; one of a constant (an 8-bit bias) is the layer's own
    float_source: dict[str, str] = {}
    walked: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        node = producer.get(name)
        if name in walked or node is None or node.op_type in WEIGHTED_OPS:
            continue
        walked.add(name)
        if node.op_type == "DequantizeLinear":
            quantize = producer.get(node.input[0])
            # a weighted layer that also reads this one stays 8-bit
            if quantize is not None and quantize.op_type == "QuantizeLinear" and name not in weighted_inputs:
                float_source[node.output[0]] = quantize.input[0]
                stack.append(quantize.input[0])
            continue
        stack.extend(node.input)

    def source(name: str) -> str:
        while name in float_source:
            name = float_source[name]
        return name

    bypassed = [producer[name] for name in float_source]
    for node in bypassed:
        graph.node.remove(node)
    for node in graph.node:
        node.input[:] = [source(name) for name in node.input]
    still_read = {name for node in graph.node for name in node.input}
    for quantize in {id(producer[node.input[0]]): producer[node.input[0]] for node in bypassed}.values():
        if quantize.output[0] not in still_read:
            graph.node.remove(quantize)
    # an output that was a dequantize's takes its float source's name, or a copy of it where that tensor is an
    # output of its own or feeds another output too
    renamed: dict[str, str] = {}
    for output in outputs:
        float_name = source(output)
        if float_name == output:
            continue
        if float_name in renamed or float_name in outputs or float_name not in producer:
            graph.node.append(onnx.helper.make_node("Identity", [renamed.get(float_name, float_name)], [output]))
            continue
        renamed[float_name] = output
        for node in graph.node:
            node.input[:] = [output if name == float_name else name for name in node.input]
            node.output[:] = [output if name == float_name else name for name in node.output]
    # the pairs' scales and zero points, which onnxruntime would warn about at every load
    used = {name for node in graph.node for name in node.input}
    for initializer in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(initializer)
    onnx.checker.check_model(model)
    return model
