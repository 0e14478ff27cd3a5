"""How far does each route to a plate reader get on real US crops, and how much do a few real crops help?

1. MNIST digit classifier on characters cut out of the plates by a classic segmenter.
2. The same classifier trained on A-Z0-9 rendered from the plate fonts.
3. The synthetic-plate sequence CNN (the shipped recognizer's recipe, shortened).
4. EfficientNet-Lite0 with ImageNet weights + the plate head, on synthetic plates: head only, whole network.
5. Routes 3 and 4 fine-tuned on k real crops (head only, whole network), and a network trained on them alone.

Full study (CPU; runs go to --work and resume if stopped; --jobs 2 fine-tunes two runs at once on 2 cores):
    python references/study/run_study.py --out docs/study --jobs 2
Quick check of every step with tiny sizes (under a minute, output in a temporary folder):
    python references/study/run_study.py --quick
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `references.study` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch

from benchmarks.real_data import REAL, require_folder
from platelab.predict.charset import Charset
from platelab.train.card import hardware, last_metrics
from platelab.train.finetune import LabelledCrops, load_labelled_crops, load_run_model
from platelab.train.recognizer import EvalSet
from references.study.charclass import SegmentedScores
from references.study.fontchars_route import run_font_route
from references.study.mnist_route import run_mnist_route
from references.study.plate_routes import (
    IMAGENET_LITE,
    SCRATCH,
    SYNTHETIC_CNN,
    StudySize,
    TuneResult,
    run_tune_jobs,
    score_sequences,
    train_imagenet_route,
    train_synthetic_cnn,
    tune_jobs,
)
from references.study.report import VARIANT_NAMES, RouteRow, StudyResults, write_report

# The real crops live beside the checkout (AGPL data, never copied into the repository).
REAL_CROPS = REAL / "crops-us"

FULL = StudySize(
    crops=None,
    ks=(10, 30, 100, 300),
    seeds=(0, 1, 2),
    mnist_samples=50000,
    font_per_char=400,
    char_steps=1000,
    char_batch=128,
    synth_steps=3000,
    synth_batch=64,
    val_size=256,
    lite_steps=800,
    lite_batch=32,
    tune_epochs=2,
    tune_steps_per_epoch=50,
    tune_batch=32,
    workers=1,
)
QUICK = StudySize(
    crops=24,
    ks=(10,),
    seeds=(0,),
    mnist_samples=256,
    font_per_char=3,
    char_steps=3,
    char_batch=16,
    synth_steps=2,
    synth_batch=4,
    val_size=4,
    lite_steps=1,
    lite_batch=2,
    tune_epochs=1,
    tune_steps_per_epoch=1,
    tune_batch=4,
    workers=0,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks every step in under a minute"
    )
    parser.add_argument(
        "--out", type=Path, help="report folder (docs/study; a temporary folder with --quick)"
    )
    parser.add_argument("--work", type=Path, help="training runs (runs/study; OUT/runs with --quick)")
    parser.add_argument("--data", type=Path, default=REAL_CROPS, help="real crops folder with labels.tsv")
    parser.add_argument("--jobs", type=int, default=1, help="route-5 fine-tuning runs at once (one core each)")
    return parser.parse_args(argv)


def character_cell(scores: SegmentedScores, what: str) -> str:
    return f"{scores.char_acc:.3f} of {scores.chars} {what}; {scores.segmented:.0%} of plates cut right"


def character_routes(crops: LabelledCrops, size: StudySize) -> list[RouteRow]:
    images, texts = list(crops.images), list(crops.texts)
    began = time.perf_counter()
    mnist = run_mnist_route(images, texts, size.mnist_samples, size.char_steps, size.char_batch, seed=0)
    mnist_s = time.perf_counter() - began
    fonts = run_font_route(images, texts, size.font_per_char, size.char_steps, size.char_batch, seed=0)
    fonts_s = time.perf_counter() - began - mnist_s
    return [
        RouteRow(
            "1",
            "MNIST digit CNN + segmentation",
            f"MNIST ({size.mnist_samples} digits; test acc {mnist.mnist_test_acc:.3f})",
            0,
            mnist.plates.plates,
            mnist.plates.plate_acc,
            character_cell(mnist.plates, "digits"),
            mnist_s,
        ),
        RouteRow(
            "2",
            "font-character CNN + segmentation",
            f"A-Z0-9 from {fonts.fonts} plate fonts",
            0,
            fonts.plates.plates,
            fonts.plates.plate_acc,
            character_cell(fonts.plates, "characters"),
            fonts_s,
        ),
    ]


def sequence_row(route: str, model: str, learns_from: str, run: Path, data: EvalSet) -> RouteRow:
    """A trained run's row; its time is the training time the run logged (resumed runs count every part)."""
    exact, cer = score_sequences(load_run_model(run).eval(), data)
    seconds = float(last_metrics(run)["seconds"])
    return RouteRow(route, model, learns_from, 0, len(data.texts), exact, f"{1 - cer:.3f}", seconds)


def synthetic_routes(work: Path, size: StudySize, data: EvalSet) -> tuple[list[RouteRow], dict[str, Path]]:
    """Routes 3 and 4 and the run folders that route 5 fine-tunes (Lite0: the whole-network one)."""
    rows, bases = [], {}
    bases[SYNTHETIC_CNN] = train_synthetic_cnn(work, size)
    samples = f"{size.synth_steps * size.synth_batch} synthetic plates"
    rows.append(sequence_row("3", "synthetic-plate CNN", samples, bases[SYNTHETIC_CNN], data))
    for freeze, trained in (("backbone", "head only"), ("none", "whole network")):
        run = train_imagenet_route(work, size, freeze)
        samples = f"ImageNet, then {size.lite_steps * size.lite_batch} synthetic plates"
        rows.append(sequence_row("4", f"ImageNet Lite0 + head, {trained}", samples, run, data))
        if freeze == "none":  # route 5 fine-tunes the whole-network model
            bases[IMAGENET_LITE] = run
    return rows, bases


FINETUNED_FROM = {
    SYNTHETIC_CNN: "route 3, then real crops + synthetic plates",
    IMAGENET_LITE: "route 4 (whole network), then real crops + synthetic plates",
    SCRATCH: "the real crops alone",
}


def finetune_rows(tunes: list[TuneResult], k: int) -> list[RouteRow]:
    rows = []
    for variant, name in VARIANT_NAMES.items():
        results = [r for r in tunes if (r.job.base, r.job.freeze) == variant and r.job.k == k]
        if not results:
            continue
        learns_from = FINETUNED_FROM[variant[0]]
        rows.append(
            RouteRow(
                "5",
                f"{name}, k = {k}",
                learns_from,
                k,
                results[0].test_crops,
                float(np.mean([r.after for r in results])),
                "",
                sum(r.seconds for r in results),
            )
        )
    return rows


def run_study(args: argparse.Namespace, command: str) -> Path:
    require_folder(args.data, "plate crops and their labels.tsv (file, state, plate)")
    size = QUICK if args.quick else FULL
    out = args.out or (Path(tempfile.mkdtemp(prefix="platelab-study-")) if args.quick else Path("docs/study"))
    work = args.work or (out / "runs" if args.quick else Path("runs/study"))
    torch.set_num_threads(1)
    began = time.perf_counter()
    crops = load_labelled_crops(args.data, Charset())
    if size.crops is not None:
        crops = crops.subset(range(min(size.crops, len(crops))))
    results = StudyResults(command, hardware(), size, 0.0)
    results.routes += character_routes(crops, size)
    rows, bases = synthetic_routes(work, size, crops.eval_set(args.data.name))
    results.routes += rows
    for result in run_tune_jobs(tune_jobs(size), crops, bases, work, size, args.jobs):
        results.tunes.append(result)
        print(f"{result.job.name}: {result.after:.3f}", flush=True)
    results.routes += finetune_rows(results.tunes, max(size.ks))
    results.seconds = time.perf_counter() - began
    return write_report(out, results)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    command = "python references/study/run_study.py " + " ".join(map(shlex.quote, argv or sys.argv[1:]))
    report = run_study(args, command.strip())
    print(f"wrote {report}")
    return report


if __name__ == "__main__":
    main()
