"""Opening ONNX models with onnxruntime: CPU provider, thread count, and the metadata platelab writes."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


class ModelLoadError(RuntimeError):
    pass


def load_session(path: Path, threads: int = 0) -> tuple[ort.InferenceSession, dict[str, str]]:
    """Session and its metadata; threads = 0 lets onnxruntime use every core."""
    if not path.is_file():
        raise ModelLoadError(f"{path}: model file not found")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelLoadError(f"{path}: not a usable ONNX model: {exc}") from exc
    return session, dict(session.get_modelmeta().custom_metadata_map)
