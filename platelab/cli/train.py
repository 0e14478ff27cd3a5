"""`platelab train`, `finetune` and `export`: PyTorch's side (the train extra), each mistake found before a run
writes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer

from platelab.cli.common import StylesOption, fail, require_extra, usage_errors

train_app = typer.Typer(
    no_args_is_help=True, help="Train models on synthetic data (train extra: PyTorch)."
)


def _prepare_model_file(path: Path) -> None:
    """An ONNX file to be written, as prepare_output_file checks one; an existing file only if platelab exported
    it (a re-export replaces its own model, never another network or a file that is no model)."""
    from platelab.io.outputs import OutputError, prepare_output_file
    from platelab.predict.session import ModelLoadError, model_metadata

    prepare_output_file(path, (".onnx",), "model")
    if path.exists():
        try:
            model_metadata(path)
        except ModelLoadError:
            raise OutputError(f"{path}: exists and is not a model platelab exported; remove it or give another "
                              "file") from None


def _check_export(export: Path | None, start: Path | None = None) -> None:
    """An --export path that a run could only refuse once trained, refused now: never the model it starts from,
    and only where a file can be written."""
    if export is not None:
        from platelab.io.outputs import OutputError

        if start is not None and export.resolve() == start.resolve():
            raise OutputError(f"{export}: --export would replace the model the run starts from")
        _prepare_model_file(export)


@contextmanager
def _recipe_errors(recipe: Path | None = None, given: Sequence[Path] = ()) -> Iterator[None]:
    """A mistake found before the run writes anything, as one line: its message, after the recipe's name when the
    mistake is the recipe's (a missing init_from or a held out_dir alone would not say which of several recipes
    holds it), or an OSError's file and cause. A message that starts with a path given on the command line
    (--val-real's folders) is that option's, not the recipe's."""
    try:
        yield
    except ValueError as exc:
        message = str(exc)
        own = recipe is None or message.startswith(tuple(f"{path}: " for path in (recipe, *given)))
        fail(message if own else f"{recipe}: {message}")
    except OSError as exc:
        fail(_os_error_line(exc))


def _os_error_line(exc: OSError) -> str:
    """An OSError as "file: cause" (its own text is "[Errno 30] Read-only file system: 'file'"); one that names
    no file as it says itself."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


@contextmanager
def _training_errors() -> Iterator[None]:
    """What stops a run once started, as one line: a loss that diverged, a checkpoint that cannot be loaded or
    written, a folder another run holds or that cannot be written, a model that cannot be exported where asked."""
    from platelab.io.outputs import OutputError
    from platelab.train.checkpoint import CheckpointError
    from platelab.train.export import ExportMismatch, ExportWriteError
    from platelab.train.loop import RunConfigError, RunInUse, TrainingDiverged
    from platelab.train.onnx_import import OnnxImportError

    try:
        yield
    except (TrainingDiverged, CheckpointError, OnnxImportError, RunConfigError, RunInUse, OutputError,
            ExportMismatch, ExportWriteError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(_os_error_line(exc))


@train_app.command("recognizer")
def train_recognizer(
    config: Annotated[Path, typer.Option(help="training recipe YAML")],
    resume: Annotated[bool, typer.Option(help="continue from the run's last checkpoint")] = False,
    val_real: Annotated[list[Path] | None, typer.Option(
        help="real crops folder(s) with labels.tsv, validated on as it trains (the recipe's val_real; a resumed run "
             "needs the same)")] = None,
    export: Annotated[Path | None, typer.Option(help="write the trained model as ONNX here")] = None,
) -> None:
    """Train the plate recognizer on streamed synthetic crops (train extra)."""
    require_extra("train")
    from pydantic import ValidationError

    from platelab.train.config import RecognizerTrainConfig, load_train_config
    from platelab.train.recipe import check_recognizer_recipe, run_recognizer_recipe
    from platelab.utils.config_file import first_problem

    with _recipe_errors(config, given=val_real or []):
        cfg = load_train_config(config)
        if val_real:
            try:
                cfg = RecognizerTrainConfig.model_validate({**cfg.model_dump(), "val_real": val_real})
            except ValidationError as exc:
                fail(f"--val-real: {first_problem(exc)[1]}")
        check_recognizer_recipe(cfg, resume)
    _train(cfg.out_dir, cfg.init_from, export, lambda: run_recognizer_recipe(cfg, resume=resume, export=export))


@train_app.command("detector")
def train_detector(
    config: Annotated[Path, typer.Option(help="training recipe YAML")],
    resume: Annotated[bool, typer.Option(help="continue from the run's last checkpoint")] = False,
    export: Annotated[Path | None, typer.Option(help="write the trained model as ONNX here")] = None,
) -> None:
    """Train the plate detector on streamed synthetic scenes (train extra)."""
    require_extra("train")
    from platelab.train.config import load_detector_config
    from platelab.train.detector import check_detector_recipe, run_detector_recipe

    with _recipe_errors(config):
        cfg = load_detector_config(config)
        check_detector_recipe(cfg, resume)
    _train(cfg.out_dir, cfg.init_from, export, lambda: run_detector_recipe(cfg, resume=resume, export=export))


def _train(out_dir: Path, init_from: Path | None, export: Path | None, run: Callable[[], None]) -> None:
    """A checked recipe's run: --export refused first if it cannot be written, the run (and its export), then what
    was written."""
    with _recipe_errors():
        _check_export(export, init_from)
    with _training_errors():
        run()
    typer.echo(f"trained {out_dir}" + (f" and wrote {export}" if export else ""))


@train_app.command("config")
def train_config(
    task: Annotated[Literal["recognizer", "detector"], typer.Argument(help="recognizer or detector")] = "recognizer",
) -> None:
    """Every key of a training recipe with its default and meaning (a recipe YAML sets any of them; `extends: FILE`
    starts from another recipe, its path relative to the recipe; out_dir and init_from are relative to where you
    run). Needs no extra: the keys can be read before PyTorch is installed."""
    from platelab.synth.config import describe
    from platelab.train.config import DetectorTrainConfig, RecognizerTrainConfig

    typer.echo(describe(DetectorTrainConfig if task == "detector" else RecognizerTrainConfig))


@train_app.command("interpolate")
def train_interpolate(
    start: Annotated[Path, typer.Option(
        "--from", help="the weights a run started from: checkpoint, float ONNX, or 'bundled'")],
    end: Annotated[Path, typer.Option("--to", help="a recognizer run trained on from them (last.ckpt + config)")],
    out: Annotated[Path, typer.Option(help="run folder to write (for platelab export)")],
    weight: Annotated[float, typer.Option(min=0.0, max=1.0, help="share of --to's weights")] = 0.5,
    val_real: Annotated[list[Path] | None, typer.Option(help="real crops folder(s) with labels.tsv")] = None,
) -> None:
    """Average a trained-on recognizer with its starting point (norm statistics measured again; train extra)."""
    require_extra("train")
    from platelab.train.card import last_metrics, record_command, validation_figures
    from platelab.train.config import resolve_bundled
    from platelab.train.interpolate import interpolate_run
    from platelab.train.recognizer import read_real_labels

    start = resolve_bundled(start)
    runs = {end.resolve(), (start if start.is_dir() else start.parent).resolve()}
    if out.resolve() in runs:
        fail(f"{out}: --out would replace the run it averages; give another folder")
    if start.is_dir():  # a run folder: which of its weights is meant is --to's question, not --from's
        fail(f"{start}: a folder; --from takes a checkpoint file ({start / 'last.ckpt'}), a float ONNX recognizer "
              "or 'bundled'")
    for given in (start, end / "last.ckpt"):
        if not given.is_file():
            fail(f"{given}: not found (--from is a checkpoint or float ONNX file, --to a run folder)")
    try:
        for folder in val_real or []:
            read_real_labels(folder)
        interpolate_run(start, end, weight, out, val_real or [])  # refuses an --out that holds a run already
        record_command(out, resume=False)  # once written: a run it refused keeps its own, or none
    except OSError as exc:
        fail(_os_error_line(exc))
    except ValueError as exc:
        fail(" ".join(str(exc).split()))
    # the average's figures: far under --to's say --from was not what --to was trained on from
    figures = validation_figures(last_metrics(out))
    typer.echo(f"wrote {out}: " + ", ".join(f"{name} {value:.1%}" for name, value in figures.items()))


def finetune(
    from_run: Annotated[Path, typer.Option(
        "--from", help="training run folder (last.ckpt + config.json), a float ONNX recognizer, or 'bundled'")],
    data: Annotated[Path, typer.Option(help="labels.tsv folder: real crops, or photos with plates marked")],
    freeze: Annotated[str, typer.Option(help="backbone | none | first-K")] = "none",
    charset: Annotated[str | None, typer.Option(help="new character set (replaces the output head)")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    out: Annotated[Path, typer.Option(help="run folder for checkpoints and metrics")] = Path("runs/finetune"),
    resume: Annotated[bool, typer.Option(help="continue from the run's last checkpoint")] = False,
    export: Annotated[Path | None, typer.Option(help="write the fine-tuned model as ONNX here")] = None,
    holdout: Annotated[float, typer.Option(
        min=0, max=0.99, help="share of the plates held out to validate on (0: learn from all)")] = 0.2,
    synth_share: Annotated[float, typer.Option(
        min=0, max=1, help="share of each batch that is synthetic plates of the --styles: more keeps more of how "
                           "the model reads those, less learns --data's plates best")] = 0.5,
    styles: StylesOption = None,
    seed: Annotated[int, typer.Option(
        min=0, help="seeds the held-out split, the synthetic plates and the new head (its synthetic plates are those "
                    "`synth crops --seed` writes of the --styles)")] = 0,
) -> None:
    """Adapt a trained recognizer to a region from a few real crops or labelled photos (synthetic samples mixed in;
    train extra)."""
    require_extra("train")
    from pydantic import ValidationError

    from platelab.synth.style import anchored
    from platelab.train.finetune import FinetuneConfig
    from platelab.train.finetune import finetune as run_finetune
    from platelab.utils.config_file import first_problem

    if from_run.is_dir() and out.resolve() == from_run.resolve():
        fail(f"{out}: --out would replace the run it starts from; give another folder")
    if resume and not (out / "last.ckpt").exists():  # before the model loads: the usual slip, said at once
        fail(f"{out}: no last.ckpt to resume; run without --resume to start it")
    try:
        _check_export(export, from_run)
    except (ValueError, OSError) as exc:
        fail(str(exc))
    try:
        cfg = FinetuneConfig(from_run=from_run, data=data, freeze=freeze, charset=charset, epochs=epochs,
                             out_dir=out, export=export, val_fraction=holdout, synth_share=synth_share,
                             styles=anchored(styles or [], Path.cwd()), seed=seed)
        with usage_errors(), _training_errors():
            run_finetune(cfg, resume=resume)
    except ValidationError as exc:
        field, message = first_problem(exc)
        given = {"from_run": "--from", "val_fraction": "--holdout", "out_dir": "--out"}
        fail(f"{given.get(field, '--' + field.replace('_', '-'))}: {message}")
    except ValueError as exc:
        fail(" ".join(str(exc).split()))
    typer.echo(f"wrote {out}" + (f" and {export}" if export else ""))


def export(
    run: Annotated[Path, typer.Argument(help="training run folder (holds last.ckpt and config.json)")],
    out: Annotated[Path, typer.Option(help="ONNX file to write (replaces a file there only if platelab exported it)")],
    int8: Annotated[bool, typer.Option(help="8-bit weights and activations, calibrated on synthetic scenes or "
                                            "crops (about half the CPU time)")] = False,
    class_scale: Annotated[list[str] | None, typer.Option(
        help="recognizers: CHAR=FACTOR, repeatable; decoding multiplies that character's probability by "
             "FACTOR (a class the network under-reads on real plates). A fine-tuning run keeps the scale of the "
             "ONNX model it started from (bundled: M=4, W=4) unless this is given, which replaces the whole "
             "scale (name each character to keep; M=1 alone drops it)")] = None,
) -> None:
    """Export a trained run (recognizer or detector) to ONNX, with its model card beside it (train extra)."""
    require_extra("train")
    import shlex
    from functools import partial

    from platelab.train.loop import RunConfigError, read_run_config

    config = run / "config.json"
    if not config.exists() or not (run / "last.ckpt").exists():
        fail(f"{run}: not a training run (no config.json and last.ckpt)")
    with usage_errors():
        _prepare_model_file(out)
    try:
        task = read_run_config(run).get("task")
    except RunConfigError as exc:
        fail(str(exc))
    if class_scale and task == "detector":
        fail(f"{run}: --class-scale is for recognizer and fine-tuning runs (this one is a {task} run)")
    export_run: Callable[[Path, Path], Path]
    if task == "detector":
        from platelab.train.detector import export_detector_run

        export_run = partial(export_detector_run, int8=int8)
    else:
        from platelab.train.finetune import export_finetune_run
        from platelab.train.recipe import export_run as export_recognizer_run

        export_run = export_finetune_run if task == "finetune" else export_recognizer_run
        command = shlex.join(["platelab", "export", str(run), "--out", str(out), *(["--int8"] if int8 else []),
                              *(arg for entry in class_scale or [] for arg in ("--class-scale", entry))])
        scale = _class_scale(class_scale) if class_scale else None
        export_run = partial(export_run, class_scale=scale, command=command, int8=int8)
    try:
        with usage_errors():
            typer.echo(f"wrote {export_run(run, out)}")
    except ValueError as exc:
        fail(str(exc))


def _class_scale(entries: list[str]) -> dict[str, float]:
    """["M=4", "W=4"] -> {"M": 4.0, "W": 4.0}; a malformed entry ends the command with a one-line error."""
    scale = {}
    for entry in entries:
        char, _, factor = entry.partition("=")
        try:
            value = float(factor)
        except ValueError:
            value = 0.0
        if len(char) != 1 or not 0 < value < math.inf:  # inf times a probability of 0 is NaN: a model reading nothing
            fail(f"--class-scale {entry!r}: expected CHAR=FACTOR with a positive finite factor, e.g. M=4")
        scale[char.upper()] = value
    return scale
