"""Reading plates in whole photos: platelab beside RapidOCR (PP-OCRv4 detector + recogniser), same photos, one run.

    python benchmarks/endtoend.py [--sets endtoend-us endtoend-br] [--no-rapidocr]

A labelled plate counts as read when a predicted plate overlaps its box and has its text. RapidOCR is a general
text reader: its lines are kept when they look like a plate (4 to 8 letters and digits once spaces and dashes go).
Prints one markdown table: detection recall, end-to-end accuracy, false plates per photo and ms per photo.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from platelab.api import Reader
from platelab.eval.metrics import score_photos
from platelab.io.decode import read_image
from platelab.io.labels import normalize_plate, read_labels

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
PLATE_LIKE = re.compile(r"^[A-Z0-9]{4,8}$")
Box = tuple[int, int, int, int]
Predict = Callable[[np.ndarray], list[tuple[Box, str]]]


def platelab_reader(prior: str | None) -> Predict:
    reader = Reader(prior=prior)
    return lambda image: [(p.box, p.text) for p in reader.read(image)]


def rapidocr_reader() -> Predict:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()

    def predict(image: np.ndarray) -> list[tuple[Box, str]]:
        found, _ = engine(image)
        plates = []
        for points, text, _score in found or []:
            plate = normalize_plate(text)
            if PLATE_LIKE.match(plate):
                xy = np.asarray(points, np.float32)
                x0, y0 = xy.min(0)
                x1, y1 = xy.max(0)
                plates.append(((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), plate))
        return plates

    return predict


def run(folder: Path, predict: Predict) -> tuple[dict, float]:
    labels = read_labels(folder)
    predictions, seconds = {}, 0.0
    for file in dict.fromkeys(label.file for label in labels):
        image = read_image(folder / file, name=file)
        start = time.perf_counter()
        predictions[file] = predict(image)
        seconds += time.perf_counter() - start
    return score_photos(labels, predictions), 1000 * seconds / max(len(predictions), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--sets", nargs="*", default=["endtoend-us", "endtoend-br"])
    parser.add_argument("--no-rapidocr", action="store_true")
    args = parser.parse_args()
    priors = {"endtoend-us": "us", "endtoend-br": "br"}
    print("| set | reader | photos | detected | read | false plates / photo | ms / photo |")
    print("|---|---|---|---|---|---|---|")
    for name in args.sets:
        folder = args.real / name
        readers: list[tuple[str, Predict]] = [("platelab (no prior)", platelab_reader(None))]
        if name in priors:
            readers.append((f"platelab (prior: {priors[name]})", platelab_reader(priors[name])))
        if not args.no_rapidocr:
            readers.append(("RapidOCR PP-OCRv4", rapidocr_reader()))
        for reader_name, predict in readers:
            scores, ms = run(folder, predict)
            print(f"| {name} | {reader_name} | {scores.n_photos} | {scores.detected:.1%} | {scores.read:.1%} | "
                  f"{scores.false_per_photo:.2f} | {ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()
