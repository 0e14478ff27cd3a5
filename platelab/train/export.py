"""Trained torch recognizer -> a self-describing ONNX file (charset, input size, formats in its metadata)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from platelab.io.atomic import atomic_path
from platelab.io.decode import first_line
from platelab.models.recognizer import PlateRecognizer
from platelab.synth.formats import read_as_by_country

OPSET = 17
# torch and onnxruntime sum in different orders, so a float32 graph agrees with its model to a few float32 steps of
# its outputs (probabilities and heat scores in [0, 1], log-encoded corners of about 5 at most): the shipped models
# measure 5e-6 to 7e-6. A conversion that changes the computation misses by orders of magnitude more.
EXPORT_TOLERANCE = 1e-4


class ExportMismatch(ValueError):
    """An exported graph whose outputs are not its torch model's; it is not written."""


class ExportWriteError(ValueError):
    """A trained run whose model could not be written where asked; the run is kept."""


@contextmanager
def exporting_trained_run(run: Path, out: Path) -> Iterator[None]:
    """An OSError while a run just trained is exported to out, as one line naming out, its cause, and how to
    export the run (kept) once there is somewhere to write it."""
    try:
        yield
    except OSError as exc:
        cause = exc.strerror or first_line(exc)
        if exc.filename is not None and Path(exc.filename) != out:  # the card beside it, or a file it reads
            cause = f"{exc.filename}: {cause}"
        raise ExportWriteError(f"{out}: not written ({cause}); the run is kept: platelab export {run} --out FILE"
                               ) from exc


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
            # The torch.export-based exporter (PyTorch 2.9's default) gives the same outputs, size and speed here
            # (measured with torch 2.13), but names its nodes node_Conv_40, ...: the 8-bit export finds the layers
            # it keeps float by their module path, and this one writes it only with stack traces beside it.
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
    formats: dict[str, list[dict[str, Any]]] | None = None,
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


def require_agreement(max_diff: float, out: Path) -> float:
    """max_diff (torch vs the exported float graph, as check_export measures it) if within EXPORT_TOLERANCE, else
    ExportMismatch naming out, the file that is therefore not written."""
    if not max_diff <= EXPORT_TOLERANCE:  # NaN too
        raise ExportMismatch(f"{out}: not written: the ONNX graph's outputs differ from torch's by up to "
                             f"{max_diff:.3g} (tolerance {EXPORT_TOLERANCE:g}); the conversion is wrong")
    return max_diff


def publish(checked: Path, out: Path) -> Path:
    """Copy a checked export onto out atomically; a copy, as checked may lie on another file system."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temp:
        shutil.copyfile(checked, temp)
    return out
