"""Reading a video: plates followed through a 1080p clip the project renders itself, and how fast.

    python benchmarks/video.py [--seconds 3] [--fps 30] [--every 1 3 6]

The clip is platelab's demo photo (two US plates, never seen in training) at 1920x1080, panned a few pixels a
frame, written as MP4 by OpenCV. For each --every it prints the frames read, the plates reported and how many of
them carry a labelled plate's text, ms per frame read, and how many times faster than real time the clip was read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from platelab.api import Reader
from platelab.eval.environment import describe_environment
from platelab.io.labels import read_labels
from platelab.synth.demo import write_demo

SIZE = (1920, 1080)


def write_clip(folder: Path, seconds: float, fps: float) -> tuple[Path, set[str]]:
    """The demo photo panned 2 px right and 1 px down a frame, as an MP4; with the plates' texts."""
    photo = cv2.resize(cv2.imread(str(write_demo(folder / "demo"))), SIZE, interpolation=cv2.INTER_LINEAR)
    path = folder / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    for k in range(round(seconds * fps)):
        moved = np.float32([[1, 0, 2 * k], [0, 1, k]])
        writer.write(cv2.warpAffine(photo, moved, SIZE, borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return path, {label.plate for label in read_labels(folder / "demo")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--every", type=int, nargs="+", default=[1, 3, 6])
    args = parser.parse_args()
    print(f"{describe_environment()}\n")
    reader = Reader()
    with tempfile.TemporaryDirectory() as folder:
        clip, truth = write_clip(Path(folder), args.seconds, args.fps)
        frames = round(args.seconds * args.fps)
        print(f"{frames} frames of {SIZE[0]}x{SIZE[1]} at {args.fps:g} fps; plates in the clip: {len(truth)}\n")
        print("| every | frames read | plates reported | with a labelled text | ms per frame read | x real time |")
        print("|---|---|---|---|---|---|")
        reader.read_video(clip, every=frames)  # warm-up: onnxruntime allocates on the first run
        for every in args.every:
            start = time.perf_counter()
            plates = reader.read_video(clip, every=every)
            elapsed = time.perf_counter() - start
            read = len(range(0, frames, every))
            right = sum(p.text in truth for p in plates)
            print(f"| {every} | {read} | {len(plates)} | {right} | {1000 * elapsed / read:.0f} | "
                  f"{args.seconds / elapsed:.1f} |", flush=True)


if __name__ == "__main__":
    main()
