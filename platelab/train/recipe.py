"""A training run end to end: train, export ONNX with the format prior, and write the model card beside it."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from platelab.models.recognizer import PlateRecognizer
from platelab.predict.charset import Charset
from platelab.predict.decode import decode
from platelab.predict.recognizer import RecognitionPredictor
from platelab.synth.dataset import SyntheticCropBatches
from platelab.synth.formats import format_alphabets, formats_by_country
from platelab.synth.style import prior_styles, reweighted, select_styles
from platelab.train.card import write_model_card
from platelab.train.checkpoint import check_resumable, load_model_state
from platelab.train.config import RecognizerTrainConfig
from platelab.train.export import check_export, export_recognizer, publish, require_agreement
from platelab.train.loop import CHECKPOINT, check_run, run_config, run_recipe, run_styles
from platelab.train.quantize import CALIBRATION_CROPS, RECOGNIZER_KEPT_FLOAT, quantize
from platelab.train.recognizer import (
    EvalSet,
    accuracy,
    check_initial_weights,
    exact_share,
    real_eval_set,
    synthetic_eval_set,
    train_recognizer,
)
from platelab.utils.errors import shown

CALIBRATION_BATCH = 64


def export_run(run: Path, out: Path, class_scale: dict[str, float] | None = None, command: str | None = None,
               int8: bool = False) -> Path:
    """The run's last checkpoint -> ONNX at out with its model card; class_scale: decoding factors per character
    (see RecognitionPredictor), recorded in the model and its card with the export command that set them.

    int8: weights and activations in 8 bits (calibrated on synthetic crops), measured on the run's synthetic
    validation set beside the float model; the card records both.
    """
    cfg = run_config(run, RecognizerTrainConfig)
    model = PlateRecognizer(Charset(cfg.charset), head=cfg.head)
    load_model_state(run / CHECKPOINT, model)
    model.eval()
    drawn = cfg.model_copy(update={"styles": run_styles(run, cfg.styles)})  # cfg stays what the card records
    sample = synthetic_eval_set(drawn.model_copy(update={"val_size": 32}), model.charset).images.numpy()

    def calibration() -> Int8Data:
        crops = SyntheticCropBatches(select_styles(drawn.styles or None), model.charset, CALIBRATION_BATCH,
                                     cfg.seed + 2, cfg.synth)
        batches = [crops.render_batch(b)[0].numpy() for b in range(CALIBRATION_CROPS // CALIBRATION_BATCH)]
        return Int8Data(batches, synthetic_eval_set(drawn, model.charset),
                        f"{CALIBRATION_CROPS} synthetic crops (seed {cfg.seed + 2})")

    return export_with_card(model, run, out, cfg, sample, "plate recognition (cropped plate -> text)",
                            "synthetic plates only (platelab.synth), styles: " + (", ".join(cfg.styles) or "all"),
                            class_scale, command, calibration if int8 else None, styles=cfg.styles)


@dataclass(frozen=True)
class Int8Data:
    """What an 8-bit export is calibrated on ((N, 1, H, W) batches, `source` says what they are) and measured on
    beside the float model."""

    calibration: list[np.ndarray]
    validation: EvalSet
    source: str


def export_with_card(model: PlateRecognizer, run: Path, out: Path, cfg: BaseModel, sample: np.ndarray, task: str,
                     data: str, class_scale: dict[str, float] | None = None, command: str | None = None,
                     int8: Callable[[], Int8Data] | None = None, styles: Sequence[str] = (),
                     carried_formats: Mapping[str, list[dict[str, Any]]] | None = None, **card: Any) -> Path:
    """model -> ONNX at out (with the format prior of every bundled style and of the user's style files among
    styles, the run's, beside carried_formats' countries that those do not draw: a fine-tuning's source model's)
    and its model card; sample: (N, 1, H, W) on which ONNX and torch must agree
    (platelab.train.export.require_agreement), or nothing is written. With int8 (what to calibrate and measure on,
    made once the float model is written), out is the 8-bit model, and the card holds both models' accuracy on its
    validation set."""
    unknown = sorted(set(class_scale or {}) - set(model.charset.chars))
    if unknown:
        raise ValueError(f"class scale for {', '.join(unknown)}: not in the model's charset {model.charset.chars}")
    # the styles the model learnt, from the run's copies where the files moved or were edited since
    formats = {**(carried_formats or {}), **formats_by_country(prior_styles(run_styles(run, styles, note=True)))}
    extra: dict[str, Any] = {"class_scale": class_scale} if class_scale else {}
    with tempfile.TemporaryDirectory() as folder:
        float_path = Path(folder) / out.name
        export_recognizer(model, float_path, formats, {"class_scale": json.dumps(class_scale)} if class_scale else None)
        # int8 too: the 8-bit model is quantized from this float graph. How far 8 bits then move the readings
        # depends on the model and its calibration, so it is measured (accuracy_int8 beside accuracy_float), not bounded
        max_diff = require_agreement(check_export(model, float_path, sample), out)
        if int8:
            data8 = int8()
            kept_float = quantize(float_path, out, data8.calibration, RECOGNIZER_KEPT_FLOAT)
            extra |= {
                "accuracy_int8": {"synthetic": round(_onnx_accuracy(out, data8.validation), 4)},
                "accuracy_float": {"synthetic": round(accuracy(model, data8.validation, model.charset), 4)},
                "int8": {"calibration": data8.source, "kept_float": kept_float,
                         "size_bytes_float": float_path.stat().st_size},
            }
        else:
            publish(float_path, out)
    if command:
        extra["export_command"] = command
    write_model_card(out, run, cfg, task, data, max_diff, **extra, **card)
    return out


def _onnx_accuracy(path: Path, data: EvalSet) -> float:
    """Exact readings of an exported recognizer (no prior, no class scale) on an evaluation set."""
    predictor = RecognitionPredictor(path)
    step = predictor.batch_size
    probs = np.concatenate([predictor.session.run(None, {"image": data.images[i : i + step].numpy()})[0]
                            for i in range(0, len(data.images), step)])
    return exact_share([d.text for d in decode(probs, predictor.charset, predictor.head)], data)


def check_recognizer_recipe(cfg: RecognizerTrainConfig, resume: bool) -> None:
    """Raises what would stop the run after it had written into its folder (platelab.train.loop.check_run), an
    init_from that is not a recognizer this configuration can start from, style weights that match no style, a
    charset without every character the styles' plates carry, or a real validation folder without crop labels."""
    styles = reweighted(select_styles(check_run(cfg, resume) or None), cfg.style_weights)
    missing = sorted(set().union(*(alphabet for s in styles for f in s.formats
                                   for alphabet in format_alphabets(f.patterns, s.all_alphabets))) - set(cfg.charset))
    if missing:
        raise ValueError(f"charset {shown(cfg.charset)} lacks {''.join(missing)}, which the styles' plates carry")
    for folder in cfg.val_real or []:
        real_eval_set(folder)  # decoded once more when the run starts: a few seconds, to refuse what it cannot use
    # last: these read the weights
    if resume:
        check_resumable(cfg.out_dir / CHECKPOINT, PlateRecognizer(Charset(cfg.charset), head=cfg.head))
    else:
        check_initial_weights(cfg)


def run_recognizer_recipe(cfg: RecognizerTrainConfig, resume: bool, export: Path | None) -> None:
    """Train (and export) the run, holding its folder; check_recognizer_recipe first, as the CLI does, so a mistake
    writes nothing."""
    run_recipe(cfg.out_dir, resume, lambda: train_recognizer(cfg, resume=resume, val_real=cfg.val_real or []),
               export, export_run)
