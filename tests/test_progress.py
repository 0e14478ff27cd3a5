"""Training's progress bars: live on a terminal, a state a minute in a log file."""

from __future__ import annotations

import io
import sys

import pytest

from platelab.train.progress import LOG_INTERVAL_S, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_into_a_log_writes_its_first_and_last_states_only(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    with progress_bar(total=1000, desc="train") as bar:
        assert bar.mininterval == LOG_INTERVAL_S
        for _ in range(1000):
            bar.update()
    states = [state for state in log.getvalue().split("\r") if state.strip()]
    assert len(states) == 2 and "1000/1000" in states[-1]


def test_a_bar_on_a_terminal_is_redrawn_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Terminal())
    with progress_bar(total=10, desc="train") as bar:
        assert bar.mininterval < 1 and bar.dynamic_ncols
