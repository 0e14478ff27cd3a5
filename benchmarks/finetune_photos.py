"""Adapting the recognizer to a region from labelled photos: fine-tune on half a photo set, read the other half.

    python benchmarks/finetune_photos.py [--sets endtoend-br endtoend-us] [--epochs 10] [--freeze none] [--seed 0]
        [--train-photos K] [--holdout 0.2]

Each set is split by photo into two seeded halves. The bundled recognizer is fine-tuned on one half's labelled
plates, cut as the reader first cuts them (what `platelab finetune --from bundled --data PHOTOS` does; it holds
`--holdout` of them, a fifth, out to validate on), and the other half is read end to end with the bundled
recognizer (8-bit and float) and with the tuned one (float, and 8-bit as `platelab export RUN --int8` makes it);
then the halves swap, so every photo is read once by a model that never saw it. With --train-photos K, each
fine-tuning learns from K photos of its half only (drawn with the seed), the other half read as before. Prints
one markdown table. Needs the train extra (PyTorch).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

import numpy as np

from platelab.api import Reader
from platelab.eval.environment import describe_environment
from platelab.eval.metrics import score_photos
from platelab.eval.report import format_share
from platelab.io.decode import read_image
from platelab.io.labels import PhotoLabel, read_labels, write_photo_labels
from platelab.predict.decode import AUTO_PRIOR
from platelab.train.finetune import BUNDLED, FinetuneConfig, export_finetune_run, finetune
from platelab.utils.boxes import Box
from platelab.weights import default_model

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--sets", nargs="*", default=["endtoend-br", "endtoend-us"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--freeze", default="none", help="backbone | none | first-K")
    parser.add_argument("--seed", type=int, default=0, help="the split into halves and the fine-tuning")
    parser.add_argument("--train-photos", type=int, help="learn from this many photos of each half (default: all)")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of them finetune validates on, not learns")
    args = parser.parse_args()

    print(f"{describe_environment()}\n")
    print("| set | recognizer | prior | photos | read (95% interval) | false plates / photo |")
    print("|---|---|---|---|---|---|")
    for name in args.sets:
        source = args.real / name
        labels = read_labels(source, "photos")
        predictions: dict[tuple[str, str | None], dict[str, list[tuple[Box, str]]]] = {}
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
                                        freeze=args.freeze, seed=args.seed, export=tuned, val_fraction=args.holdout))
                seconds.append(time.perf_counter() - start)
                recognizers = {"bundled 8-bit": default_model("recognizer"),
                               "bundled float": default_model("recognizer-float"), "fine-tuned float": tuned,
                               "fine-tuned 8-bit": export_finetune_run(run, Path(scratch) / f"tuned-{k}-int8.onnx",
                                                                       int8=True)}
                for model_name, model in recognizers.items():
                    for prior in (None, PRIORS.get(name), AUTO_PRIOR):
                        reader = Reader(recognizer=model, prior=prior)
                        found = predictions.setdefault((model_name, prior), {})
                        for file in sorted(test):
                            found[file] = [(p.box, p.text) for p in reader.read(read_image(source / file))]
        for (model_name, prior), found in predictions.items():
            scores = score_photos(labels, found)
            print(f"| {name} | {model_name} | {prior or 'none'} | {scores.n_photos} | "
                  f"{format_share(scores.n_read, scores.n_plates)} | {scores.false_per_photo:.2f} |", flush=True)
        learnt = f"{args.train_photos} photos of each half" if args.train_photos else "each half"
        print(f"| {name} | fine-tuning on {learnt} took {', '.join(f'{s:.0f} s' for s in seconds)} | | | | |",
              flush=True)


if __name__ == "__main__":
    main()
