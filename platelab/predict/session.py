"""Opening ONNX models with onnxruntime: CPU provider, thread count, and the metadata platelab writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnxruntime as ort


class ModelLoadError(RuntimeError):
    pass


class ModelOutputError(ModelLoadError):
    """A model whose outputs platelab cannot read (NaN, or probabilities outside 0..1), found on the first image:
    a ModelLoadError, as the model is as unusable as one that does not load, and whoever catches that catches it."""


def load_session(path: Path, task: str, threads: int = 0) -> tuple[ort.InferenceSession, dict[str, str]]:
    """Session and its metadata for a platelab model of a task ("recognizer", "detector"); threads = 0 lets
    onnxruntime use every core."""
    session = _open(path, threads)
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    found = metadata.get("platelab_task")
    if found != task:
        # platelab's export names each model's task; a detector given as a recognizer (or any other network)
        # would only fail later, on the first image, with an error that names neither
        what = f"a platelab {found}" if found else _NOT_PLATELABS
        raise ModelLoadError(f"{path}: not a {task} model: it is {what}")
    return session, metadata


_NOT_PLATELABS = "not exported by platelab (no platelab_task metadata)"


def model_metadata(path: Path) -> dict[str, str]:
    """The metadata a platelab model carries (its platelab_task, charset, formats, ...), whatever its task; a
    ModelLoadError for another network, as load_session gives."""
    metadata = dict(_open(path, 1).get_modelmeta().custom_metadata_map)
    if "platelab_task" not in metadata:
        raise ModelLoadError(f"{path}: not a platelab model: it is {_NOT_PLATELABS}")
    return metadata


def _open(path: Path, threads: int) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelLoadError(f"{path}: not a usable ONNX model: {exc}") from exc


@contextmanager
def metadata_read(path: Path) -> Iterator[None]:
    """Around reading a model's metadata: a field that is missing or malformed (a file edited by hand, or exported by
    another version) fails the load in one line naming the model, not on the first image or with a traceback."""
    try:
        yield
    except KeyError as exc:
        raise ModelLoadError(f"{path}: no {exc.args[0]!r} in its platelab metadata") from exc
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path}: malformed platelab metadata ({reason})") from exc


def size_pair(values: object, what: str) -> tuple[int, int]:
    """values as two positive integers (a height and width), or ValueError naming what they are."""
    if not isinstance(values, list | tuple) or len(values) != 2:
        raise ValueError(f"{what} is not two numbers: {values!r}")
    height, width = values
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (height, width)):
        raise ValueError(f"{what} is not two positive integers: {values!r}")
    return height, width


# Float outputs may round an ulp past 0 or 1, and 8-bit ones are steps of 1/255: within this they are probabilities.
PROBABILITY_SLACK = 1e-3
# 8-bit outputs round each class's probability by up to 1/510, and those under it to 0: a softmax's total drifts by
# up to (classes - 1) / 510 that way (0.07 for the shipped 37 classes), a network giving no distribution by far more.
TOTAL_SLACK = 0.25


def checked_probabilities(path: Path, values: np.ndarray, what: str, totals: bool = False) -> np.ndarray:
    """values, the probabilities the model at path gave as its `what`, clipped to 0..1; with totals, each along the
    last axis sums to 1 (a softmax's). A network exported without its final softmax or sigmoid gives logits, whose
    products are no confidence, and one whose training diverged gives NaN, which every comparison with a threshold
    passes over: either way the reader would report nonsense or nothing, so a ModelOutputError naming the model."""
    checked_finite(path, values, what)
    if not values.size:
        return values
    low, high = float(values.min()), float(values.max())
    if low < -PROBABILITY_SLACK or high > 1 + PROBABILITY_SLACK:
        raise ModelOutputError(f"{path}: gave {what} from {low:g} to {high:g}, outside 0 to 1 (was it exported "
                               "without its final softmax or sigmoid?)")
    if totals:
        sums = values.sum(-1)
        if np.abs(sums - 1).max() > TOTAL_SLACK:
            raise ModelOutputError(f"{path}: gave {what} whose totals at each place run from {float(sums.min()):g} "
                                   f"to {float(sums.max()):g}, not 1 as a softmax's do")
    clipped: np.ndarray = np.clip(values, 0, 1)
    return clipped


def checked_finite(path: Path, values: np.ndarray, what: str) -> None:
    """A ModelOutputError naming the model at path where its `what` holds NaN or infinite values."""
    if not np.isfinite(values).all():
        raise ModelOutputError(f"{path}: gave NaN or infinite {what}: the model does not work (did its training "
                               "diverge, or its export overflow?)")
