"""Training the plate recognizer on streamed synthetic crops, resumable after a kill at any point."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from platelab.io.atomic import atomic_write_text
from platelab.models.recognizer import PlateRecognizer
from platelab.predict.charset import Charset
from platelab.predict.decode import decode_greedy
from platelab.predict.preprocess import preprocess_crops
from platelab.synth.dataset import SyntheticCropBatches
from platelab.synth.style import select_styles
from platelab.train.checkpoint import load_checkpoint, restore_training_state, save_training_state
from platelab.train.config import RecognizerTrainConfig

CHECKPOINT = "last.ckpt"


@dataclass
class EvalSet:
    name: str
    images: torch.Tensor
    texts: list[str]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synthetic_eval_set(cfg: RecognizerTrainConfig, charset: Charset) -> EvalSet:
    styles = select_styles(cfg.styles or None)
    data = SyntheticCropBatches(styles, charset, cfg.val_size, cfg.seed + 1, cfg.synth)
    images, _ = data.render_batch(0)
    texts = [data.generator.sample(i).text for i in range(cfg.val_size)]
    return EvalSet("synthetic", images, texts)


def real_eval_set(folder: Path, name: str | None = None) -> EvalSet:
    """A folder of real crops with labels.tsv; unreadable files are skipped with a warning."""
    from platelab.io.decode import ImageDecodeError, read_image
    from platelab.io.labels import normalize_plate, read_labels

    images, texts = [], []
    for label in read_labels(folder):
        try:
            images.append(read_image(folder / label.file, name=label.file))
        except ImageDecodeError as exc:
            tqdm.write(f"skipped {exc}")
            continue
        texts.append(normalize_plate(label.plate))
    return EvalSet(name or folder.name, torch.from_numpy(preprocess_crops(images)), texts)


@torch.no_grad()
def predict_texts(model: nn.Module, images: torch.Tensor, charset: Charset, batch: int = 256) -> list[str]:
    model.eval()
    run_on = next(model.parameters()).device
    texts: list[str] = []
    for start in range(0, len(images), batch):
        probs = torch.softmax(model(images[start : start + batch].to(run_on)), -1).cpu().numpy()
        texts += [d.text for d in decode_greedy(probs, charset)]
    return texts


def accuracy(model: nn.Module, data: EvalSet, charset: Charset) -> float:
    predictions = predict_texts(model, data.images, charset)
    return float(np.mean([p == t for p, t in zip(predictions, data.texts)])) if data.texts else 0.0


def schedule(cfg: RecognizerTrainConfig):
    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


class MetricsLog:
    """Appends one JSON object per line; each line is complete, so a killed run's log stays readable."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, **values: float | int | str) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(values) + "\n")


def train_recognizer(
    cfg: RecognizerTrainConfig,
    resume: bool = False,
    val_real: Sequence[Path] = (),
    model: PlateRecognizer | None = None,
) -> PlateRecognizer:
    """Train (or continue training) and return the model; checkpoints and metrics go to cfg.out_dir."""
    seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", cfg.model_dump_json(indent=2))
    charset = Charset(cfg.charset)
    model = model or PlateRecognizer(charset)
    run_on = device()
    model.to(run_on)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(cfg))
    start, elapsed = 0, 0.0
    checkpoint = out / CHECKPOINT
    if resume and checkpoint.exists():
        start, elapsed = restore_training_state(checkpoint, model, optimizer, scheduler)
    elif cfg.init_from is not None:
        model.load_state_dict(load_checkpoint(cfg.init_from)["model"])

    last_step = min(cfg.steps, cfg.stop_after or cfg.steps)
    eval_sets = [synthetic_eval_set(cfg, charset), *(real_eval_set(p) for p in val_real)]
    stream = SyntheticCropBatches(
        select_styles(cfg.styles or None),
        charset,
        cfg.batch_size,
        cfg.seed,
        cfg.synth,
        start_batch=start,
        end_batch=last_step,
    )
    # The loader draws its workers' base seed from its own generator: from the global one it would shift the
    # dropout masks of a resumed run away from those of an unbroken run.
    loader = DataLoader(
        stream,
        batch_size=None,
        num_workers=cfg.workers,
        prefetch_factor=4 if cfg.workers else None,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    log = MetricsLog(out / "metrics.jsonl")
    shown: dict[str, float] = {}
    running_loss, running_acc = 0.0, 0.0
    began = time.perf_counter() - elapsed
    bar = tqdm(total=last_step, initial=start, desc="train recognizer", dynamic_ncols=True)
    step = start
    for images, targets in loader:
        model.train()
        images, targets = images.to(run_on, non_blocking=True), targets.to(run_on, non_blocking=True)
        logits = model(images)
        loss = loss_fn(logits.reshape(-1, charset.classes), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        scheduler.step()
        step += 1
        exact = (logits.argmax(-1) == targets).all(1).float().mean().item()
        running_loss = 0.98 * running_loss + 0.02 * loss.item() if step > start + 1 else loss.item()
        running_acc = 0.98 * running_acc + 0.02 * exact if step > start + 1 else exact
        bar.update(1)
        if step % cfg.val_every == 0 or step == last_step:
            shown = {f"val_{e.name}": accuracy(model, e, charset) for e in eval_sets}
            log.write(
                step=step,
                loss=round(running_loss, 4),
                train_acc=round(running_acc, 4),
                lr=scheduler.get_last_lr()[0],
                seconds=round(time.perf_counter() - began, 1),
                **{k: round(v, 4) for k, v in shown.items()},
            )
        bar.set_postfix(
            loss=f"{running_loss:.3f}", acc=f"{running_acc:.3f}", **{k: f"{v:.3f}" for k, v in shown.items()}
        )
        if step % cfg.checkpoint_every == 0 or step == last_step:
            save_training_state(checkpoint, model, optimizer, scheduler, step, time.perf_counter() - began)
    bar.close()
    return model.cpu().eval()
