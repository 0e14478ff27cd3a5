"""The study's outputs: REPORT.md with the tables and the command, results.json, and two PNG plots."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from platelab.io.atomic import atomic_write_text
from references.study.plate_routes import SCRATCH, StudySize, TuneResult

VARIANT_NAMES = {
    ("synthetic-cnn", "backbone"): "synthetic CNN, head only",
    ("synthetic-cnn", "none"): "synthetic CNN, whole network",
    ("imagenet-lite0", "backbone"): "ImageNet Lite0 + head, head only",
    ("imagenet-lite0", "none"): "ImageNet Lite0 + head, whole network",
    (SCRATCH, "none"): "from scratch on the k real crops alone",
}


@dataclass(frozen=True)
class RouteRow:
    route: str
    model: str
    learns_from: str
    real_used: int
    test_crops: int
    plate_acc: float
    characters: str  # the character-level figure, worded per route (segmented char accuracy, or 1 - CER)
    seconds: float


@dataclass
class StudyResults:
    command: str
    hardware: str
    size: StudySize
    seconds: float
    routes: list[RouteRow] = field(default_factory=list)
    tunes: list[TuneResult] = field(default_factory=list)


def variant_accuracy(tunes: list[TuneResult]) -> dict[tuple[str, str], dict[int, list[TuneResult]]]:
    """(base, freeze) -> k -> the results of every seed."""
    table: dict[tuple[str, str], dict[int, list[TuneResult]]] = defaultdict(lambda: defaultdict(list))
    for result in tunes:
        table[(result.job.base, result.job.freeze)][result.job.k].append(result)
    return table


def _mean_sd(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def routes_table(rows: list[RouteRow]) -> list[str]:
    lines = [
        "| route | model | learns from | real crops used | test crops | plate accuracy | characters | time |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.route} | {r.model} | {r.learns_from} | {r.real_used} | {r.test_crops} | {r.plate_acc:.3f} "
            f"| {r.characters} | {r.seconds / 60:.1f} min |"
        )
    return lines


def finetune_table(tunes: list[TuneResult], ks: tuple[int, ...]) -> list[str]:
    lines = [
        "| model, trained part | " + " | ".join(f"k = {k}" for k in ks) + " |",
        "| --- |" + " ---: |" * len(ks),
    ]
    for variant, by_k in variant_accuracy(tunes).items():
        cells = []
        for k in ks:
            results = by_k.get(k, [])
            if not results:
                cells.append("")
                continue
            before = "" if variant[0] == SCRATCH else f" (before {np.mean([r.before for r in results]):.3f})"
            cells.append(_mean_sd([r.after for r in results]) + before)
        lines.append(f"| {VARIANT_NAMES[variant]} | " + " | ".join(cells) + " |")
    return lines


def plot_accuracy_vs_k(tunes: list[TuneResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for variant, by_k in variant_accuracy(tunes).items():
        ks = sorted(by_k)
        means = [np.mean([r.after for r in by_k[k]]) for k in ks]
        spreads = [np.std([r.after for r in by_k[k]], ddof=1) if len(by_k[k]) > 1 else 0.0 for k in ks]
        axes.errorbar(ks, means, yerr=spreads, marker="o", capsize=3, label=VARIANT_NAMES[variant])
    axes.set_xscale("log")
    axes.set_xlabel("real crops used for training (k)")
    axes.set_ylabel("exact plate accuracy on the other crops")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_accuracy_per_route(rows: list[RouteRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    labels = [f"{r.route} {r.model}" for r in rows]
    axes.barh(labels[::-1], [r.plate_acc for r in rows][::-1])
    axes.set_xlim(0, 1)
    axes.set_xlabel("exact plate accuracy on real US crops")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def training_minutes(results: StudyResults) -> float:
    return (sum(r.seconds for r in results.routes if r.route != "5") + sum(t.seconds for t in results.tunes)) / 60


def write_report(out: Path, results: StudyResults) -> Path:
    """REPORT.md, results.json, accuracy_vs_k.png and accuracy_per_route.png in out."""
    out.mkdir(parents=True, exist_ok=True)
    plot_accuracy_vs_k(results.tunes, out / "accuracy_vs_k.png")
    plot_accuracy_per_route(results.routes, out / "accuracy_per_route.png")
    atomic_write_text(out / "results.json", json.dumps(asdict(results), indent=2, default=str) + "\n")
    size = results.size
    lines = [
        "# Transfer-learning study: reading real US plates with little or no real data",
        "",
        f"Command: `{results.command}`  ",
        f"Hardware: {results.hardware}, torch on 1 thread per run. This invocation took "
        f"{results.seconds / 60:.1f} min; the training runs logged {training_minutes(results):.1f} min in all "
        "(a run resumed from an earlier invocation counts in full; parallel runs add up).",
        "",
        "Every figure is measured on the real US crops (`shared/data/real/crops-us`); exact plate accuracy",
        "is the share of crops whose whole text is read right (greedy decoding, no format prior).",
        "",
        "## Routes",
        "",
        *routes_table(results.routes),
        "",
        "Routes 1 and 2 cut characters out with a classic segmenter (Otsu/adaptive thresholds, connected",
        "components, size filters); their *characters* column is the accuracy over characters of plates that",
        "were cut into the right number of pieces, and a badly cut plate counts as misread. Route 1 can only",
        "read digits: its plate accuracy is over the all-digit plates. For the sequence models (3-5) the",
        "column is 1 - character error rate. Route 5 rows show the largest k, mean over seeds.",
        "",
        "## Fine-tuning on k real crops",
        "",
        f"Exact plate accuracy on the crops not used for training (mean ± sample sd over seeds {list(size.seeds)});",
        "in brackets the same model before fine-tuning, on the same test crops. The k crops of a run never",
        "appear in its test split (asserted).",
        "",
        *finetune_table(results.tunes, size.ks),
        "",
        "![accuracy vs k](accuracy_vs_k.png)",
        "",
        "![accuracy per route](accuracy_per_route.png)",
        "",
        "## Sizes",
        "",
        *(f"- {name}: {value}" for name, value in asdict(size).items()),
        "",
    ]
    path = out / "REPORT.md"
    atomic_write_text(path, "\n".join(lines))
    return path
