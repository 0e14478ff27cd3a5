"""Progress bars of training: redrawn live on a terminal, a state a minute where stderr is a log file (a run left in
the background for an hour would otherwise write ten states a second into its log)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

LOG_INTERVAL_S = 60.0


def progress_bar(**options: Any) -> tqdm:
    """A bar to use as a context manager, so that an error closes it too: its last state ends its line, and the
    error's one line is not written onto it. Figures set on it wait for its next redraw (set_postfix(...,
    refresh=False)): a redraw per step would write a state a step into a log."""
    on_terminal = sys.stderr is not None and sys.stderr.isatty()
    return tqdm(mininterval=0.1 if on_terminal else LOG_INTERVAL_S, dynamic_ncols=on_terminal, **options)
