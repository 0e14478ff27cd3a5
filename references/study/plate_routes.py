"""Routes 3-5: whole-plate sequence recognizers trained on synthetic plates, then fine-tuned on k real crops.

Every training run lives in its own folder under the work folder and is started with resume, so a study
that was stopped continues where it was (delete the work folder to start over).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from platelab.eval.metrics import score_crops
from platelab.models.efficientnet_lite import imagenet_backbone
from platelab.models.recognizer import PlateRecognizer
from platelab.train.card import last_metrics
from platelab.train.config import RecognizerTrainConfig
from platelab.train.finetune import LabelledCrops, TuneConfig, load_run_model, tune_model
from platelab.train.loop import seed_everything
from platelab.train.recognizer import EvalSet, predict_texts, train_recognizer

SYNTHETIC_CNN = "synthetic-cnn"
IMAGENET_LITE = "imagenet-lite0"
SCRATCH = "scratch"
TEST_SET = "test"
NO_CROPS = LabelledCrops((), (), ())


@dataclass(frozen=True)
class StudySize:
    """Every knob that separates the full study from the quick one."""

    crops: int | None  # real crops used (the first ones of labels.tsv); None = all
    ks: tuple[int, ...]
    seeds: tuple[int, ...]
    mnist_samples: int
    font_per_char: int
    char_steps: int
    char_batch: int
    synth_steps: int  # route 3
    synth_batch: int
    val_size: int
    lite_steps: int  # route 4, each of head only and whole network
    lite_batch: int
    tune_epochs: int  # route 5
    tune_steps_per_epoch: int
    tune_batch: int
    workers: int


def score_sequences(model: PlateRecognizer, data: EvalSet) -> tuple[float, float]:
    """(exact plate accuracy, character error rate), greedy decoding without a format prior."""
    scores = score_crops(data.texts, predict_texts(model, data.images, model.charset))
    return scores.exact, scores.cer


def train_synthetic_cnn(work: Path, size: StudySize) -> Path:
    """Route 3: the shipped recognizer's recipe (references/recognizer/synthetic.yaml), fewer steps."""
    steps = size.synth_steps
    cfg = RecognizerTrainConfig(
        out_dir=work / f"route3-{SYNTHETIC_CNN}",
        steps=steps,
        batch_size=size.synth_batch,
        lr=0.0015,
        warmup_steps=max(1, steps // 25),
        workers=size.workers,
        threads=1,
        val_size=size.val_size,
        val_every=max(1, steps // 6),
        checkpoint_every=max(1, steps // 30),
    )
    train_recognizer(cfg, resume=True)
    return cfg.out_dir


def train_imagenet_route(work: Path, size: StudySize, freeze: str) -> Path:
    """Route 4: EfficientNet-Lite0 with ImageNet weights and the plate head, on synthetic plates only."""
    epochs = 4
    cfg = TuneConfig(
        out_dir=work / f"route4-{IMAGENET_LITE}-{freeze}",
        freeze=freeze,
        epochs=epochs,
        steps_per_epoch=max(1, size.lite_steps // epochs),
        batch_size=size.lite_batch,
        synth_share=1.0,
        lr=2e-3 if freeze == "backbone" else 1e-3,
        warmup_steps=max(1, size.lite_steps // 20),
        workers=size.workers,
        threads=1,
    )
    tune_model(PlateRecognizer(backbone=imagenet_backbone()), NO_CROPS, [], cfg, resume=True)
    return cfg.out_dir


# -- route 5 ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TuneJob:
    base: str  # SYNTHETIC_CNN, IMAGENET_LITE or SCRATCH
    freeze: str
    k: int
    seed: int

    @property
    def name(self) -> str:
        return f"route5-{self.base}-{self.freeze}-k{self.k}-s{self.seed}"


@dataclass(frozen=True)
class TuneResult:
    job: TuneJob
    test_crops: int
    before: float  # the base model's exact accuracy on the same test crops (0 for scratch)
    after: float
    seconds: float  # training time as the run logged it (a resumed run counts every part)


def few_shot_split(count: int, k: int, seed: int) -> tuple[list[int], list[int]]:
    """(k training indices, test indices: all the others), from one seeded shuffle per seed."""
    order = np.random.default_rng(seed).permutation(count)
    return sorted(order[:k].tolist()), sorted(order[k:].tolist())


def tune_jobs(size: StudySize) -> list[TuneJob]:
    jobs = []
    for seed in size.seeds:
        for k in size.ks:
            for base in (SYNTHETIC_CNN, IMAGENET_LITE):
                jobs += [TuneJob(base, freeze, k, seed) for freeze in ("backbone", "none")]
            jobs.append(TuneJob(SCRATCH, "none", k, seed))
    return jobs


def run_tune_job(
    job: TuneJob, crops: LabelledCrops, bases: dict[str, Path], work: Path, size: StudySize
) -> TuneResult:
    train_indices, test_indices = few_shot_split(len(crops), job.k, job.seed)
    train, test = crops.subset(train_indices), crops.subset(test_indices)
    leaked = set(train.files) & set(test.files)
    assert not leaked, f"{job.name}: fine-tuning crops in the test split: {sorted(leaked)}"
    test_set = test.eval_set(TEST_SET)
    scratch = job.base == SCRATCH
    seed_everything(job.seed)  # a scratch model's first weights must not depend on what ran before it
    model = PlateRecognizer() if scratch else load_run_model(bases[job.base])
    before = 0.0 if scratch else score_sequences(model, test_set)[0]
    cfg = TuneConfig(
        out_dir=work / job.name,
        seed=job.seed,
        freeze=job.freeze,
        epochs=size.tune_epochs,
        steps_per_epoch=size.tune_steps_per_epoch,
        batch_size=size.tune_batch,
        synth_share=0.0 if scratch else 0.5,
        lr=2e-3 if scratch else 1e-3 if job.freeze == "backbone" else 5e-4,
        warmup_steps=max(1, size.tune_steps_per_epoch // 5),
        workers=size.workers,
        threads=1,
    )
    tune_model(model, train, [test_set], cfg, resume=True)
    logged = last_metrics(cfg.out_dir)
    return TuneResult(job, len(test), before, float(logged[f"val_{TEST_SET}"]), float(logged["seconds"]))


def run_tune_jobs(
    jobs: list[TuneJob], crops: LabelledCrops, bases: dict[str, Path], work: Path, size: StudySize, processes: int
) -> Iterator[TuneResult]:
    """Every job's result, in job order; processes > 1 runs that many jobs at once (one torch thread each)."""
    if processes <= 1:
        yield from (run_tune_job(job, crops, bases, work, size) for job in jobs)
        return
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no torch or OpenCV thread pools to fork
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        yield from pool.map(partial(run_tune_job, crops=crops, bases=bases, work=work, size=size), jobs)
