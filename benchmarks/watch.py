"""Finding wanted plates in photos: a watch list of every labelled plate among thousands of other plates.

    python benchmarks/watch.py [--sets endtoend-us endtoend-br] [--distractors 10000] [--neighbours 0]
        [--candidates 5]

For each set the watch list holds its labelled plates and --distractors plate texts drawn from the engine's formats
of the set's country (seeded), and with --neighbours K, K texts a character away from each labelled plate (the
plates issued next to a wanted one: the hardest list there is). A labelled plate is found when a plate read over
its box is marked with its text; a false alert is a plate marked with any other text. Rows: matching the text
read only, then the candidates too, each exactly and with look-alikes (O/0, I/1, Z/2, S/5, G/6, B/8) as one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from platelab.api import Reader
from platelab.eval.environment import describe_environment
from platelab.eval.metrics import overlaps
from platelab.eval.report import format_share
from platelab.io.decode import read_image
from platelab.io.labels import normalize_plate, read_labels
from platelab.io.results import PlateResult
from platelab.predict.watch import WatchList, fold_look_alikes
from platelab.synth.formats import formats_by_country
from platelab.synth.style import select_styles

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
COUNTRY = {"endtoend-us": "us", "endtoend-br": "br"}
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"


def distractors(country: str, count: int, seed: int = 5) -> list[str]:
    """count plate texts drawn from the country's formats by their weights."""
    formats = formats_by_country(select_styles(None))[country]
    weights = np.array([f["weight"] for f in formats])
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(formats), size=count, p=weights / weights.sum())
    return ["".join(rng.choice(list(alphabet)) for alphabet in formats[i]["alphabets"]) for i in chosen]


def neighbours(plate: str, count: int, rng: np.random.Generator) -> list[str]:
    """count texts that differ from plate in one character, a letter for a letter and a digit for a digit, and
    not only by look-alikes."""
    found: set[str] = set()
    while len(found) < count:
        i = int(rng.integers(len(plate)))
        alphabet = DIGITS if plate[i].isdigit() else LETTERS
        text = plate[:i] + str(rng.choice(list(alphabet.replace(plate[i], "")))) + plate[i + 1 :]
        if fold_look_alikes(text) != fold_look_alikes(plate):
            found.add(text)
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--sets", nargs="*", default=list(COUNTRY))
    parser.add_argument("--distractors", type=int, default=10000)
    parser.add_argument("--neighbours", type=int, default=0)
    parser.add_argument("--candidates", type=int, default=5)
    args = parser.parse_args()
    print(f"{describe_environment()}\n")
    print("| set | watch list | matched on | look-alikes as one | wanted plates found | false alerts / photo |")
    print("|---|---|---|---|---|---|")
    for name in args.sets:
        country = COUNTRY[name]
        labels = read_labels(args.real / name, "photos")
        reader = Reader(prior=country, candidates=args.candidates)
        files = list(dict.fromkeys(label.file for label in labels))
        plates = {file: reader.read(read_image(args.real / name / file, name=file)) for file in files}
        listed = [label.plate for label in labels] + distractors(country, args.distractors)
        rng = np.random.default_rng(7)
        listed += [text for label in labels for text in neighbours(normalize_plate(label.plate), args.neighbours, rng)]
        for on_candidates in (False, True):
            for look_alikes in (False, True):
                watch = WatchList(listed, look_alikes=look_alikes)
                found, alerts = 0, 0
                for file in files:
                    truths = [label for label in labels if label.file == file]
                    for plate in plates[file]:
                        seen = plate if on_candidates else PlateResult(plate.text, plate.confidence, plate.chars,
                                                                      plate.box, plate.quad)
                        wanted = watch.match(seen)
                        if wanted is None:
                            continue
                        if any(normalize_plate(t.plate) == wanted and overlaps(plate.box, t.box, 0.3) for t in truths):
                            found += 1
                        else:
                            alerts += 1
                print(f"| {name} | {len(watch)} plates | {'candidates' if on_candidates else 'text read'} | "
                      f"{'yes' if look_alikes else 'no'} | {format_share(found, len(labels))} | "
                      f"{alerts / len(files):.2f} |", flush=True)


if __name__ == "__main__":
    main()
