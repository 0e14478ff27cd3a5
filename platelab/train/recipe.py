"""A training run end to end: train, export ONNX with the format prior, and write the model card beside it."""

from __future__ import annotations

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


def export_run(run: Path, out: Path) -> Path:
    cfg = RecognizerTrainConfig.model_validate_json((run / "config.json").read_text(encoding="utf-8"))
    model = PlateRecognizer(Charset(cfg.charset), head=cfg.head)
    model.load_state_dict(load_checkpoint(run / CHECKPOINT)["model"])
    model.eval()
    formats = formats_by_country(select_styles(None))
    export_recognizer(model, out, formats)
    sample = synthetic_eval_set(cfg.model_copy(update={"val_size": 32}), model.charset).images.numpy()
    write_model_card(out, run, cfg, "plate recognition (cropped plate -> text)",
                     "synthetic plates only (platelab.synth), styles: " + (", ".join(cfg.styles) or "all"),
                     check_export(model, out, sample))
    return out


def run_recognizer_recipe(
    cfg: RecognizerTrainConfig, resume: bool, val_real: Sequence[Path], export: Path | None
) -> None:
    record_command(cfg.out_dir, resume)
    train_recognizer(cfg, resume=resume, val_real=val_real)
    if export is not None:
        export_run(cfg.out_dir, export)
