"""Trained torch recognizer -> a self-describing ONNX file (charset, input size, formats in its metadata)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from platelab.io.atomic import atomic_path
from platelab.models.recognizer import PlateRecognizer
from platelab.synth.formats import read_as_by_country

OPSET = 17


class WithSoftmax(nn.Module):
    """The exported graph returns probabilities so the reader needs no torch-side maths."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(image), dim=-1)


def export_onnx(module: nn.Module, image_shape: tuple[int, int, int], path: Path, outputs: list[str],
                metadata: dict[str, str], any_size: bool = False) -> Path:
    """module(image) -> outputs as ONNX at path (atomically), batch size dynamic, metadata in the file.

    any_size also leaves height and width open, for fully convolutional models (the detector).
    """
    axes = {0: "batch", 2: "height", 3: "width"} if any_size else {0: "batch"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.onnx.export(
            module.cpu().eval(),
            (torch.randn(2, *image_shape),),
            str(tmp),
            input_names=["image"],
            output_names=outputs,
            dynamic_axes={name: axes for name in ["image", *outputs]},
            opset_version=OPSET,
            dynamo=False,
        )
        graph = onnx.load(str(tmp))
        for key, value in metadata.items():
            entry = graph.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(graph, str(tmp))
    return path


def export_recognizer(
    model: PlateRecognizer,
    path: Path,
    formats: dict[str, list[dict]] | None = None,
    extra: dict[str, str] | None = None,
) -> Path:
    """Write model as ONNX at path (atomically), with its charset, input size and format prior."""
    width, height = model.input_size
    metadata = {
        "platelab_task": "recognizer",
        "charset": model.charset.chars,
        "slots": str(model.charset.slots),
        "head": model.head_kind,
        "input_size": json.dumps([width, height]),
        "formats": json.dumps(formats or {}),
        "read_as": json.dumps(read_as_by_country()),
        **(extra or {}),
    }
    return export_onnx(WithSoftmax(model), (1, height, width), path, ["probs"], metadata)


def check_export(model: PlateRecognizer, path: Path, images: np.ndarray) -> float:
    """Largest absolute difference between torch and onnxruntime probabilities on images (N, 1, H, W)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = torch.softmax(model.cpu().eval()(torch.from_numpy(images)), -1).numpy()
    got = session.run(None, {"image": images})[0]
    return float(np.abs(expected - got).max())
