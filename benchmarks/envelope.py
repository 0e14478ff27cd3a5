"""Where the photo reader works: unseen synthetic scenes, plates found and read by size, tilt, light and company.

    python benchmarks/envelope.py [--scenes 300] [--night-scenes 100] [--empty-scenes 100] [--seed 20261126] [--tta]

Issue 4 asks for plates from about 40 px wide to the whole image, tilted up to 30 degrees, several to a photo, by
day and by night. The real benchmark photos hold too few of each kind to tell, so this renders 1280x720 scenes the
detector never saw (platelab.synth.scene, all styles, the engine's default light and camera) and reads them with the
shipped reader, no prior. Each plate is put in a bucket by its width (px, top edge), its in-plane tilt (the top edge's
angle) and how many plates share its scene; night scenes and plate-free scenes are drawn apart. A plate counts as
detected when the detector alone boxes it (IoU 0.5, at the reader's score threshold), as found when a reported
plate overlaps its box (a reading of 4 characters or more, confident enough), as read when that plate has its text
(as in benchmarks/endtoend.py).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from tqdm import tqdm

from platelab.api import Reader
from platelab.eval.environment import describe_environment
from platelab.eval.metrics import score_photos
from platelab.eval.report import format_share
from platelab.eval.synthetic import UNSEEN_SEED
from platelab.io.labels import PhotoLabel
from platelab.predict.reader import quad_box
from platelab.synth.config import SynthConfig
from platelab.synth.crops import sample_rng
from platelab.synth.scene import Scene, ScenePlate, render_scene
from platelab.synth.style import select_styles
from platelab.utils.boxes import box_iou

WIDTHS = (40, 60, 90, 135, 200, 400, 1280)  # bucket edges, px
TILTS = (0, 10, 20, 30, 90)  # bucket edges, degrees
DETECTED_IOU = 0.5  # synthetic boxes are exact, so the detector alone is held to a plain IoU


def _bucket(value: float, edges: Sequence[float], unit: str) -> tuple[int, str]:
    """(order, name) of the bucket value falls in."""
    for order, (low, high) in enumerate(pairwise(edges)):
        if value < high:
            return order, f"{low}-{high} {unit}"
    return len(edges), f"over {edges[-1]} {unit}"


def _scenes(cfg: SynthConfig, count: int, seed: int, desc: str) -> list[Scene]:
    styles = select_styles(None)
    return [render_scene(styles, sample_rng(seed, i), cfg.scene, cfg.light, cfg.camera)
            for i in tqdm(range(count), desc=desc, leave=False)]


@dataclass(frozen=True)
class Reading:
    """A scene set read: its plates, which were found and read, false plates in all, ms per scene."""

    plates: list[ScenePlate]
    company: list[int]  # plates in each plate's scene
    detected: list[bool]  # the detector alone boxed it (IoU >= DETECTED_IOU, score >= the reader's min_score)
    found: list[bool]
    read: list[bool]
    false: int
    ms: float


def read_scenes(reader: Reader, scenes: Sequence[Scene], desc: str) -> Reading:
    labels, plates, company, detected, predictions, seconds = [], [], [], [], {}, 0.0
    for i, scene in enumerate(tqdm(scenes, desc=desc, leave=False)):
        name = f"{i}.png"
        labels += [PhotoLabel(name, p.text, p.box) for p in scene.plates]
        plates += scene.plates
        company += [len(scene.plates)] * len(scene.plates)
        began = time.perf_counter()
        predictions[name] = [(p.box, p.text) for p in reader.read(scene.image)]
        seconds += time.perf_counter() - began
        boxes = [quad_box(d.quad, scene.image.shape)
                 for d in reader.reader.detector.detect(scene.image, reader.reader.min_score)]
        detected += [any(box_iou(b, p.box) >= DETECTED_IOU for b in boxes) for p in scene.plates]
    scores = score_photos(labels, predictions)
    labelled = {label.file for label in labels}  # score_photos leaves out photos without plates: count them here
    false = scores.n_false + sum(len(p) for name, p in predictions.items() if name not in labelled)
    return Reading(plates, company, detected, scores.found, scores.hits, false, 1000 * seconds / max(len(scenes), 1))


def top_edge(quad: np.ndarray) -> tuple[float, float]:
    """(width px, tilt degrees) of a plate's top edge."""
    dx, dy = quad[1] - quad[0]
    return float(np.hypot(dx, dy)), float(abs(np.degrees(np.arctan2(dy, dx))))


def _row(name: str, reading: Reading, plates: Sequence[int]) -> str:
    shares = [format_share(sum(flags[i] for i in plates), len(plates))
              for flags in (reading.detected, reading.found, reading.read)]
    return f"| {name} | {len(plates)} | {' | '.join(shares)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=300)
    parser.add_argument("--night-scenes", type=int, default=100)
    parser.add_argument("--empty-scenes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=UNSEEN_SEED)
    parser.add_argument("--tta", action="store_true", help="read with test-time jitter")
    args = parser.parse_args()
    base = SynthConfig()
    day = base.model_copy(update={"scene": base.scene.model_copy(update={"night_p": 0.0, "empty_p": 0.0})})
    night = base.model_copy(update={"scene": base.scene.model_copy(update={"night_p": 1.0, "empty_p": 0.0})})
    empty = base.model_copy(update={"scene": base.scene.model_copy(update={"empty_p": 1.0})})
    reader = Reader(tta=args.tta)
    days = read_scenes(reader, _scenes(day, args.scenes, args.seed, "day scenes"), "reading day scenes")
    nights = read_scenes(reader, _scenes(night, args.night_scenes, args.seed + 1, "night scenes"), "reading night")
    empties = read_scenes(reader, _scenes(empty, args.empty_scenes, args.seed + 2, "empty scenes"), "reading empty")

    print(f"{describe_environment()}\n")
    print(f"Unseen synthetic 1280x720 scenes (seed {args.seed}), shipped reader{' with tta' if args.tta else ''}, "
          "no prior.\n")
    print("| plates | count | detected (95% interval) | found | read |")
    print("|---|---|---|---|---|")
    print(_row("**all, by day**", days, range(len(days.plates))))
    groups: dict[tuple[int, int, str], list[int]] = defaultdict(list)  # (kind, bucket order, name) -> plates
    for i, plate in enumerate(days.plates):
        width, tilt = top_edge(plate.quad)
        groups[(0, *_bucket(width, WIDTHS, "px wide"))].append(i)
        groups[(1, *_bucket(tilt, TILTS, "degrees tilted"))].append(i)
        company = min(days.company[i], 3)
        groups[(2, company, f"{company}{'+' if company == 3 else ''} to a scene")].append(i)
    for key in sorted(groups):
        print(_row(key[2], days, groups[key]))
    print(_row("**all, at night**", nights, range(len(nights.plates))))
    print()
    print("| scenes | count | false plates / scene | ms / scene |")
    print("|---|---|---|---|")
    for name, reading, count in (("day, with plates", days, args.scenes), ("night, with plates", nights,
                                 args.night_scenes), ("no plate", empties, args.empty_scenes)):
        print(f"| {name} | {count} | {reading.false / max(count, 1):.2f} | {reading.ms:.0f} |")


if __name__ == "__main__":
    main()
