"""A float ONNX recognizer exported by platelab -> the torch model it came from, ready to train further.

The export folds each batch norm into the convolution before it, so the file holds one weight and one bias per
convolution. Those are loaded with each batch norm reset to pass its input through; the norms are then given
the statistics of their inputs on synthetic crops, rewritten so the model's outputs stay exactly the file's
while a training batch normalises as it did before the export. This is how a bundled model is fine-tuned without
the training run that made it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from platelab.models.recognizer import PlateBackbone, PlateRecognizer
from platelab.predict.charset import Charset
from platelab.synth.dataset import SyntheticCropBatches
from platelab.synth.style import select_styles

ConvNorm = tuple[nn.Conv1d | nn.Conv2d, nn.BatchNorm1d | nn.BatchNorm2d]  # a convolution and the norm after it
STATS_CROPS = 256
STATS_SEED = 7


class OnnxImportError(ValueError):
    """An ONNX file that is not a float recognizer exported by platelab."""


def graph_metadata(graph: onnx.ModelProto) -> dict[str, str]:
    """The key-value metadata platelab's exports carry (charset, head, class_scale, ...)."""
    return {entry.key: entry.value for entry in graph.metadata_props}


def recognizer_from_onnx(path: Path, stats_crops: int = STATS_CROPS) -> PlateRecognizer:
    """The torch recognizer whose softmax equals the ONNX file's output (a float export by platelab).

    stats_crops: synthetic crops the batch norms' statistics are measured on; 0 leaves each norm passing its input
    through (the same outputs in eval mode, not a model to train: enough to check that the file imports)."""
    path = Path(path)
    try:
        graph = onnx.load(str(path))
    except Exception as exc:  # onnx raises protobuf's DecodeError and others for a file that is not ONNX
        raise OnnxImportError(f"{path}: not an ONNX file ({type(exc).__name__})") from exc
    metadata = graph_metadata(graph)
    if metadata.get("platelab_task") != "recognizer":
        raise OnnxImportError(f"{path}: not a platelab recognizer (its metadata names no recognizer task)")
    if any(node.op_type in ("QuantizeLinear", "DequantizeLinear") for node in graph.graph.node):
        raise OnnxImportError(f"{path}: an 8-bit model; import the float export it was quantized from "
                              "(the bundled one is recognizer-float.onnx)")
    if not metadata.get("charset"):
        raise OnnxImportError(f"{path}: no character set in its metadata")
    charset = Charset(metadata["charset"], int(metadata.get("slots", Charset().slots)))
    model = PlateRecognizer(charset, PlateBackbone(), head=metadata.get("head", "slots"))
    if json.loads(metadata.get("input_size", "null")) != list(model.input_size):
        raise OnnxImportError(f"{path}: input size {metadata.get('input_size')} is not this version's "
                              f"{list(model.input_size)}")
    pairs = _conv_norms(model)
    _load_folded(model, pairs, graph, path)
    if stats_crops:
        _restore_batch_norms(model, pairs, stats_crops)
    return model


def _load_folded(model: PlateRecognizer, pairs: list[ConvNorm], graph: onnx.ModelProto, path: Path) -> None:
    """Each convolution's folded weight and bias, in graph order, into the model's convolutions in module order."""
    tensors = {t.name: numpy_helper.to_array(t).copy() for t in graph.graph.initializer}
    for node in graph.graph.node:  # the exporter shares equal initializers through Identity nodes
        if node.op_type == "Identity" and node.input[0] in tensors:
            tensors[node.output[0]] = tensors[node.input[0]]
    convs = [node for node in graph.graph.node if node.op_type == "Conv"]
    if len(convs) != len(pairs):
        raise OnnxImportError(f"{path}: {len(convs)} convolutions where this model has {len(pairs)}")
    for node, (conv, norm) in zip(convs, pairs):
        weight_name, *bias_name = node.input[1:3]
        if weight_name not in tensors or not all(name in tensors for name in bias_name if name):
            raise OnnxImportError(f"{path}: convolution {node.name or weight_name!r} has weights the file does not "
                                  "hold")
        weight = tensors[weight_name]
        # an exporter may leave out a bias that is all zeros (torch's dynamo exporter does)
        bias = tensors[bias_name[0]] if bias_name and bias_name[0] else np.zeros(weight.shape[0], np.float32)
        _check_shape(path, "a convolution", weight, conv.weight)
        assert norm.running_mean is not None and norm.running_var is not None  # conv_bn's norms track statistics
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(weight))
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.from_numpy(bias))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
    weight, bias = _output_layer(graph, tensors)
    _check_shape(path, "an output layer", weight, model.head.classify.weight)
    with torch.no_grad():
        model.head.classify.weight.copy_(torch.from_numpy(weight))
        model.head.classify.bias.copy_(torch.from_numpy(bias))


def _output_layer(graph: onnx.ModelProto, tensors: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's (out, in) weight and bias: a Gemm (slots head) or a MatMul and an Add (ctc head)."""
    for node in graph.graph.node:
        if node.op_type == "Gemm":
            transposed = any(a.name == "transB" and a.i == 1 for a in node.attribute)
            weight = tensors[node.input[1]]
            return (weight if transposed else np.ascontiguousarray(weight.T)), tensors[node.input[2]]
        if node.op_type == "MatMul":
            add = next(n for n in graph.graph.node if n.op_type == "Add" and node.output[0] in n.input)
            bias = next(tensors[name] for name in add.input if name in tensors)
            return np.ascontiguousarray(tensors[node.input[1]].T), bias
    raise OnnxImportError("no output layer (Gemm or MatMul) in the graph")


def _check_shape(path: Path, what: str, weight: np.ndarray, own: torch.Tensor) -> None:
    if tuple(weight.shape) != tuple(own.shape):
        raise OnnxImportError(f"{path}: {what} of shape {list(weight.shape)} where this model has {list(own.shape)}")


def _conv_norms(model: nn.Module) -> list[ConvNorm]:
    """Every convolution with the batch norm that follows it, in the order the forward pass runs them."""
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    return list(zip(convs, norms))


def _restore_batch_norms(model: PlateRecognizer, pairs: list[ConvNorm], crops: int) -> None:
    """Give every norm its input's mean and spread on synthetic crops, keeping the eval-mode outputs unchanged.

    A norm reset to pass through maps y to y + b. With running mean m, running variance s^2 - eps, scale s and
    shift m + b it maps y to (y - m) / s * s + m + b, the same; a training batch then normalises by nearly m and s.
    """
    data = SyntheticCropBatches(select_styles(None), model.charset, crops, STATS_SEED)
    images, _ = data.render_batch(0)
    moments: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep_moments(index: int) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def hook(_: nn.Module, __: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            dims = [d for d in range(output.dim()) if d != 1]
            moments[index] = (output.mean(dims), output.var(dims, unbiased=False))
        return hook

    handles = [conv.register_forward_hook(keep_moments(i)) for i, (conv, _) in enumerate(pairs)]
    model.eval()
    with torch.no_grad():
        model(images)
        for handle in handles:
            handle.remove()
        for i, (_, norm) in enumerate(pairs):
            mean, var = moments[i]
            assert norm.running_mean is not None and norm.running_var is not None  # as in _load_folded
            var = var.clamp_min(norm.eps * 2)  # a dead channel keeps a positive running variance
            spread = var.sqrt()
            norm.bias.add_(mean)
            norm.weight.copy_(spread)
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var - norm.eps)
