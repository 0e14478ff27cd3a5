"""A training run end to end: train, export ONNX with the format prior, and write the model card beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from platelab.models.recognizer import PlateRecognizer
from platelab.predict.charset import Charset
from platelab.synth.formats import formats_by_country
from platelab.synth.style import select_styles
from platelab.train.card import record_command, write_model_card
from platelab.train.checkpoint import load_checkpoint
from platelab.train.config import RecognizerTrainConfig
from platelab.train.export import check_export, export_recognizer
from platelab.train.loop import CHECKPOINT
from platelab.train.recognizer import synthetic_eval_set, train_recognizer


def export_run(run: Path, out: Path, class_scale: dict[str, float] | None = None, command: str | None = None) -> Path:
    """The run's last checkpoint -> ONNX at out with its model card; class_scale: decoding factors per character
    (see RecognitionPredictor), recorded in the model and its card with the export command that set them."""
    cfg = RecognizerTrainConfig.model_validate_json((run / "config.json").read_text(encoding="utf-8"))
    model = PlateRecognizer(Charset(cfg.charset), head=cfg.head)
    unknown = sorted(set(class_scale or {}) - set(model.charset.chars))
    if unknown:
        raise ValueError(f"class scale for {', '.join(unknown)}: not in the model's charset {model.charset.chars}")
    model.load_state_dict(load_checkpoint(run / CHECKPOINT)["model"])
    model.eval()
    formats = formats_by_country(select_styles(None))
    export_recognizer(model, out, formats, {"class_scale": json.dumps(class_scale)} if class_scale else None)
    sample = synthetic_eval_set(cfg.model_copy(update={"val_size": 32}), model.charset).images.numpy()
    write_model_card(out, run, cfg, "plate recognition (cropped plate -> text)",
                     "synthetic plates only (platelab.synth), styles: " + (", ".join(cfg.styles) or "all"),
                     check_export(model, out, sample),
                     **({"class_scale": class_scale, "export_command": command} if class_scale else {}))
    return out


def run_recognizer_recipe(
    cfg: RecognizerTrainConfig, resume: bool, val_real: Sequence[Path], export: Path | None
) -> None:
    record_command(cfg.out_dir, resume)
    train_recognizer(cfg, resume=resume, val_real=val_real)
    if export is not None:
        export_run(cfg.out_dir, export)
