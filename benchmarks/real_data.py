"""The real photos and crops the benchmarks and the study measure on: ../shared/data/real beside the checkout (AGPL
data, never copied into the repository; its README.md says what each set holds)."""

from __future__ import annotations

from pathlib import Path

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


def require_folder(folder: Path, holds: str) -> Path:
    """folder, or SystemExit (status 1) with one line naming it and what it should hold when it is not there: a
    script stops with that line, not with a traceback from deep in its first read."""
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such folder; it should hold {holds}. The real data is kept beside the "
                         f"checkout, in {REAL} (see its README.md)")
    return folder
