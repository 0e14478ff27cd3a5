"""Progress bars of training: redrawn live on a terminal, a state a minute where stderr is a log file (a run left in
the background for an hour would otherwise write ten states a second into its log)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

LOG_INTERVAL_S = 60.0


def progress_bar(**options: Any) -> tqdm:
    """A bar to use as a context manager, so that an error closes it too: its last state ends its line, and the
    error's one line is not written onto it. Set its figures with show_figures."""
    on_terminal = sys.stderr is not None and sys.stderr.isatty()
    return tqdm(mininterval=0.1 if on_terminal else LOG_INTERVAL_S, dynamic_ncols=on_terminal, **options)


def show_figures(bar: tqdm, **figures: float) -> None:
    """Figures beside the bar, three decimals each, shown at its next redraw (progress_bar's interval): a redraw
    here, once a step, would write a state a step into a log."""
    bar.set_postfix({name: f"{value:.3f}" for name, value in figures.items()}, refresh=False)
