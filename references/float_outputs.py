"""Take the 8-bit rounding off quantized models' outputs, in place, and say so on their cards.

    python references/float_outputs.py platelab/weights/recognizer.onnx platelab/weights/detector.onnx

`platelab export --int8` computes what follows the last weighted layer in float since 2026-12-07
(platelab.train.quantize.float_outputs); this gives models quantized before then the same graph without exporting
them again: their weights and calibrated ranges are kept, only the quantize-dequantize pairs on their outputs go.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import onnx

from platelab.io.atomic import atomic_path, atomic_write_text
from platelab.train.quantize import float_outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="8-bit ONNX models, each with its .card.json beside")
    args = parser.parse_args()
    command = shlex.join(["python", *sys.argv])
    for path in args.models:
        card_path = path.with_suffix(".card.json")
        card = json.loads(card_path.read_text(encoding="utf-8"))
        if "int8" not in card:
            parser.error(f"{path}: its card has no int8 section: not an 8-bit export")
        with atomic_path(path) as temp:
            onnx.save(float_outputs(onnx.load(str(path))), str(temp))
        card["int8"]["float_outputs"] = {
            "command": command,
            "note": "the card's accuracy figures from the export (accuracy, accuracy_int8) are of the graph before "
                    "this; its measured section, written by benchmarks/cards.py --write, is of this one",
        }
        card["size_bytes"] = path.stat().st_size
        atomic_write_text(card_path, json.dumps(card, indent=2) + "\n")
        print(f"wrote {path} ({card['size_bytes']} bytes) and its card")


if __name__ == "__main__":
    main()
