"""`platelab read`: photos, crops, videos and streams read, printed line by line or as JSON, with drafts of their
labels."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platelab.cli.common import PRIOR_HELP, TtaOption, bar_wanted, fail, usage_errors
from platelab.predict.thresholds import MIN_CHARACTERS, MIN_SCORE, PHOTO_MIN_CONFIDENCE, WATCH_CANDIDATES
from platelab.utils.errors import escaped, shown

if TYPE_CHECKING:
    from platelab.io.results import ImageResult


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
    roi: Annotated[str | None, typer.Option(
        metavar="X,Y,W,H", help="photos, videos and streams: look for plates in this part of each alone (pixels of "
        "the upright photo: a fixed camera's lane); a plate its edge cuts is read whole")] = None,
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
    passed (Ctrl-C prints those still in view and stops; one that cannot be opened or fails gives one error line
    on stderr and exit status 1).
    With no paths it renders a sample photo into ./platelab-demo and reads it.
    """
    from platelab.api import MAX_RECONNECT_S, photo_options_given, read_paths, read_stream

    if crops and draw is not None:
        fail("--draw outlines the plates found in photos; cropped plates (--crops) have none to outline")
    if crops and save_plates is not None:
        fail("--save-plates saves the plates found in photos; cropped plates (--crops) are crops already")
    region = None if roi is None else _roi(roi)
    ignored = photo_options_given(detector, min_score, refine, min_chars, every, region)
    if crops and ignored:
        flags = ["--no-refine" if name == "refine" else "--" + name.replace("_", "-") for name in ignored]
        fail(f"{', '.join(flags)}: for photos and videos; --crops skips detection")
    if stream is not None and not stream.strip():
        fail("--stream: empty; give a camera number (0, 1, ...) or a stream URL (rtsp://...)")
    if stream is not None and (paths or crops or draw is not None or workers > 1):
        fail("--stream reads a camera or a stream alone: no paths, --crops, --draw or --workers with it")
    if reconnect is not None and stream is None:
        fail("--reconnect is for --stream")
    if exact and watch is None:
        fail("--exact is for --watch: it makes the list's O and 0, I and 1, ... different characters")
    if reconnect is not None and not reconnect <= MAX_RECONNECT_S:  # typer's min=0 has refused the negative ones
        fail(f"--reconnect: {reconnect:g} s; at most {MAX_RECONNECT_S:g} (a day)")
    if labels_out is not None and stream is not None:
        fail("--labels-out drafts labels of photo files; a stream's frames are not files a row can name")
    if save_plates is not None and stream is not None:
        fail("--save-plates saves the plates of photo files; a stream's plates are read across frames")
    if crops and workers > 1:
        fail("--workers is for photos and videos; cropped plates (--crops) are read in batches already")
    watch_list = None
    if watch is not None:
        from platelab.predict.watch import WatchList

        with usage_errors():
            watch_list = WatchList.load(watch, look_alikes=not exact)
    if not paths and stream is None:
        from platelab.synth.demo import write_demo

        with usage_errors():
            demo = write_demo()
        typer.echo(f"no input given: reading {demo}, rendered just now (truth in {demo.parent}/labels.tsv)", err=True)
        paths = [str(demo)]
    draft: tuple[Path, list[str]] | None = None
    if labels_out is not None:
        with usage_errors():
            draft = _draft_names(labels_out, paths or [], draw, save_plates)
    if stream is not None:
        results = read_stream(stream, prior=prior, model=model, detector=detector, min_confidence=min_confidence,
                              min_score=min_score, refine=refine, min_chars=min_chars, tta=tta, every=every,
                              candidates=candidates, watch=watch_list, reconnect=reconnect, roi=region)
    else:
        results = read_paths(paths or [], crops=crops, prior=prior, model=model, detector=detector,
                             min_confidence=min_confidence, draw=draw, min_score=min_score, refine=refine,
                             min_chars=min_chars, tta=tta, every=every,
                             progress=bar_wanted(prints_as_it_goes=True), candidates=candidates, watch=watch_list,
                             workers=workers, save_plates=save_plates, roi=region)
    drafted: list[ImageResult] = []
    if draft is not None or save_plates is not None:
        results = _kept(results, drafted)
    try:
        if stream is None:
            failed = _print_results(results, json_lines, show_candidates=candidates is not None)
        else:
            with _terminate_as_interrupt():
                failed = _print_results(results, json_lines, show_candidates=candidates is not None,
                                        errors_on_stderr=True)
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
        # a stream's one error line, on stderr, is all there is to say: it names the source and why; its plates
        # read before it failed are the lines above, and a count of files would not fit one source
        if stream is None:
            typer.secho(f"{failed} file(s) could not be read", err=True)
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
    if target.suffix.lower() != ".tsv" and not target.exists():  # the shell's "newdir/" arrives as "newdir"
        raise OutputError(f"{target}: no such folder, nor a .tsv file to write; make the folder first or name the "
                          "draft FILE.tsv")
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

    with usage_errors():
        rows, nothing = write_label_draft(target, zip(names, results, strict=True), "crops" if crops else "photos")
    typer.echo(f"wrote {target}: {rows} plate(s) as read; correct the texts that are wrong", err=True)
    if nothing:
        noun = ("crop" if crops else "photo") + ("s" if len(nothing) > 1 else "")
        # a photo's row says it holds no plate, which eval scores for false plates; a crop always holds one
        rows_say = "add their rows by hand" if crops else "their rows say they hold none; add any plates by hand"
        typer.echo(f"{len(nothing)} {noun} with no plate found: {rows_say} ({', '.join(map(escaped, nothing))})",
                   err=True)


def _roi(text: str) -> tuple[int, int, int, int]:
    """--roi's X,Y,W,H as four whole numbers, or a usage error saying what it takes."""
    from platelab.api import checked_roi

    try:
        return checked_roi([int(part) for part in text.split(",")])
    except ValueError:
        fail(f"--roi: {shown(text)}; give X,Y,W,H in pixels: whole numbers, X and Y 0 or more, W and H 1 or more "
             "(e.g. 0,400,1920,680)")


def _print_results(results: Iterable[ImageResult], json_lines: bool, show_candidates: bool,
                   errors_on_stderr: bool = False) -> int:
    """Each result as it comes, one JSON line or one line a plate (errors on stderr; with JSON lines, there too
    where errors_on_stderr); the number of errors."""
    from platelab.io.results import to_json_line

    failed = 0
    with usage_errors():
        for found in results:
            # the candidates a watch list was matched on are shown only when asked for
            result = found if show_candidates else found.without_candidates()
            failed += result.error is not None
            if json_lines:
                typer.echo(to_json_line(result))
                if result.error and errors_on_stderr:  # a stream's failure, seen where a person watches it
                    typer.secho(result.error, err=True, fg=typer.colors.RED)
            elif result.error:
                typer.secho(result.error, err=True, fg=typer.colors.RED)
            else:
                for p in result.plates:
                    fits = f"\tfits: {p.fits}" if p.fits else ""
                    seen = f"\t{p.seconds[0]:.2f}-{p.seconds[1]:.2f}s" if p.seconds else ""
                    wanted = f"\twanted: {p.wanted}" if p.wanted else ""
                    typer.echo(f"{escaped(result.file)}\t{p.text}\t{p.confidence:.3f}\t{','.join(map(str, p.box))}"
                               f"{fits}{seen}{wanted}")
                    for candidate in p.candidates:
                        typer.echo(f"  {candidate.text}\t{candidate.confidence:.3f}")
    return failed
