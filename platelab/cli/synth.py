"""`platelab synth`: synthetic crops, scenes and style sheets, and the engine's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from platelab.cli.common import StylesOption, bar_wanted, fail, usage_errors

synth_app = typer.Typer(no_args_is_help=True,
                        help="Render synthetic plates: crops, scenes, style sheets; config: the engine's settings.")

# more in one set is a slip of the keyboard, and a count past C's integers ended in a traceback after the folder
# was made
MAX_SYNTH_COUNT = 10_000_000
# what crops and scenes both take
OutFolder = Annotated[Path, typer.Option(help="output folder")]
SeedOption = Annotated[int, typer.Option(min=0)]
ConfigOption = Annotated[Path | None, typer.Option(help="synthesis config YAML (see `platelab synth config`)")]
PreviewOption = Annotated[bool, typer.Option(help="also write preview.png, a montage")]


@synth_app.command("crops")
def synth_crops(
    out: OutFolder,
    count: Annotated[int, typer.Option(min=1, max=MAX_SYNTH_COUNT)] = 64,
    styles: StylesOption = None,
    seed: SeedOption = 0,
    config: ConfigOption = None,
    preview: PreviewOption = False,
) -> None:
    """Recognition crops: PNG files and labels.tsv (file, state, plate)."""
    _synth("crops", out, count, styles, seed, config, preview)


@synth_app.command("scenes")
def synth_scenes(
    out: OutFolder,
    count: Annotated[int, typer.Option(min=1, max=MAX_SYNTH_COUNT)] = 16,
    styles: StylesOption = None,
    seed: SeedOption = 0,
    config: ConfigOption = None,
    preview: PreviewOption = False,
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
        fail(str(exc))
    with usage_errors():
        labels = WRITERS[kind](out, count, chosen, seed, cfg, preview, progress=bar_wanted(prints_as_it_goes=False),
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
        fail(str(exc))
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
            fail(str(exc))
    if sheet:
        from platelab.io.outputs import IMAGE_OUTPUTS, prepare_output_file
        from platelab.synth.sheet import write_style_sheet

        with usage_errors():
            prepare_output_file(sheet, IMAGE_OUTPUTS, "style sheet")
            write_style_sheet(sheet, samples, chosen)
        typer.echo(f"wrote {sheet}")


@synth_app.command("config")
def synth_config() -> None:
    """Print every synthesis parameter with its default, range and meaning (YAML)."""
    from platelab.synth.config import describe

    typer.echo(describe())
