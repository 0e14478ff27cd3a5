"""Which country's plate formats each reading fits (`PlateResult.fits`), on the real sets, under each set's country
and under `--prior auto`.

    python benchmarks/fits.py [--real ../shared/data/real]

A row counts a set's readings by what they are and the country they fit: crops read right or wrong; on photos,
plates read right over their labelled box, misread over it, and false plates (over no labelled plate). Under the
set's own country a reading that fits none of its formats is one the formats cannot explain; under `auto` the
country is the one whose formats the text fits best, which says little of where a plate was issued.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from platelab.api import Reader, Recognizer
from platelab.eval.environment import describe_environment
from platelab.eval.metrics import overlaps
from platelab.io.decode import read_image
from platelab.io.labels import CropLabel, PhotoLabel, labelled_file, normalize_plate, read_labels, read_photo_set
from platelab.io.results import PlateResult
from platelab.predict.decode import AUTO_PRIOR

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
COUNTRY = {"crops-us": "us", "endtoend-us": "us", "endtoend-br": "br"}
NO_FORMAT = "none"


def crop_kinds(folder: Path, labels: list[CropLabel], prior: str) -> Counter[tuple[str, str]]:
    images = [read_image(labelled_file(folder, label.file)) for label in labels]
    readings = Recognizer(prior=prior).read(images)
    return Counter(("right" if reading.text == normalize_plate(label.plate) else "misread", reading.fits or NO_FORMAT)
                   for reading, label in zip(readings, labels))


def _kind(plate: PlateResult, truths: list[PhotoLabel]) -> str:
    over = [truth for truth in truths if overlaps(plate.box, truth.box, 0.3)]
    if not over:
        return "false"
    return "right" if any(plate.text == normalize_plate(truth.plate) for truth in over) else "misread"


def photo_kinds(folder: Path, prior: str) -> Counter[tuple[str, str]]:
    labels, files = read_photo_set(folder)
    reader = Reader(prior=prior)
    kinds: Counter[tuple[str, str]] = Counter()
    for file in files:
        truths = [label for label in labels if label.file == file]
        for plate in reader.read(read_image(labelled_file(folder, file), name=file)):
            kinds[(_kind(plate, truths), plate.fits or NO_FORMAT)] += 1
    return kinds


def _countries(kinds: Counter[tuple[str, str]], kind: str) -> str:
    fitted = Counter({country: n for (k, country), n in kinds.items() if k == kind})
    return ", ".join(f"{country} {n}" for country, n in fitted.most_common()) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--sets", nargs="*", default=list(COUNTRY))
    args = parser.parse_args()
    print(f"{describe_environment()}\n")
    print("| set | prior | read right: fits | misread: fits | false plates: fits |")
    print("|---|---|---|---|---|")
    for name in args.sets:
        folder = args.real / name
        for prior in (COUNTRY[name], AUTO_PRIOR):
            kinds = (crop_kinds(folder, read_labels(folder, "crops"), prior) if name.startswith("crops")
                     else photo_kinds(folder, prior))
            print(f"| {name} | {prior} | {_countries(kinds, 'right')} | {_countries(kinds, 'misread')} | "
                  f"{_countries(kinds, 'false')} |", flush=True)


if __name__ == "__main__":
    main()
