"""What the shipped models read, measured on the files themselves and written into their model cards.

    python benchmarks/cards.py [--real ../shared/data/real] [--write]

The cards' "accuracy" is the training run's validation, taken before export (float, no class scale, no prior).
This reads with the bundled files as a user gets them: each recognizer on the unseen synthetic plates
(benchmarks/synthetic.py's 2040) and on the real crops with no prior, the country's and auto; the detector with the
8-bit recognizer on the real photos, plates found, read and false. Prints a markdown table; with --write, each
card's "measured" section is replaced (date, machine and packages, this command), which tests/test_cards.py holds
the files to.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.real_data import REAL
from platelab.eval.environment import describe_environment
from platelab.eval.measured import reader_figures, recognizer_figures, table_rows, write_measured
from platelab.weights import default_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL)
    parser.add_argument("--write", action="store_true", help="write the figures into the bundled model cards")
    args = parser.parse_args()
    real = args.real if args.real.is_dir() else None
    command = "python benchmarks/cards.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"{describe_environment()}\n")
    print("| model | set | prior | read | plates found | false plates / photo |")
    print("|---|---|---|---|---|---|")
    measured = {name: recognizer_figures(default_model(name), real) for name in ("recognizer", "recognizer-float")}
    measured["detector"] = reader_figures(default_model("detector"), default_model("recognizer"), real)
    for name, sets in measured.items():
        for row in table_rows(f"{name}.onnx", sets):
            print(row, flush=True)
        if args.write:
            write_measured(default_model(name).with_suffix(".card.json"), sets, command.strip())


if __name__ == "__main__":
    main()
