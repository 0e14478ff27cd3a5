"""Training's progress bars: live on a terminal, a state a minute in a log file."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

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


def test_a_training_run_into_a_log_file_writes_its_first_and_last_states_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from platelab.train.config import RecognizerTrainConfig
    from platelab.train.recognizer import train_recognizer

    cfg = RecognizerTrainConfig(out_dir=tmp_path / "run", steps=6, batch_size=2, workers=0, val_size=2, val_every=2,
                                checkpoint_every=100, warmup_steps=1, threads=1)
    log = tmp_path / "stderr.log"
    with open(log, "w", encoding="utf-8") as stderr:  # `platelab train ... 2> stderr.log`
        monkeypatch.setattr(sys, "stderr", stderr)
        train_recognizer(cfg)
    states = [state for state in re.split("[\r\n]", log.read_text(encoding="utf-8")) if "train recognizer" in state]
    assert len(states) == 2 and "6/6" in states[-1], states


def test_read_gets_a_bar_only_when_its_lines_do_not_go_to_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from platelab.cli.common import bar_wanted

    monkeypatch.setattr(sys, "stderr", _Terminal())
    monkeypatch.setattr(sys, "stdout", _Terminal())
    assert not bar_wanted(prints_as_it_goes=True)  # `platelab read` on a terminal: its lines are its progress
    assert bar_wanted(prints_as_it_goes=False)  # eval prints at the end: a bar meanwhile
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert bar_wanted(prints_as_it_goes=True)  # `platelab read ... > out.txt`
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not bar_wanted(prints_as_it_goes=False)  # no bar into a log file
