"""Adapting the recognizer to a region from labelled photos: fine-tune on half a photo set, read the other half.

    python benchmarks/finetune_photos.py [--sets endtoend-br endtoend-us] [--epochs 10] [--freeze none] [--seed 0]
        [--train-photos K] [--holdout 0.2] [--synth-share 0.5]

Each set is split by photo into two seeded halves. The bundled recognizer is fine-tuned on one half's labelled
plates, cut as the reader first cuts them (what `platelab finetune --from bundled --data PHOTOS` does; it holds
`--holdout` of them, a fifth, out to validate on), and the other half is read end to end with the bundled
recognizer (8-bit and float) and with the tuned one (float, and 8-bit as `platelab export RUN --int8` makes it);
then the halves swap, so every photo is read once by a model that never saw it. With --train-photos K, each
fine-tuning learns from K photos of its half only (drawn with the seed), the other half read as before. Each
fine-tuned 8-bit model also reads every other set given whole (with that set's prior): what a model adapted to one
region still reads elsewhere. Prints one markdown table. Needs the train extra (PyTorch).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.real_data import REAL, require_folder
from platelab.api import Reader
from platelab.eval.environment import describe_environment
from platelab.eval.metrics import PhotoScores, score_photos
from platelab.eval.report import format_share
from platelab.io.decode import read_image
from platelab.io.labels import PhotoLabel, read_labels, write_photo_labels
from platelab.predict.decode import AUTO_PRIOR
from platelab.train.config import BUNDLED
from platelab.train.finetune import FinetuneConfig, TuneConfig, export_finetune_run, finetune
from platelab.utils.boxes import Box
from platelab.weights import default_model

PRIORS = {"endtoend-us": "us", "endtoend-br": "br"}


def halves(labels: list[PhotoLabel], seed: int) -> list[set[str]]:
    files = sorted({label.file for label in labels})
    order = np.random.default_rng(seed).permutation(len(files))
    cut = len(files) // 2
    return [{files[i] for i in order[:cut]}, {files[i] for i in order[cut:]}]


def linked_half(source: Path, labels: list[PhotoLabel], files: Collection[str], folder: Path) -> Path:
    """A photo folder of the chosen files: links to the photos (never copies) and their labels."""
    folder.mkdir(parents=True)
    for file in files:
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        (folder / file).symlink_to((source / file).resolve())
    write_photo_labels(folder / "labels.tsv", [label for label in labels if label.file in files])
    return folder


def readings(folder: Path, files: Collection[str], model: Path, prior: str | None) -> dict[str, list[tuple[Box, str]]]:
    reader = Reader(recognizer=model, prior=prior)
    return {file: [(p.box, p.text) for p in reader.read(read_image(folder / file))] for file in sorted(files)}


def print_row(name: str, recognizer: str, prior: str | None, scores: PhotoScores) -> None:
    print(f"| {name} | {recognizer} | {prior or 'none'} | {scores.n_photos} | "
          f"{format_share(scores.n_read, scores.n_plates)} | {scores.false_per_photo:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--sets", nargs="*", default=["endtoend-br", "endtoend-us"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--freeze", default="none", help="backbone | none | first-K")
    parser.add_argument("--seed", type=int, default=0, help="the split into halves and the fine-tuning")
    parser.add_argument("--train-photos", type=int, help="learn from this many photos of each half (default: all)")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of them finetune validates on, not learns")
    parser.add_argument("--synth-share", type=float, default=TuneConfig().synth_share,
                        help="share of each batch that is synthetic plates")
    args = parser.parse_args()
    for name in args.sets:
        require_folder(args.real / name, "photos of cars and their labels.tsv (file, x, y, w, h, plate)")

    print(f"{describe_environment()}\n")
    print("| set | recognizer | prior | photos | read (95% interval) | false plates / photo |")
    print("|---|---|---|---|---|---|")
    labels_of = {name: read_labels(args.real / name, "photos") for name in args.sets}
    for name, labels in labels_of.items():
        source = args.real / name
        others = {other: other_labels for other, other_labels in labels_of.items() if other != name}
        predictions: dict[tuple[str, str | None], dict[str, list[tuple[Box, str]]]] = {}
        elsewhere: dict[tuple[str, int], PhotoScores] = {}
        seconds = []
        with tempfile.TemporaryDirectory() as scratch:
            for k, test in enumerate(reversed(halves(labels, args.seed))):
                train = sorted({label.file for label in labels} - test)
                if args.train_photos:
                    chosen = np.random.default_rng(args.seed).permutation(len(train))[: args.train_photos]
                    train = [train[i] for i in chosen]
                data = linked_half(source, labels, train, Path(scratch) / f"train-{k}")
                tuned = Path(scratch) / f"tuned-{k}.onnx"
                start = time.perf_counter()
                run = Path(scratch) / f"run-{k}"
                finetune(FinetuneConfig(from_run=Path(BUNDLED), data=data, out_dir=run, epochs=args.epochs,
                                        freeze=args.freeze, seed=args.seed, export=tuned, val_fraction=args.holdout,
                                        synth_share=args.synth_share))
                seconds.append(time.perf_counter() - start)
                recognizers = {"bundled 8-bit": default_model("recognizer"),
                               "bundled float": default_model("recognizer-float"), "fine-tuned float": tuned,
                               "fine-tuned 8-bit": export_finetune_run(run, Path(scratch) / f"tuned-{k}-int8.onnx",
                                                                       int8=True)}
                for model_name, model in recognizers.items():
                    for prior in (None, PRIORS.get(name), AUTO_PRIOR):
                        found = predictions.setdefault((model_name, prior), {})
                        found |= readings(source, test, model, prior)
                for other, other_labels in others.items():  # what a model adapted to one region reads elsewhere
                    elsewhere[(other, k)] = score_photos(other_labels, readings(
                        args.real / other, {label.file for label in other_labels}, recognizers["fine-tuned 8-bit"],
                        PRIORS.get(other)))
        for (model_name, prior), found in predictions.items():
            print_row(name, model_name, prior, score_photos(labels, found))
        for (other, k), scores in sorted(elsewhere.items()):
            print_row(name, f"fine-tuned 8-bit (half {k + 1}), reading all of {other}", PRIORS.get(other), scores)
        learnt = f"{args.train_photos} photos of each half" if args.train_photos else "each half"
        print(f"| {name} | fine-tuning on {learnt} took {', '.join(f'{s:.0f} s' for s in seconds)} | | | | |",
              flush=True)


if __name__ == "__main__":
    main()
