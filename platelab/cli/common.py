"""What every subcommand shares: the Typer apps, options several take, and how a mistake ends a command (one
line, exit status 2)."""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn, TextIO

import typer

from platelab.utils.errors import escaped
from platelab.utils.extras import install_hint

PRIOR_HELP = ("plate-format prior: a country, e.g. 'us'; countries, e.g. 'us,br' (each plate under the one its formats "
              "fit best); or 'auto' (the same among every country the model has formats for)")

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Licence plate recognition trained on synthetic plates."
)


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


def bar_wanted(prints_as_it_goes: bool) -> bool:
    """A progress bar goes to a terminal's stderr; a command that prints as it goes shows its own progress when
    its output is on that terminal too, so it gets a bar only when its output is redirected."""
    return _on_terminal(sys.stderr) and not (prints_as_it_goes and _on_terminal(sys.stdout))


def _on_terminal(stream: TextIO | None) -> bool:
    return stream is not None and stream.isatty()  # None: the descriptor was closed when Python started


# what each optional extra brings (pyproject.toml), by the modules a command imports from it; python_multipart
# too: serve imports it by that name, which python-multipart before 0.0.13 does not have
_EXTRAS = {"train": ("torch", "onnx"), "serve": ("fastapi", "uvicorn", "python_multipart")}


def require_extra(extra: str) -> None:
    """A command whose extra is not installed ends with one line naming it, not an ImportError's traceback."""
    from importlib.util import find_spec

    missing = [module for module in _EXTRAS[extra] if find_spec(module) is None]
    if missing:
        fail(f"this command needs the {extra} extra ({', '.join(missing)} not installed): {install_hint(extra)}"
              + (" (the README says which PyTorch build)" if extra == "train" else ""))


def fail(message: str) -> NoReturn:
    # one line whatever it quotes: a path or a recipe's value may hold a line break
    typer.secho(f"platelab: {escaped(message)}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2)


@contextmanager
def usage_errors() -> Iterator[None]:
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
        fail(str(exc))
