"""Synthetic crops beside real ones, to judge by eye what the engine still gets wrong.

    python benchmarks/synth_vs_real.py [--real ../shared/data/real/crops-us] [--out runs/synth_vs_real.png]

The sheet holds real benchmark crops (AGPL-3.0), so it is written outside the repository by default: never commit it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.real_data import REAL, require_folder
from platelab.io.atomic import atomic_write_image
from platelab.io.decode import read_image
from platelab.io.draw import montage
from platelab.io.labels import read_labels
from platelab.synth.crops import CropGenerator
from platelab.synth.style import select_styles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=REAL / "crops-us")
    parser.add_argument("--out", type=Path, default=Path("runs/synth_vs_real.png"))
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--styles", nargs="*", default=["us-*"])
    args = parser.parse_args()
    labels = read_labels(require_folder(args.real, "plate crops and their labels.tsv (file, state, plate)"))
    step = max(1, len(labels) // args.count)
    real = [read_image(args.real / label.file) for label in labels[::step][: args.count]]
    generator = CropGenerator(select_styles(args.styles), seed=99)
    synthetic = [generator.sample(i).image for i in range(args.count)]
    captions = ["real"] * len(real) + ["synthetic"] * len(synthetic)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_image(args.out, montage(real + synthetic, captions, cols=8, cell=(192, 96)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
