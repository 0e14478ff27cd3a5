"""A trained-on recognizer's weights moved part of the way back towards the weights it started from.

A stage trained long on synthetic plates reads them better and real ones a little worse; the average of its weights
and its starting point's (the same network, so the two lie in one basin) keeps much of the synthetic gain and gives
back the real plates. Batch-norm statistics do not average: they are measured again on the run's synthetic crops.
The result is a run folder that `platelab export` takes like any other.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from platelab.io.atomic import atomic_write_text
from platelab.models.recognizer import PlateRecognizer
from platelab.predict.charset import Charset
from platelab.synth.dataset import SyntheticCropBatches
from platelab.synth.style import select_styles
from platelab.train.checkpoint import (
    CheckpointError,
    load_model_state,
    model_weights,
    save_checkpoint,
    weights_mismatch,
)
from platelab.train.config import RecognizerTrainConfig
from platelab.train.loop import (
    CHECKPOINT,
    CONFIG,
    METRICS,
    MetricsLog,
    RunConfigError,
    check_run_folder,
    hold_run_folder,
    read_run_config,
    record_style_files,
    run_config,
    run_style_files,
    run_styles,
)
from platelab.train.progress import progress_bar
from platelab.train.recognizer import accuracy, initial_weights, real_eval_set, synthetic_eval_set

NORM_BATCH = 64


def averaged_weights(start: dict[str, torch.Tensor], end: dict[str, torch.Tensor],
                     weight: float) -> dict[str, torch.Tensor]:
    """(1 - weight) * start + weight * end for every float tensor; counters come from end."""
    if set(start) != set(end) or any(start[k].shape != end[k].shape for k in end):
        raise ValueError("the two models are not the same network (their tensors differ in name or shape)")
    return {k: torch.lerp(start[k].float(), end[k].float(), weight).to(end[k].dtype)
            if end[k].is_floating_point() else end[k] for k in end}


@torch.no_grad()
def measure_norm_statistics(model: nn.Module, batches: SyntheticCropBatches, count: int) -> None:
    """Each batch norm's running mean and variance as the plain average over count batches."""
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average: every batch counts alike
    model.train()
    for batch in progress_bar(iterable=range(count), desc="norm statistics", leave=False):
        model(batches.render_batch(batch)[0])
    model.eval()


def interpolate_run(start: Path, end_run: Path, weight: float, out_dir: Path, val_real: Sequence[Path] = (),
                    norm_crops: int = 3200, seed: int = 777) -> PlateRecognizer:
    """Write out_dir as a run (config, checkpoint, metrics) holding the weights between start and end_run's.

    start: a run checkpoint or a float ONNX recognizer; end_run: a recognizer run trained on from it. out_dir must
    not hold a run already; everything is read, checked and measured before anything is written into it.
    """
    began = time.perf_counter()
    check_run_folder(out_dir, {}, resume=False, advice="give another folder")
    fields = read_run_config(end_run)
    task = fields.get("task", "recognizer")  # as the recipe's default
    if task != "recognizer":  # its schema's own complaint would be "field task: Input should be 'recognizer'"
        raise RunConfigError(f"{end_run / CONFIG}: a {task} run; train interpolate takes a recognizer run "
                             "(platelab train recognizer) and the weights it started from")
    cfg = run_config(end_run, RecognizerTrainConfig, fields)
    charset = Charset(cfg.charset)
    model = PlateRecognizer(charset, head=cfg.head)
    end = end_run / CHECKPOINT
    end_weights = model_weights(end)
    load_model_state(end, model, end_weights)
    start_weights = initial_weights(start)
    problem = weights_mismatch(model.state_dict(), start_weights)
    if problem:
        raise CheckpointError(f"{start}: not the network {end} was trained on from ({problem})")
    model.load_state_dict(averaged_weights(start_weights, end_weights, weight))
    drawn = cfg.model_copy(update={"styles": run_styles(end_run, cfg.styles)})
    eval_sets = [synthetic_eval_set(drawn, charset), *(real_eval_set(p) for p in val_real)]
    batches = SyntheticCropBatches(select_styles(drawn.styles or None), charset, NORM_BATCH, seed, cfg.synth)
    measure_norm_statistics(model, batches, max(1, norm_crops // NORM_BATCH))
    scores = {f"val_{e.name}": round(accuracy(model, e, charset), 4) for e in eval_sets}

    with hold_run_folder(out_dir):
        # The model card follows init_from back through the runs: the end run, then what it started from.
        own = cfg.model_copy(update={"out_dir": out_dir, "init_from": end})
        atomic_write_text(out_dir / CONFIG, own.model_dump_json(indent=2))
        # the end run's styles and its copies of them: the result exports with their formats wherever it is moved
        record_style_files(out_dir, run_style_files(end_run, cfg.styles))
        save_checkpoint(out_dir / CHECKPOINT, {"model": model.state_dict()})
        (out_dir / METRICS).unlink(missing_ok=True)
        MetricsLog(out_dir / METRICS).write(step=0, seconds=round(time.perf_counter() - began, 1), **scores)
    return model
