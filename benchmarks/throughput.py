"""Photos read per second from a folder, by one process and by worker processes (read_paths' workers).

    python benchmarks/throughput.py [--folder ../shared/data/real/endtoend-us] [--workers 1 2 4]

Each row reads every photo of the folder once, start to end as `platelab read FOLDER --workers N` does (worker
start-up included), and checks that the plates read are the same as one process reads.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.real_data import REAL, require_folder
from platelab.api import read_paths
from platelab.eval.environment import describe_environment

DEFAULT_FOLDER = REAL / "endtoend-us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--workers", type=int, nargs="*", default=sorted({1, 2, os.cpu_count() or 1}))
    args = parser.parse_args()
    require_folder(args.folder, "the photos to read")
    print(f"{describe_environment()}\n")
    print(f"| {args.folder.name}: workers | photos | seconds | photos / s | same plates as 1 process |")
    print("|---|---|---|---|---|")
    first = None
    for workers in args.workers:
        start = time.perf_counter()
        results = list(read_paths([args.folder], workers=workers))
        seconds = time.perf_counter() - start
        first = first or results
        print(f"| {workers} | {len(results)} | {seconds:.1f} | {len(results) / seconds:.1f} | "
              f"{'yes' if results == first else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
