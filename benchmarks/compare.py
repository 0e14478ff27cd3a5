"""Is a change a real gain? Two model pairs read the same real sets; prints what each fixed and broke.

    python benchmarks/compare.py --recognizer NEW.onnx [--detector NEW.onnx] [--baseline-recognizer OLD.onnx]
        [--baseline-detector OLD.onnx] [--sets crops-us endtoend-us endtoend-br synthetic] [--tta]

The baseline is the bundled models unless given. Each set is read with and without its country's prior. Per set
and prior: each reader's accuracy with its 95% interval (Wilson), the plates the change fixed and broke, and
McNemar's exact p-value: the chance of a split at least that lopsided if the two readers were equally good. On
118 photos a change of 5 plates one way is within chance; p below 0.05 is a difference these sets can show.
"synthetic" is the recognizers alone on benchmarks/synthetic.py's unseen plates (40 of each style, no prior).
With --tta both read with test-time jitter, which steadies the photos' small plates against rounding.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.real_data import REAL, require_folder
from platelab.eval.environment import describe_environment
from platelab.eval.hits import SYNTHETIC, hits
from platelab.eval.report import format_share
from platelab.eval.stats import mcnemar_p

PRIORS = {"crops-us": "us", "endtoend-us": "us", "endtoend-br": "br"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--sets", nargs="*", default=[*PRIORS, SYNTHETIC])
    parser.add_argument("--recognizer", type=Path, help="the changed recognizer (default: the bundled one)")
    parser.add_argument("--detector", type=Path, help="the changed detector (default: the bundled one)")
    parser.add_argument("--baseline-recognizer", type=Path)
    parser.add_argument("--baseline-detector", type=Path)
    parser.add_argument("--tta", action="store_true", help="both read with test-time jitter")
    args = parser.parse_args()
    folders = {name: args.real / name if name == SYNTHETIC else require_folder(
        args.real / name, "crops or photos and their labels.tsv") for name in args.sets}
    print(f"{describe_environment()}{'; both with tta' if args.tta else ''}\n")
    print("| set | prior | items | baseline (95% interval) | changed (95% interval) | fixed | broken | p (McNemar) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, folder in folders.items():
        for prior in (None, PRIORS.get(name)) if name in PRIORS else (None,):
            before = hits(folder, args.baseline_recognizer, args.baseline_detector, prior, args.tta)
            after = hits(folder, args.recognizer, args.detector, prior, args.tta)
            fixed = sum(a and not b for a, b in zip(after, before, strict=True))
            broken = sum(b and not a for a, b in zip(after, before, strict=True))
            shares = " | ".join(format_share(sum(h), len(h)) for h in (before, after))
            print(f"| {name} | {prior or 'none'} | {len(before)} | {shares} | {fixed} | {broken} | "
                  f"{mcnemar_p(fixed, broken):.2f} |", flush=True)


if __name__ == "__main__":
    main()
