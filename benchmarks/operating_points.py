"""How the reader trades found plates against false plates: read rate and false plates per photo by threshold.

    python benchmarks/operating_points.py [--photos ../shared/data/real/endtoend-us] [--prior us]

Each photo is read once with permissive thresholds; every (minimum characters, detector score, plate confidence)
is then scored from those readings. Prints a markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from platelab.api import Reader
from platelab.eval.environment import describe_environment
from platelab.eval.metrics import score_photos
from platelab.io.decode import read_image
from platelab.io.labels import read_labels

DEFAULT_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "endtoend-us"
SCORES = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)
CONFIDENCES = (0.0, 0.01, 0.03, 0.05, 0.1, 0.2, 0.3)
MIN_CHARACTERS = (1, 4, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--prior", default=None)
    parser.add_argument("--detector", type=Path, default=None, help="detector ONNX (the bundled one by default)")
    args = parser.parse_args()
    labels = read_labels(args.photos)
    reader = Reader(args.detector, prior=args.prior, min_score=min(SCORES))
    found = {}
    for file in dict.fromkeys(label.file for label in labels):
        image = read_image(args.photos / file, name=file)
        found[file] = reader.reader.readings(image)
    print(f"{describe_environment()}\n")
    print(f"{args.photos.name}, prior {args.prior or 'none'}\n")
    print("| min characters | min detector score | min confidence | detected | read | false plates / photo |")
    print("|---|---|---|---|---|---|")
    for min_chars in MIN_CHARACTERS:
        for min_score in SCORES:
            for min_confidence in CONFIDENCES:
                kept = {
                    f: [(p.box, p.text) for s, p in plates
                        if s >= min_score and p.confidence >= min_confidence and len(p.text) >= min_chars]
                    for f, plates in found.items()
                }
                result = score_photos(labels, kept)
                print(f"| {min_chars} | {min_score} | {min_confidence} | {result.detected:.1%} | {result.read:.1%} | "
                      f"{result.false_per_photo:.2f} |")


if __name__ == "__main__":
    main()
