"""Training the plate recognizer on streamed synthetic crops, resumable after a kill at any point."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from platelab.models.recognizer import PlateRecognizer
from platelab.predict.charset import Charset
from platelab.predict.decode import decode
from platelab.predict.preprocess import preprocess_crops
from platelab.synth.dataset import SyntheticCropBatches
from platelab.synth.style import reweighted, select_styles
from platelab.train.checkpoint import CheckpointError, model_weights, save_training_state, weights_mismatch
from platelab.train.config import RecognizerTrainConfig
from platelab.train.loop import (
    MetricsLog,
    batch_loader,
    open_run,
    optimizer_step,
    resumes,
    run_styles,
    running_mean,
    seed_everything,
)
from platelab.train.losses import RecognitionLoss, exact_hits
from platelab.train.onnx_import import STATS_CROPS, recognizer_from_onnx
from platelab.train.progress import progress_bar, show_figures

if TYPE_CHECKING:
    from platelab.io.labels import CropLabel


@dataclass
class EvalSet:
    name: str
    images: torch.Tensor
    texts: list[str]


def synthetic_eval_set(cfg: RecognizerTrainConfig, charset: Charset) -> EvalSet:
    styles = select_styles(cfg.styles or None)
    data = SyntheticCropBatches(styles, charset, cfg.val_size, cfg.seed + 1, cfg.synth)
    images, _ = data.render_batch(0)
    texts = [data.generator.sample(i).text for i in range(cfg.val_size)]
    return EvalSet("synthetic", images, texts)


def real_eval_set(folder: Path, name: str | None = None) -> EvalSet:
    """A folder of real crops with labels.tsv; unreadable files are skipped with a warning, and a folder none of
    whose crops can be read is a ValueError (its accuracy would be a 0 measured on nothing)."""
    from platelab.io.decode import ImageDecodeError, read_image
    from platelab.io.labels import labelled_file, normalize_plate

    images, texts = [], []
    labels = read_real_labels(folder)
    for label in labels:
        try:
            images.append(read_image(labelled_file(folder, label.file), name=label.file))
        except ImageDecodeError as exc:
            tqdm.write(f"skipped {exc}")
            continue
        texts.append(normalize_plate(label.plate))
    if not images:
        raise ValueError(f"{folder}: none of its {len(labels)} crops can be read; nothing to validate on")
    return EvalSet(name or folder.name, torch.from_numpy(preprocess_crops(images)), texts)


def read_real_labels(folder: Path) -> list[CropLabel]:
    """The labels of a real validation set (--val-real, a recipe's val_real); a folder that is not there says so,
    where read_labels' "no labels file" would read as if it were."""
    from platelab.io.labels import read_labels

    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder (--val-real, or a recipe's val_real, names a folder of crops with "
                         "labels.tsv)")
    return read_labels(folder, "crops")


@torch.no_grad()
def predict_texts(model: PlateRecognizer, images: torch.Tensor, charset: Charset, batch: int = 256) -> list[str]:
    model.eval()
    run_on = next(model.parameters()).device
    texts: list[str] = []
    for start in range(0, len(images), batch):
        probs = torch.softmax(model(images[start : start + batch].to(run_on)), -1).cpu().numpy()
        texts += [d.text for d in decode(probs, charset, model.head_kind)]
    return texts


def exact_share(predictions: list[str], data: EvalSet) -> float:
    return float(np.mean([p == t for p, t in zip(predictions, data.texts)])) if data.texts else 0.0


def accuracy(model: PlateRecognizer, data: EvalSet, charset: Charset) -> float:
    return exact_share(predict_texts(model, data.images, charset), data)


def matching_weights(model: nn.Module, state: dict[str, torch.Tensor], source: Path) -> dict[str, torch.Tensor]:
    """The tensors of state (source's weights) that model has, by name and shape: another head's do not match and
    keep their init; a CheckpointError naming source if the backbone does not match either."""
    own = model.state_dict()
    matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not any(k.startswith("backbone.") for k in matching):
        backbone = {k: v for k, v in own.items() if k.startswith("backbone.")}
        problem = weights_mismatch(backbone, {k: v for k, v in state.items() if k.startswith("backbone.")})
        raise CheckpointError(f"{source}: not a recognizer checkpoint of this configuration (backbone: {problem})")
    return matching


def load_matching_weights(model: nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Start from another run's weights (source's); tensors whose name or shape differ (another head) keep their
    init."""
    matching = matching_weights(model, state, source)
    skipped = sorted(set(model.state_dict()) - set(matching))
    if skipped:
        tqdm.write(f"init_from: {len(skipped)} tensors keep their initial values (not in the checkpoint): "
                   f"{skipped[0]} ...")
    model.load_state_dict(matching, strict=False)


def initial_weights(source: Path, stats_crops: int = STATS_CROPS) -> dict[str, torch.Tensor]:
    """init_from's weights: a run checkpoint's, or those of a float ONNX recognizer exported by platelab (its batch
    norms measured on stats_crops synthetic crops, see recognizer_from_onnx). A file that holds neither is a
    ValueError naming it (CheckpointError, OnnxImportError)."""
    if source.suffix.lower() == ".onnx":
        return recognizer_from_onnx(source, stats_crops).state_dict()
    return model_weights(source)


def check_initial_weights(cfg: RecognizerTrainConfig) -> None:
    """Raises what would stop a fresh run loading cfg.init_from once started: a file that is not a checkpoint or a
    float platelab recognizer, or one whose backbone is not this configuration's. (The norm statistics of an ONNX
    source are left unmeasured: the weights are checked, not trained.)"""
    if cfg.init_from is not None:
        model = PlateRecognizer(Charset(cfg.charset), head=cfg.head)
        matching_weights(model, initial_weights(cfg.init_from, stats_crops=0), cfg.init_from)


def train_recognizer(
    cfg: RecognizerTrainConfig,
    resume: bool = False,
    val_real: Sequence[Path] = (),
    model: PlateRecognizer | None = None,
) -> PlateRecognizer:
    """Train (or continue training) and return the model; checkpoints and metrics go to cfg.out_dir."""
    seed_everything(cfg.seed)
    charset = Charset(cfg.charset)
    model = model or PlateRecognizer(charset, head=cfg.head)
    if cfg.init_from is not None and not resumes(cfg.out_dir, resume):  # before the run writes into its folder
        load_matching_weights(model, initial_weights(cfg.init_from), cfg.init_from)
    run = open_run(cfg.out_dir, cfg.model_dump_json(indent=2), model, cfg.steps, cfg.warmup_steps, cfg.lr,
                   cfg.weight_decay, cfg.threads, resume)
    drawn = cfg.model_copy(update={"styles": run_styles(run.out, cfg.styles, resume)})

    last_step = min(cfg.steps, cfg.stop_after or cfg.steps)
    eval_sets = [synthetic_eval_set(drawn, charset), *(real_eval_set(p) for p in val_real)]
    stream = SyntheticCropBatches(
        reweighted(select_styles(drawn.styles or None), cfg.style_weights),
        charset,
        cfg.batch_size,
        cfg.seed,
        cfg.synth,
        start_batch=run.start,
        end_batch=last_step,
    )
    loader = batch_loader(stream, cfg.workers, cfg.seed)
    loss_fn = RecognitionLoss(charset, model.head_kind, cfg.label_smoothing)
    log = MetricsLog(run.metrics)
    shown: dict[str, float] = {}
    # None until the first step sets them (a fresh run, or a checkpoint saved before they were kept)
    running_loss, running_acc = run.extra.get("loss"), run.extra.get("train_acc")
    began = time.perf_counter() - run.elapsed
    with progress_bar(total=last_step, initial=run.start, desc="train recognizer") as bar:
        step = run.start
        for images, targets in loader:
            model.train()
            images, targets = images.to(run.device, non_blocking=True), targets.to(run.device, non_blocking=True)
            logits = model(images)
            loss = loss_fn(logits, targets)
            optimizer_step(loss, model, run)
            step += 1
            exact = exact_hits(logits, targets, charset, model.head_kind)
            running_loss, running_acc = running_mean(running_loss, loss.item()), running_mean(running_acc, exact)
            bar.update(1)
            if step % cfg.val_every == 0 or step == last_step:
                shown = {f"val_{e.name}": accuracy(model, e, charset) for e in eval_sets}
                log.write(
                    step=step,
                    loss=round(running_loss, 4),
                    train_acc=round(running_acc, 4),
                    lr=run.last_lr,
                    seconds=round(time.perf_counter() - began, 1),
                    **{k: round(v, 4) for k, v in shown.items()},
                )
            show_figures(bar, loss=running_loss, train_acc=running_acc, **shown)
            if step % cfg.checkpoint_every == 0 or step == last_step:
                save_training_state(run.checkpoint, model, run.optimizer, run.scheduler, step,
                                    time.perf_counter() - began, {"loss": running_loss, "train_acc": running_acc})
    return model.cpu().eval()
