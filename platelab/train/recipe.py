"""A training run end to end: train, export ONNX with the format prior, and write the model card beside it."""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from platelab.io.atomic import atomic_write_text
from platelab.models.recognizer import PlateRecognizer
from platelab.predict.charset import Charset
from platelab.synth.formats import formats_by_country
from platelab.synth.style import select_styles
from platelab.train.checkpoint import load_checkpoint
from platelab.train.config import RecognizerTrainConfig
from platelab.train.export import check_export, export_recognizer
from platelab.train.recognizer import CHECKPOINT, synthetic_eval_set, train_recognizer


def hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"


def last_metrics(run: Path) -> dict:
    lines = (
        (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        if (run / "metrics.jsonl").exists()
        else []
    )
    return json.loads(lines[-1]) if lines else {}


def write_model_card(onnx_path: Path, cfg: RecognizerTrainConfig, run: Path, max_diff: float) -> Path:
    metrics = last_metrics(run)
    card = {
        "model": onnx_path.name,
        "task": "plate recognition (cropped plate -> text)",
        "training_command": (run / "command.txt").read_text(encoding="utf-8").strip()
        if (run / "command.txt").exists()
        else "",
        "data": "synthetic plates only (platelab.synth), styles: " + (", ".join(cfg.styles) or "all"),
        "steps": metrics.get("step"),
        "batch_size": cfg.batch_size,
        "samples_seen": (metrics.get("step") or 0) * cfg.batch_size,
        "wall_time_s": metrics.get("seconds"),
        "hardware": hardware(),
        "accuracy": {k.removeprefix("val_"): v for k, v in metrics.items() if k.startswith("val_")},
        "onnx_vs_torch_max_abs_diff": max_diff,
        "size_bytes": onnx_path.stat().st_size,
        "config": json.loads(cfg.model_dump_json()),
    }
    path = onnx_path.with_suffix(".card.json")
    atomic_write_text(path, json.dumps(card, indent=2) + "\n")
    return path


def export_run(run: Path, out: Path) -> Path:
    cfg = RecognizerTrainConfig.model_validate_json((run / "config.json").read_text(encoding="utf-8"))
    model = PlateRecognizer(Charset(cfg.charset))
    model.load_state_dict(load_checkpoint(run / CHECKPOINT)["model"])
    model.eval()
    formats = formats_by_country(select_styles(None))
    export_recognizer(model, out, formats)
    sample = synthetic_eval_set(cfg.model_copy(update={"val_size": 32}), model.charset).images.numpy()
    max_diff = check_export(model, out, sample)
    write_model_card(out, cfg, run, max_diff)
    return out


def run_recognizer_recipe(
    cfg: RecognizerTrainConfig, config_path: Path, resume: bool, val_real: Sequence[Path], export: Path | None
) -> None:
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    command = "platelab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if not resume or not (cfg.out_dir / "command.txt").exists():
        atomic_write_text(cfg.out_dir / "command.txt", command + "\n")
    train_recognizer(cfg, resume=resume, val_real=val_real)
    if export is not None:
        export_run(cfg.out_dir, export)
