"""The `platelab` command: a thin layer over the Python API, one subcommand per job."""

from __future__ import annotations

import io
import math
import os
import signal
import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TextIO

import typer

from platelab.predict.thresholds import MIN_CHARACTERS, MIN_SCORE, PHOTO_MIN_CONFIDENCE, WATCH_CANDIDATES
from platelab.utils.extras import install_hint

if TYPE_CHECKING:
    from platelab.io.results import ImageResult

PRIOR_HELP = "plate-format prior: a country, e.g. 'us', or 'auto' (each plate under the country its formats fit best)"

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Licence plate recognition trained on synthetic plates."
)
synth_app = typer.Typer(no_args_is_help=True,
                        help="Render synthetic plates: crops, scenes, style sheets; config: the engine's settings.")
train_app = typer.Typer(
    no_args_is_help=True, help="Train models on synthetic data (train extra: PyTorch)."
)
app.add_typer(synth_app, name="synth")
app.add_typer(train_app, name="train")


def _print_version(asked: bool) -> None:
    if asked:
        from platelab import __version__

        typer.echo(f"platelab {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="print platelab's version and stop")] = False,
) -> None:
    """Licence plate recognition trained on synthetic plates."""
    _lenient_stdout()
    # Pillow warns of metadata it skips as it loads a damaged file's pixels (a TIFF tag longer than the file): the
    # pixels are read or the file gets its one-line error, and two lines of Python's warning beside it, naming no
    # file, are noise in a batch's output. (Decoding silences the header's warnings itself, under a lock that
    # loading every file's pixels should not queue on.)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")


def _lenient_stdout() -> None:
    """Output that the encoding of stdout cannot hold is written as \\u escapes, not a traceback that ends the batch:
    on Windows, output redirected to a file or a pipe is in the legacy code page (cp1252), which has no decomposed
    accents, emoji or Cyrillic for the file names and plates printed (stderr escapes so already)."""
    if isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout.errors == "strict":
        sys.stdout.reconfigure(errors="backslashreplace")

TtaOption = Annotated[
    bool, typer.Option("--tta", help="read each crop at small moves and let the readings vote (5x reading time)")
]
CandidatesOption = Annotated[
    int, typer.Option(min=1, help="list up to N of each plate's most likely texts (to match against a list of "
                                   "plates)")
]
StylesOption = Annotated[
    list[str] | None, typer.Option("--styles", help="style name, region or country globs (us-tex*, ny, br), or a "
                                   "style file (.yaml) or a folder of them (written with a slash: my-styles/); "
                                   "repeatable")
]


def _bar_wanted(prints_as_it_goes: bool) -> bool:
    """A progress bar goes to a terminal's stderr; a command that prints as it goes shows its own progress when
    its output is on that terminal too, so it gets a bar only when its output is redirected."""
    return _on_terminal(sys.stderr) and not (prints_as_it_goes and _on_terminal(sys.stdout))


def _on_terminal(stream: TextIO | None) -> bool:
    return stream is not None and stream.isatty()  # None: the descriptor was closed when Python started


# what each optional extra brings (pyproject.toml), by the modules a command imports from it; python_multipart
# too: serve imports it by that name, which python-multipart before 0.0.13 does not have
_EXTRAS = {"train": ("torch", "onnx"), "serve": ("fastapi", "uvicorn", "python_multipart")}


def _require_extra(extra: str) -> None:
    """A command whose extra is not installed ends with one line naming it, not an ImportError's traceback."""
    from importlib.util import find_spec

    missing = [module for module in _EXTRAS[extra] if find_spec(module) is None]
    if missing:
        _fail(f"this command needs the {extra} extra ({', '.join(missing)} not installed): {install_hint(extra)}"
              + (" (the README says which PyTorch build)" if extra == "train" else ""))


def _fail(message: str) -> None:
    typer.secho(f"platelab: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM taken as Ctrl-C while a stream is read: systemd, docker stop and kill end a service with it, and a
    stream's plates still in view are printed before it ends, as for Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _usage_errors() -> Iterator[None]:
    """What a user can fix (a missing path, a model that does not load, an unknown prior, a broken labels file, an
    output that would replace what it must not, a folder that is a file, a style or font that cannot be used) as one
    line and exit status 2, not a traceback."""
    from platelab.io.labels import LabelError
    from platelab.io.outputs import OutputError
    from platelab.predict.recognizer import PriorError
    from platelab.predict.session import ModelLoadError
    from platelab.predict.watch import WatchListError
    from platelab.utils.errors import ConfigError

    try:
        yield
    except BrokenPipeError:  # not the user's mistake: whoever read the output has stopped (read handles it)
        raise
    except (ModelLoadError, PriorError, LabelError, WatchListError, OutputError, ConfigError, OSError) as exc:
        _fail(str(exc))


# more in one set is a slip of the keyboard, and a count past C's integers ended in a traceback after the folder
# was made
MAX_SYNTH_COUNT = 10_000_000


@synth_app.command("crops")
def synth_crops(
    out: Annotated[Path, typer.Option(help="output folder")],
    count: Annotated[int, typer.Option(min=1, max=MAX_SYNTH_COUNT)] = 64,
    styles: StylesOption = None,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    config: Annotated[
        Path | None, typer.Option(help="synthesis config YAML (see `platelab synth config`)")
    ] = None,
    preview: Annotated[bool, typer.Option(help="also write preview.png, a montage")] = False,
) -> None:
    """Recognition crops: PNG files and labels.tsv (file, state, plate)."""
    _synth("crops", out, count, styles, seed, config, preview)


@synth_app.command("scenes")
def synth_scenes(
    out: Annotated[Path, typer.Option(help="output folder")],
    count: Annotated[int, typer.Option(min=1, max=MAX_SYNTH_COUNT)] = 16,
    styles: StylesOption = None,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    config: Annotated[Path | None, typer.Option(help="synthesis config YAML")] = None,
    preview: Annotated[bool, typer.Option(help="also write preview.png, a montage")] = False,
    layout: Annotated[Literal["tsv", "yolo", "yolo-pose"], typer.Option(
        "--format", help="tsv: labels.tsv beside the images; yolo: also the Ultralytics YOLO layout (images/, "
        "labels/, data.yaml) with plate boxes; yolo-pose: boxes plus the 4 corners as keypoints")] = "tsv",
) -> None:
    """Detection scenes: JPEG files and labels.tsv (file, x, y, w, h, plate, corners)."""
    _synth("scenes", out, count, styles, seed, config, preview, layout=layout)


def _synth(
    kind: str,
    out: Path,
    count: int,
    styles: list[str] | None,
    seed: int,
    config: Path | None,
    preview: bool,
    **options: str,
) -> None:
    from platelab.io.outputs import PREVIEW_NAME
    from platelab.synth.config import load_synth_config
    from platelab.synth.style import drawable_styles
    from platelab.synth.writer import WRITERS, YOLO_DATA, YOLO_FORMATS
    from platelab.utils.errors import ConfigError

    try:
        chosen = drawable_styles(styles)
        cfg = load_synth_config(config)
    except ConfigError as exc:
        _fail(str(exc))
    with _usage_errors():
        labels = WRITERS[kind](out, count, chosen, seed, cfg, preview, progress=_bar_wanted(prints_as_it_goes=False),
                               **options)
    written = [labels]
    if options.get("layout") in YOLO_FORMATS:
        written.append(out / YOLO_DATA)
    if preview:
        written.append(out / PREVIEW_NAME)
    typer.echo(f"wrote {count} {kind} and " + " and ".join(map(str, written)))


@synth_app.command("styles")
def synth_styles(
    sheet: Annotated[Path | None, typer.Option(help="write a PNG sheet with samples of every style")] = None,
    samples: Annotated[int, typer.Option(min=1, help="plates per style on the sheet")] = 3,
    styles: StylesOption = None,
) -> None:
    """List the plate styles (all bundled ones, or those --styles chooses); optionally draw a sheet of them."""
    from platelab.synth.fonts import FONT_DIRS_ENV, fonts_install_hint
    from platelab.synth.style import check_drawable, missing_fonts, select_styles
    from platelab.utils.errors import ConfigError

    try:
        chosen = select_styles(styles)
    except ConfigError as exc:
        _fail(str(exc))
    undrawable = 0
    for style in chosen:
        missing = missing_fonts(style)
        undrawable += bool(missing)
        note = f" [cannot be drawn here: {', '.join(missing)} not installed]" if missing else ""
        typer.echo(f"{style.name:24s} {style.region:8s} {style.description}{note}")
    if undrawable:
        typer.echo(f"{undrawable} style(s) need fonts that are not installed ({fonts_install_hint()}), or a folder "
                   f"of them in {FONT_DIRS_ENV}", err=True)
    if sheet:
        try:
            check_drawable(chosen)
        except ConfigError as exc:
            _fail(str(exc))
    if sheet:
        from platelab.io.outputs import IMAGE_OUTPUTS, prepare_output_file
        from platelab.synth.sheet import write_style_sheet

        with _usage_errors():
            prepare_output_file(sheet, IMAGE_OUTPUTS, "style sheet")
            write_style_sheet(sheet, samples, chosen)
        typer.echo(f"wrote {sheet}")


@synth_app.command("config")
def synth_config() -> None:
    """Print every synthesis parameter with its default, range and meaning (YAML)."""
    from platelab.synth.config import describe

    typer.echo(describe())


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
def _recipe_errors() -> Iterator[None]:
    """A recipe's mistake, found before its run writes anything, as one line: its message, or the file and cause."""
    try:
        yield
    except ValueError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error_line(exc))


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
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error_line(exc))


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
    _require_extra("train")
    from pydantic import ValidationError

    from platelab.train.config import RecognizerTrainConfig, load_train_config
    from platelab.train.recipe import check_recognizer_recipe, run_recognizer_recipe
    from platelab.utils.config_file import first_problem

    with _recipe_errors():
        try:
            cfg = load_train_config(config)
            if val_real:
                cfg = RecognizerTrainConfig.model_validate({**cfg.model_dump(), "val_real": val_real})
            check_recognizer_recipe(cfg, resume)
            _check_export(export, cfg.init_from)
        except ValidationError as exc:
            _fail(f"--val-real: {first_problem(exc)[1]}")
    with _training_errors():
        run_recognizer_recipe(cfg, resume=resume, export=export)
    typer.echo(f"trained {cfg.out_dir}" + (f" and wrote {export}" if export else ""))


@train_app.command("detector")
def train_detector(
    config: Annotated[Path, typer.Option(help="training recipe YAML")],
    resume: Annotated[bool, typer.Option(help="continue from the run's last checkpoint")] = False,
    export: Annotated[Path | None, typer.Option(help="write the trained model as ONNX here")] = None,
) -> None:
    """Train the plate detector on streamed synthetic scenes (train extra)."""
    _require_extra("train")
    from platelab.train.config import load_detector_config
    from platelab.train.detector import check_detector_recipe, run_detector_recipe

    with _recipe_errors():
        cfg = load_detector_config(config)
        check_detector_recipe(cfg, resume)
        _check_export(export, cfg.init_from)
    with _training_errors():
        run_detector_recipe(cfg, resume=resume, export=export)
    typer.echo(f"trained {cfg.out_dir}" + (f" and wrote {export}" if export else ""))


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
    _require_extra("train")
    from platelab.train.card import last_metrics, record_command, validation_figures
    from platelab.train.config import resolve_bundled
    from platelab.train.interpolate import interpolate_run
    from platelab.train.recognizer import read_real_labels

    start = resolve_bundled(start)
    runs = {end.resolve(), (start if start.is_dir() else start.parent).resolve()}
    if out.resolve() in runs:
        _fail(f"{out}: --out would replace the run it averages; give another folder")
    if start.is_dir():  # a run folder: which of its weights is meant is --to's question, not --from's
        _fail(f"{start}: a folder; --from takes a checkpoint file ({start / 'last.ckpt'}), a float ONNX recognizer "
              "or 'bundled'")
    for given in (start, end / "last.ckpt"):
        if not given.is_file():
            _fail(f"{given}: not found (--from is a checkpoint or float ONNX file, --to a run folder)")
    try:
        for folder in val_real or []:
            read_real_labels(folder)
        interpolate_run(start, end, weight, out, val_real or [])  # refuses an --out that holds a run already
        record_command(out, resume=False)  # once written: a run it refused keeps its own, or none
    except OSError as exc:
        _fail(_os_error_line(exc))
    except ValueError as exc:
        _fail(" ".join(str(exc).split()))
    # the average's figures: far under --to's say --from was not what --to was trained on from
    figures = validation_figures(last_metrics(out))
    typer.echo(f"wrote {out}: " + ", ".join(f"{name} {value:.1%}" for name, value in figures.items()))


@app.command("finetune")
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
    _require_extra("train")
    from pydantic import ValidationError

    from platelab.synth.style import anchored
    from platelab.train.finetune import FinetuneConfig
    from platelab.train.finetune import finetune as run_finetune
    from platelab.utils.config_file import first_problem

    if from_run.is_dir() and out.resolve() == from_run.resolve():
        _fail(f"{out}: --out would replace the run it starts from; give another folder")
    if resume and not (out / "last.ckpt").exists():  # before the model loads: the usual slip, said at once
        _fail(f"{out}: no last.ckpt to resume; run without --resume to start it")
    try:
        _check_export(export, from_run)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    try:
        cfg = FinetuneConfig(from_run=from_run, data=data, freeze=freeze, charset=charset, epochs=epochs,
                             out_dir=out, export=export, val_fraction=holdout, synth_share=synth_share,
                             styles=anchored(styles or [], Path.cwd()), seed=seed)
        with _usage_errors(), _training_errors():
            run_finetune(cfg, resume=resume)
    except ValidationError as exc:
        field, message = first_problem(exc)
        given = {"from_run": "--from", "val_fraction": "--holdout", "out_dir": "--out"}
        _fail(f"{given.get(field, '--' + field.replace('_', '-'))}: {message}")
    except ValueError as exc:
        _fail(" ".join(str(exc).split()))
    typer.echo(f"wrote {out}" + (f" and {export}" if export else ""))


@app.command("export")
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
    _require_extra("train")
    import shlex
    from collections.abc import Callable
    from functools import partial

    from platelab.train.loop import RunConfigError, read_run_config

    config = run / "config.json"
    if not config.exists() or not (run / "last.ckpt").exists():
        _fail(f"{run}: not a training run (no config.json and last.ckpt)")
    with _usage_errors():
        _prepare_model_file(out)
    try:
        task = read_run_config(run).get("task")
    except RunConfigError as exc:
        _fail(str(exc))
    if class_scale and task == "detector":
        _fail(f"{run}: --class-scale is for recognizer and fine-tuning runs (this one is a {task} run)")
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
        with _usage_errors():
            typer.echo(f"wrote {export_run(run, out)}")
    except ValueError as exc:
        _fail(str(exc))


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
            _fail(f"--class-scale {entry!r}: expected CHAR=FACTOR with a positive finite factor, e.g. M=4")
        scale[char.upper()] = value
    return scale


@app.command("read")
def read(
    paths: Annotated[list[str] | None, typer.Argument(help="image or video files, folders or globs")] = None,
    crops: Annotated[bool, typer.Option("--crops", help="inputs are cropped plates: skip detection")] = False,
    json_lines: Annotated[
        bool, typer.Option("--json", help="one JSON object per image or video (--stream: per plate)")
    ] = False,
    draw: Annotated[
        Path | None, typer.Option(help="folder for copies of the photos (and MP4s of the videos) with plates outlined")
    ] = None,
    prior: Annotated[str | None, typer.Option(help=PRIOR_HELP)] = None,
    model: Annotated[Path | None, typer.Option(help="recognizer ONNX (the bundled one by default)")] = None,
    detector: Annotated[Path | None, typer.Option(help="detector ONNX (the bundled one by default)")] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(min=0, max=1,
                     help=f"drop plates read less surely (default: 0 crops, {PHOTO_MIN_CONFIDENCE} photos)"),
    ] = None,
    min_score: Annotated[float, typer.Option(min=0, max=1, help="detector score a plate needs")] = MIN_SCORE,
    min_chars: Annotated[
        int, typer.Option(min=0, help="photos: readings with fewer characters are fragments, not plates")
    ] = MIN_CHARACTERS,
    refine: Annotated[
        bool, typer.Option("--refine/--no-refine", help="re-detect plates in zoomed views (slower, reads small plates)")
    ] = True,
    tta: TtaOption = False,
    every: Annotated[int, typer.Option(min=1, help="videos and streams: read every Nth frame")] = 1,
    candidates: Annotated[
        int | None,
        typer.Option(min=1, help=f"list up to N of each plate's most likely texts (1; {WATCH_CANDIDATES} with "
                                 "--watch)"),
    ] = None,
    watch: Annotated[
        Path | None, typer.Option(help="file of wanted plates, one a line: plates that may be one are marked")
    ] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="--watch: O and 0, I and 1, ... are different characters")
    ] = False,
    stream: Annotated[
        str | None,
        typer.Option(help="a camera (0, 1, ...) or stream URL (rtsp://...): each plate printed as it passes"),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="photos and videos: processes reading at once (2 on 2 cores: about 2x as fast)")
    ] = 1,
    reconnect: Annotated[
        float | None, typer.Option(min=0, help="--stream: open it again this many seconds after it drops")
    ] = None,
    labels_out: Annotated[Path | None, typer.Option(
        "--labels-out", help="also write a labels.tsv draft of what was read, to correct and give to `platelab "
        "finetune --data` or `eval`: a row per plate printed (so --min-confidence applies as given; 0 drafts the "
        "unsure ones too), names relative to its folder (which must hold every file read), boxes as --json gives "
        "them; photos 'file x y w h plate', --crops 'file state plate' with state xx. A folder gets labels.tsv. It "
        "replaces only a draft platelab wrote that no one has edited since (.NAME.platelab-draft beside it holds its "
        "digest); any other file there is refused")] = None,
    save_plates: Annotated[Path | None, typer.Option(
        "--save-plates", help="folder for each plate printed as the crop it was read from (PNG, at the photo's "
        "resolution): NAME.plate<N>.png for a photo NAME.jpg, its subfolders kept, N its place in the photo's "
        "plates; and labels.tsv of them as read ('file state plate', state xx), for `platelab eval` or `finetune "
        "--data` once corrected. Photos only. The folder must be new, empty or platelab's own (--draw's rules); "
        "its labels.tsv is replaced only if no one has edited it")] = None,
) -> None:
    """Read plates; prints one line per plate (or per image with --json). Exit status 1 if any file failed.

    A video's plates are followed from frame to frame, one line each, with the seconds they were seen.
    With --candidates N each plate's line is followed by up to N of its most likely texts and their confidences.
    With --watch FILE a plate whose text or candidates are on the list (look-alikes counted as one unless
    --exact) ends its line with "wanted: TEXT" ("wanted" in JSON).
    With --stream, plates are followed through a camera's or a stream's frames and each is printed once it has
    passed (Ctrl-C prints those still in view and stops).
    With no paths it renders a sample photo into ./platelab-demo and reads it.
    """
    from platelab.api import MAX_RECONNECT_S, photo_options_given, read_paths, read_stream

    if crops and draw is not None:
        _fail("--draw outlines the plates found in photos; cropped plates (--crops) have none to outline")
    if crops and save_plates is not None:
        _fail("--save-plates saves the plates found in photos; cropped plates (--crops) are crops already")
    ignored = photo_options_given(detector, min_score, refine, min_chars, every)
    if crops and ignored:
        flags = ["--no-refine" if name == "refine" else "--" + name.replace("_", "-") for name in ignored]
        _fail(f"{', '.join(flags)}: for photos and videos; --crops skips detection")
    if stream is not None and not stream.strip():
        _fail("--stream: empty; give a camera number (0, 1, ...) or a stream URL (rtsp://...)")
    if stream is not None and (paths or crops or draw is not None or workers > 1):
        _fail("--stream reads a camera or a stream alone: no paths, --crops, --draw or --workers with it")
    if reconnect is not None and stream is None:
        _fail("--reconnect is for --stream")
    if exact and watch is None:
        _fail("--exact is for --watch: it makes the list's O and 0, I and 1, ... different characters")
    if reconnect is not None and not reconnect <= MAX_RECONNECT_S:  # typer's min=0 has refused the negative ones
        _fail(f"--reconnect: {reconnect:g} s; at most {MAX_RECONNECT_S:g} (a day)")
    if labels_out is not None and stream is not None:
        _fail("--labels-out drafts labels of photo files; a stream's frames are not files a row can name")
    if save_plates is not None and stream is not None:
        _fail("--save-plates saves the plates of photo files; a stream's plates are read across frames")
    if crops and workers > 1:
        _fail("--workers is for photos and videos; cropped plates (--crops) are read in batches already")
    watch_list = None
    if watch is not None:
        from platelab.predict.watch import WatchList

        with _usage_errors():
            watch_list = WatchList.load(watch, look_alikes=not exact)
    if not paths and stream is None:
        from platelab.synth.demo import write_demo

        with _usage_errors():
            demo = write_demo()
        typer.echo(f"no input given: reading {demo}, rendered just now (truth in {demo.parent}/labels.tsv)", err=True)
        paths = [str(demo)]
    draft: tuple[Path, list[str]] | None = None
    if labels_out is not None:
        with _usage_errors():
            draft = _draft_names(labels_out, paths or [], draw, save_plates)
    if stream is not None:
        results = read_stream(stream, prior=prior, model=model, detector=detector, min_confidence=min_confidence,
                              min_score=min_score, refine=refine, min_chars=min_chars, tta=tta, every=every,
                              candidates=candidates, watch=watch_list, reconnect=reconnect)
    else:
        results = read_paths(paths or [], crops=crops, prior=prior, model=model, detector=detector,
                             min_confidence=min_confidence, draw=draw, min_score=min_score, refine=refine,
                             min_chars=min_chars, tta=tta, every=every,
                             progress=_bar_wanted(prints_as_it_goes=True), candidates=candidates, watch=watch_list,
                             workers=workers, save_plates=save_plates)
    drafted: list[ImageResult] = []
    if draft is not None or save_plates is not None:
        results = _kept(results, drafted)
    try:
        if stream is None:
            failed = _print_results(results, json_lines, show_candidates=candidates is not None)
        else:
            with _terminate_as_interrupt():
                failed = _print_results(results, json_lines, show_candidates=candidates is not None)
    except KeyboardInterrupt:
        if stream is None:
            raise
        failed = 0  # Ctrl-C (or SIGTERM) is how a stream is ended: the plates in view were printed before it came on
    except BrokenPipeError:  # `platelab read ... | head`: the reader of our output has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if draft is None and save_plates is None:
            return
        # the draft and the crops' labels need every file read: the rest are read with their lines going nowhere,
        # and every file's error counts, those before the break too
        _print_results(results, json_lines, show_candidates=candidates is not None)
        failed = sum(result.error is not None for result in drafted)
    if draft is not None:
        _write_draft(*draft, drafted, crops)
    if save_plates is not None:
        saved = sum(len(result.plates) for result in drafted if result.error is None)
        typer.echo(f"wrote {saved} plate crop(s) to {save_plates} and their texts as read to "
                   f"{save_plates / 'labels.tsv'}; correct the texts that are wrong", err=True)
    if failed:
        # a stream's error line above names it; a count of files would not fit it
        typer.secho("the stream could not be read" if stream is not None else f"{failed} file(s) could not be read",
                    err=True)
        raise typer.Exit(1)


def _draft_names(labels_out: Path, paths: list[str], draw: Path | None, save_plates: Path | None
                 ) -> tuple[Path, list[str]]:
    """The labels draft's file and each file's name in it, in the order read, checked before anything is read: no
    video (its frames are not files), every file under the draft's folder, no file of the user's replaced."""
    from platelab.api import input_files
    from platelab.io.labels import LABELS_FILE, labels_path, names_in
    from platelab.io.outputs import OutputError, prepare_draft_file
    from platelab.io.video import is_video

    target = labels_path(labels_out)
    files = input_files(paths, draw, save_plates)
    video = next((name for path, name in files if is_video(path)), None)
    if video is not None:
        raise OutputError(f"{video}: a video; --labels-out drafts labels of photos, and a video's frames are not "
                          "files a row can name (leave the videos out)")
    if save_plates is not None and target.resolve() == (save_plates / LABELS_FILE).resolve():
        raise OutputError(f"{target}: --save-plates writes the crops' labels there; give --labels-out another file")
    names = names_in(target.parent, [path for path, _ in files])
    prepare_draft_file(target, (".tsv",), "labels draft")
    return target, names


def _kept(results: Iterable[ImageResult], into: list[ImageResult]) -> Iterator[ImageResult]:
    for result in results:
        into.append(result)
        yield result


def _write_draft(target: Path, names: list[str], results: list[ImageResult], crops: bool) -> None:
    from platelab.io.labels import write_label_draft

    with _usage_errors():
        rows, nothing = write_label_draft(target, zip(names, results, strict=True), "crops" if crops else "photos")
    typer.echo(f"wrote {target}: {rows} plate(s) as read; correct the texts that are wrong", err=True)
    if nothing:
        noun = ("crop" if crops else "photo") + ("s" if len(nothing) > 1 else "")
        # a photo's row says it holds no plate, which eval scores for false plates; a crop always holds one
        rows_say = "add their rows by hand" if crops else "their rows say they hold none; add any plates by hand"
        typer.echo(f"{len(nothing)} {noun} with no plate found: {rows_say} ({', '.join(map(_escaped, nothing))})",
                   err=True)


def _print_results(results: Iterable[ImageResult], json_lines: bool, show_candidates: bool) -> int:
    """Each result as it comes, one JSON line or one line a plate (errors on stderr); the number of errors."""
    from platelab.io.results import to_json_line

    failed = 0
    with _usage_errors():
        for found in results:
            # the candidates a watch list was matched on are shown only when asked for
            result = found if show_candidates else found.without_candidates()
            failed += result.error is not None
            if json_lines:
                typer.echo(to_json_line(result))
            elif result.error:
                typer.secho(result.error, err=True, fg=typer.colors.RED)
            else:
                for p in result.plates:
                    seen = f"\t{p.seconds[0]:.2f}-{p.seconds[1]:.2f}s" if p.seconds else ""
                    wanted = f"\twanted: {p.wanted}" if p.wanted else ""
                    typer.echo(f"{_escaped(result.file)}\t{p.text}\t{p.confidence:.3f}\t{','.join(map(str, p.box))}"
                               f"{seen}{wanted}")
                    for candidate in p.candidates:
                        typer.echo(f"  {candidate.text}\t{candidate.confidence:.3f}")
    return failed


def _escaped(name: str) -> str:
    """A file name as one field of a tab-separated line: tabs, newlines and other control characters escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to bind; keep loopback behind a reverse proxy")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="server processes")] = 1,
    api_key: Annotated[str | None, typer.Option(
        envvar="PLATELAB_API_KEY", help="key every /v1 request must carry (X-API-Key: KEY or Authorization: Bearer KEY)"
    )] = None,
    max_upload_mb: Annotated[float | None, typer.Option(
        min=0.01, envvar="PLATELAB_MAX_UPLOAD_MB", help="largest accepted request body \\[default: 20]")] = None,
    timeout: Annotated[float | None, typer.Option(
        min=0.1, envvar="PLATELAB_TIMEOUT", help="seconds a reading may take once the upload is in \\[default: 10]"
    )] = None,
    prior: Annotated[str | None, typer.Option(envvar="PLATELAB_PRIOR", help=PRIOR_HELP)] = None,
    candidates: Annotated[
        int | None,
        typer.Option(min=1, envvar="PLATELAB_CANDIDATES",
                     help="list up to N of each plate's most likely texts \\[default: 1]"),
    ] = None,
    watch: Annotated[
        Path | None, typer.Option(envvar="PLATELAB_WATCH", help="file of wanted plates: plates that may be one say so")
    ] = None,
    model: Annotated[Path | None, typer.Option(
        envvar="PLATELAB_MODEL", help="recognizer ONNX, e.g. a fine-tuned one (the bundled one by default)")] = None,
    detector: Annotated[Path | None, typer.Option(
        envvar="PLATELAB_DETECTOR", help="detector ONNX (the bundled one by default)")] = None,
    root_path: Annotated[str | None, typer.Option(
        envvar="PLATELAB_ROOT_PATH", help="path prefix a reverse proxy serves this under, e.g. /platelab (for "
        "/docs' Try it out)")] = None,
) -> None:
    """HTTP API (POST /v1/read, /v1/read/batch, GET /v1/models, /healthz) and a web page at / (serve extra)."""
    _require_extra("serve")
    from platelab.api import Reader
    from platelab.serve.app import run_server
    from platelab.serve.settings import ServeSettings, checked_api_key, checked_root_path

    try:
        ServeSettings.from_env(workers=workers)
    except (TypeError, ValueError) as exc:
        _fail(str(exc))  # it names the variable, or says it is one
    try:  # here, not as a traceback from run_server
        if api_key:
            checked_api_key(api_key)
    except ValueError as exc:
        _fail(f"--api-key: {exc}")
    for option, limit in (("--max-upload-mb", max_upload_mb), ("--timeout", timeout)):
        if limit is not None and not math.isfinite(limit):  # typer takes "inf" as a number over any minimum
            _fail(f"{option}: {limit} is not a finite number")
    try:
        if root_path is not None:
            checked_root_path(root_path)
    except ValueError as exc:
        _fail(f"--root-path: {exc}")
    with _usage_errors():
        # an unknown prior, a model that cannot be loaded or a broken watch list stops here, not in every worker
        Reader(detector=detector, recognizer=model, prior=prior)
        if watch is not None:
            from platelab.predict.watch import WatchList

            WatchList.load(watch)
    run_server(host, port, workers, api_key, max_upload_mb, timeout, prior, candidates, watch, model, detector,
               root_path)


@app.command("models")
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


@app.command("eval")
def evaluate(
    folder: Annotated[Path, typer.Argument(help="folder with images and labels.tsv (crops or photos)")],
    prior: Annotated[str | None, typer.Option(help=PRIOR_HELP)] = None,
    model: Annotated[Path | None, typer.Option(help="recognizer ONNX (the bundled one by default)")] = None,
    detector: Annotated[Path | None, typer.Option(help="detector ONNX (the bundled one by default)")] = None,
    failures: Annotated[Path | None, typer.Option(help="write a montage of the failures here (.png or .jpg)")] = None,
    min_score: Annotated[float, typer.Option(min=0, max=1, help="detector score a plate needs (photos)")] = MIN_SCORE,
    tta: TtaOption = False,
    candidates: CandidatesOption = 1,
    json_out: Annotated[bool, typer.Option(
        "--json", help="the report's figures as one JSON object (shares 0-1, counts) instead of markdown")] = False,
) -> None:
    """Accuracy, character error rate, by length and region, confusions (crops); detection and reading (photos).
    With --candidates N, also how often the truth is among a plate's N most likely texts.
    Files that cannot be decoded count as misses, are listed, and make the exit status 1."""
    import json

    from platelab.eval.folders import evaluate
    from platelab.io.labels import labels_kind, labels_path
    from platelab.io.outputs import IMAGE_OUTPUTS, prepare_output_file

    with _usage_errors():
        if failures is not None:
            prepare_output_file(failures, IMAGE_OUTPUTS, "failure montage", outside=labels_path(folder).parent)
        if labels_kind(folder) == "crops" and (detector is not None or min_score != MIN_SCORE):
            _fail("--detector and --min-score are for photos; this folder's labels are of crops")
        evaluation = evaluate(folder, prior=prior, model=model, detector=detector, failures=failures,
                              min_score=min_score, tta=tta, progress=_bar_wanted(prints_as_it_goes=False),
                              candidates=candidates)
    if json_out:
        typer.echo(json.dumps(evaluation.to_dict(), indent=2, allow_nan=False))
    else:
        typer.echo(evaluation.report)
    if evaluation.unreadable:
        if json_out:  # listed under "unreadable"; said here too, as the markdown says it under the report
            typer.secho(f"{len(evaluation.unreadable)} file(s) could not be read and count as misses", err=True)
        raise typer.Exit(1)
