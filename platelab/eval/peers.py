"""Other readers measured beside platelab in the same run (installed from the dev extra, imported lazily)."""

from __future__ import annotations

import glob
import re

import numpy as np

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
