"""`platelab eval`: a labelled folder of crops or photos scored, as markdown or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from platelab.cli.common import PRIOR_HELP, CandidatesOption, TtaOption, bar_wanted, fail, usage_errors
from platelab.predict.thresholds import MIN_SCORE


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

    with usage_errors():
        if failures is not None:
            prepare_output_file(failures, IMAGE_OUTPUTS, "failure montage", outside=labels_path(folder).parent)
        if labels_kind(folder) == "crops" and (detector is not None or min_score != MIN_SCORE):
            fail("--detector and --min-score are for photos; this folder's labels are of crops")
        evaluation = evaluate(folder, prior=prior, model=model, detector=detector, failures=failures,
                              min_score=min_score, tta=tta, progress=bar_wanted(prints_as_it_goes=False),
                              candidates=candidates)
    if json_out:
        typer.echo(json.dumps(evaluation.to_dict(), indent=2, allow_nan=False))
    else:
        typer.echo(evaluation.report)
    if evaluation.unreadable:
        if json_out:  # listed under "unreadable"; said here too, as the markdown says it under the report
            typer.secho(f"{len(evaluation.unreadable)} file(s) could not be read and count as misses", err=True)
        raise typer.Exit(1)
