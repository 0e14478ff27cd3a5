"""Opening ONNX models with onnxruntime: CPU provider, thread count, and the metadata platelab writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import onnxruntime as ort


class ModelLoadError(RuntimeError):
    pass


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
