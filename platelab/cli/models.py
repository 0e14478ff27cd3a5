"""`platelab models`: the bundled models or those named, with what trained them and what they read."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def models(
    files: Annotated[list[Path] | None, typer.Argument(
        help="ONNX models to describe (yours: an export or finetune --export); the bundled ones if none")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="each model's whole card, one JSON line each")
    ] = False,
) -> None:
    """The bundled models (or the ONNX files named): size, what trained them, what they read (their cards'
    measured figures) and, for a recognizer, the priors --prior may name with it."""
    import json

    from platelab.eval.measured import summary_lines
    from platelab.predict.recognizer import prior_names
    from platelab.predict.session import ModelLoadError, model_metadata
    from platelab.weights import BUNDLED, default_model, model_card

    named = files or [default_model(name) for name in BUNDLED]
    failed = False
    for path in named:
        try:
            metadata = model_metadata(path)
            task = metadata.get("platelab_task")
            priors = prior_names(json.loads(metadata.get("formats", "{}"))) if task == "recognizer" else None
        except (ModelLoadError, ValueError) as exc:  # a file that is no platelab model: the others are still listed
            named_by = "" if isinstance(exc, ModelLoadError) else f"{path}: "  # a ModelLoadError names the file
            typer.echo(named_by + " ".join(str(exc).split()), err=True)
            failed = True
            continue
        try:
            card = model_card(path) or {}
        except ValueError as exc:  # a card that is not JSON: the model is still listed
            card = {"task": f"(card unreadable: {' '.join(str(exc).split())})"}
        if json_out:
            typer.echo(json.dumps({"name": path.stem, "file": str(path), "card": card}
                                  | ({} if priors is None else {"priors": priors})))
            continue
        typer.echo(f"{path.name}  {path.stat().st_size / 2**20:.1f} MB  {card.get('task', task or '')}")
        if card:
            typer.echo(f"  trained on {card.get('data', 'unknown data')}: {card.get('training_command', '')}")
        else:
            typer.echo(f"  no model card beside it ({path.with_suffix('.card.json').name})")
        for line in summary_lines(card["measured"]) if "measured" in card else _trained_lines(card):
            typer.echo(f"  {line}")
        if priors is not None:
            typer.echo(f"  --prior: {', '.join(priors) or 'none (exported without formats)'}")
    if failed:
        raise typer.Exit(1)


def _trained_lines(card: dict[str, Any]) -> list[str]:
    """What a card without measured figures (a user's export) says of its training: how far, how long, on what,
    and the validation figures it holds ("not measured" where it says nothing)."""
    lines = []
    steps, seconds, hardware = card.get("steps"), card.get("wall_time_s"), card.get("hardware")
    took = [f"{steps} steps" if steps is not None else "",
            f"in {_duration(seconds)}" if isinstance(seconds, (int, float)) else "",
            f"on {hardware}" if hardware else ""]
    if any(took):
        lines.append("trained " + " ".join(part for part in took if part))
    at = f" at step {card['accuracy_at_step']}" if "accuracy_at_step" in card else ""
    for key, what in (("accuracy", f"validation{at}"), ("accuracy_float", "validation, float model"),
                      ("accuracy_int8", "validation, 8-bit model")):
        figures = card.get(key)
        if isinstance(figures, dict) and figures:
            lines.append(f"{what}: " + ", ".join(
                f"{name} {value:.4g}" if isinstance(value, (int, float)) else f"{name} {value}"
                for name, value in figures.items()))
    return lines or ["not measured"]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
