"""Unseen synthetic plates, style by style: the recognizer's accuracy on what the engine renders.

    python benchmarks/synthetic.py [--per-style 40] [--seed 20261126] [--styles 'us-*' ...] [--prior us]
        [--effects all|light|none] [--tta]

Each style draws its own seeded plates (platelab.eval.synthetic), never seen in training (seed 0) or validation
(seed 1). Prints a markdown table, worst styles first, with 95% intervals and a few misreadings each. --effects
light turns the camera's effects off (blur, low resolution, noise, compression), none the light's too (shade,
glare, dirt, night): the plates, poses and framing stay, so what is still misread is not the degradations.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from platelab.eval.environment import describe_environment
from platelab.eval.report import format_share
from platelab.eval.synthetic import EFFECTS, UNSEEN_SEED, misread_kind, score_styles
from platelab.predict.recognizer import RecognitionPredictor
from platelab.synth.style import select_styles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-style", type=int, default=40)
    parser.add_argument("--seed", type=int, default=UNSEEN_SEED)
    parser.add_argument("--styles", nargs="*", help="glob patterns of style names or regions, or style files or "
                        "folders of them (default: all bundled styles)")
    parser.add_argument("--model", type=Path, help="recognizer ONNX (default: the shipped one)")
    parser.add_argument("--prior", help="decode with this country's format prior")
    parser.add_argument("--effects", choices=list(EFFECTS), default="all",
                        help="light: no camera effects; none: no camera or light effects")
    parser.add_argument("--tta", action="store_true", help="read each crop at small moves, voting")
    args = parser.parse_args()

    styles = select_styles(args.styles)
    predictor = RecognitionPredictor(args.model, prior=args.prior, tta=args.tta)
    scores = score_styles(predictor, styles, args.per_style, args.seed, EFFECTS[args.effects])
    print(f"{describe_environment()}\n")
    print(f"| style | read ({args.per_style} plates, 95% interval) | misread as |")
    print("|---|---|---|")
    for s in sorted(scores, key=lambda s: (s.hits / s.total, s.style)):
        shown = ", ".join(f"{truth} -> {read or '(nothing)'}" for truth, read in s.misreads[:3])
        print(f"| {s.style} | {format_share(s.hits, s.total)} | {shown} |")
    hits, total = sum(s.hits for s in scores), sum(s.total for s in scores)
    two_rows = [s for s, style in zip(scores, styles) if len(style.rows) > 1]
    print(f"| **all {len(scores)} styles** | **{format_share(hits, total)}** | |")
    if two_rows:
        print(f"| two-row styles | {format_share(sum(s.hits for s in two_rows), sum(s.total for s in two_rows))} | |")
    kinds = Counter(misread_kind(truth, read) for s in scores for truth, read in s.misreads)
    print("\n| kind of misreading | plates |\n|---|---|")
    for kind, count in kinds.most_common():
        print(f"| {kind} | {count} |")


if __name__ == "__main__":
    main()
