"""What a training run leaves beside its model: the exact command and a model card (JSON)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from platelab.io.atomic import atomic_write_text
from platelab.train.checkpoint import CheckpointError, load_checkpoint
from platelab.train.loop import (
    CHECKPOINT,
    COMMAND_FILE,
    CONFIG,
    METRICS,
    RunConfigError,
    hardware,
    read_run_config,
)


def last_metrics(run: Path) -> dict[str, Any]:
    """The run's last complete metrics line ({} if none): a kill may have cut the last one short."""
    return next(iter(_metrics_newest_first(run)), {})


def _newest_until(lines: list[dict[str, Any]], until: int | None) -> dict[str, Any]:
    return next((values for values in lines if until is None or _step_at_most(values.get("step"), until)), {})


def _metrics_newest_first(run: Path) -> list[dict[str, Any]]:
    """The run's complete metrics lines, the last first."""
    path = run / METRICS
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []
    parsed = []
    for line in reversed(lines):
        try:
            values = json.loads(line)
        except ValueError:
            continue
        if isinstance(values, dict):
            parsed.append(values)
    return parsed


def _step_at_most(step: object, until: int) -> bool:
    return isinstance(step, int) and step <= until


def _checkpoint_progress(checkpoint: Path) -> tuple[int, float] | None:
    """(step, seconds trained) of the weights a checkpoint holds; None for weights alone (an average's) or a file
    that does not load (the caller names the file where it matters)."""
    try:
        state = load_checkpoint(checkpoint)
    except CheckpointError:
        return None
    step, elapsed = state.get("step"), state.get("elapsed")
    if not isinstance(step, int) or not isinstance(elapsed, (int, float)):
        return None
    return step, float(elapsed)


def _checkpoint_summary(checkpoint: Path) -> dict[str, Any]:
    """What a card says of how far the weights in checkpoint were trained: its step and time, and the figures
    of the last metrics line at or before that step (the log runs on past the checkpoint when a run is killed
    between checkpoints, and the weights are the checkpoint's). A checkpoint without a step (an average's) takes
    the run's last line."""
    progress = _checkpoint_progress(checkpoint)
    lines = _metrics_newest_first(checkpoint.parent)
    metrics = _newest_until(lines, None if progress is None else progress[0])
    step, seconds = progress if progress is not None else (metrics.get("step"), metrics.get("seconds"))
    measured_at = metrics.get("step")
    return {
        "steps": step,
        "wall_time_s": None if seconds is None else round(seconds, 1),
        # any line of the run names the machine it trained on: a run killed after its checkpoint but before a
        # validation at or before it has lines only past the checkpoint, and the exporting machine may be another
        "hardware": metrics.get("hardware") or (lines[0].get("hardware") if lines else None),
        "accuracy": validation_figures(metrics),
        # the figures are the validation's last before the checkpoint: say so where that is not its step
        **({"accuracy_at_step": measured_at} if measured_at is not None and measured_at != step else {}),
    }


def validation_figures(metrics: dict[str, Any]) -> dict[str, float]:
    """A metrics line's validation figures by set name (val_crops-us -> crops-us)."""
    return {k.removeprefix("val_"): v for k, v in metrics.items() if k.startswith("val_")}


def _earlier_stage(checkpoint: Path | str | None) -> dict[str, Any]:
    """The run a later stage started from, and the runs before it: commands and how far each went, so the whole
    chain can be reproduced."""
    if checkpoint is None:
        return {}
    exported_card = Path(checkpoint).with_suffix(".card.json")
    if Path(checkpoint).suffix.lower() == ".onnx" and exported_card.exists():
        # An exported model has no run beside it: its own card holds the chain that made it.
        card = json.loads(exported_card.read_text(encoding="utf-8"))
        kept = ("training_command", "steps", "wall_time_s", "hardware", "accuracy", "initialised_from")
        return {"initialised_from": {"checkpoint": str(checkpoint), **{k: card[k] for k in kept if k in card}}}
    run = Path(checkpoint).parent
    command = run / COMMAND_FILE
    trained = _checkpoint_summary(Path(checkpoint))
    config = run / CONFIG
    try:  # a stage whose config cannot be read ends the chain: what the card can say is still said
        earlier = read_run_config(run).get("init_from") if config.exists() else None
    except RunConfigError:
        earlier = None
    return {"initialised_from": {
        "checkpoint": str(checkpoint),
        "training_command": command.read_text(encoding="utf-8").strip() if command.exists() else "",
        **{k: v for k, v in trained.items() if v is not None or k in ("steps", "wall_time_s")},
        **_earlier_stage(earlier),
    }}


def _chain_seconds(card: dict[str, Any]) -> float:
    stage = card.get("initialised_from")
    return (card.get("wall_time_s") or 0.0) + (_chain_seconds(stage) if stage else 0.0)


def record_command(run: Path, resume: bool) -> None:
    """Keep the command that started the run; a resumed run keeps the original one."""
    run.mkdir(parents=True, exist_ok=True)
    if not resume or not (run / COMMAND_FILE).exists():
        command = "platelab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        atomic_write_text(run / COMMAND_FILE, command + "\n")


def write_model_card(onnx_path: Path, run: Path, cfg: BaseModel, task: str, data: str, max_diff: float,
                     **extra: Any) -> Path:
    """<model>.card.json: command, data, steps, time, hardware, validation figures, size and the full config."""
    trained = _checkpoint_summary(run / CHECKPOINT)
    command = run / COMMAND_FILE
    batch_size = getattr(cfg, "batch_size", 0)
    card = {
        "model": onnx_path.name,
        "task": task,
        "training_command": command.read_text(encoding="utf-8").strip() if command.exists() else "",
        "data": data,
        "steps": trained["steps"],
        "batch_size": batch_size,
        "samples_seen": (trained["steps"] or 0) * batch_size,
        "wall_time_s": trained["wall_time_s"],
        # a run with no metrics line at all (killed before its first validation) recorded none: this machine's
        "hardware": trained["hardware"] or hardware(),
        "accuracy": trained["accuracy"],
        **({"accuracy_at_step": trained["accuracy_at_step"]} if "accuracy_at_step" in trained else {}),
        # how many synthetic crops or scenes "accuracy" was measured on: a short test run's figure is of a few
        **({"accuracy_synthetic_samples": val_size} if isinstance(val_size := getattr(cfg, "val_size", None), int)
           else {}),
        **_earlier_stage(getattr(cfg, "init_from", None)),
        **extra,
        "onnx_vs_torch_max_abs_diff": max_diff,
        "size_bytes": onnx_path.stat().st_size,
        "config": json.loads(cfg.model_dump_json()),
    }
    if "initialised_from" in card:
        card = {**card, "wall_time_all_stages_s": round(_chain_seconds(card), 1)}
    path = onnx_path.with_suffix(".card.json")
    atomic_write_text(path, json.dumps(card, indent=2) + "\n")
    return path
