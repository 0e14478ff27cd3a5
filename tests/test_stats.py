"""Confidence intervals and paired tests for accuracies measured on small real sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from platelab.eval.stats import mcnemar_p, wilson_interval


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson_interval(95, 118)
    assert (round(low, 3), round(high, 3)) == (0.724, 0.866)
    assert wilson_interval(0, 10)[0] == 0.0 and 0.27 < wilson_interval(0, 10)[1] < 0.28
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and 0.72 < wilson_interval(10, 10)[0] < 0.73


def test_an_interval_narrows_as_the_set_grows() -> None:
    small, large = wilson_interval(9, 10), wilson_interval(900, 1000)
    assert small[0] < large[0] < 0.9 < large[1] < small[1]


def test_mcnemar_exact_p() -> None:
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(6, 0) == pytest.approx(2 / 64)  # six changes, all one way
    assert mcnemar_p(3, 3) == 1.0
    assert mcnemar_p(8, 2) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert mcnemar_p(2, 8) == mcnemar_p(8, 2)


def test_an_interval_stays_within_zero_and_one() -> None:
    # at 0 or all hits the bounds land on 0 and 1 up to rounding: -3e-17 would print as "-0.0%" and break the JSON's
    # 0-1 range
    for total in range(1, 60):
        assert wilson_interval(0, total)[0] == 0.0 and wilson_interval(total, total)[1] <= 1.0, total


def test_an_empty_set_says_nothing_of_its_accuracy() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_compare_counts_the_plates_a_change_fixed_and_broke_on_each_set_and_prior(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """benchmarks/compare.py pairs the two readers item by item: fixed is read by the changed reader only."""
    import sys

    from benchmarks import compare

    baseline = [True, True, True, False, False, False, True, False, True, False]
    changed = [True, False, True, True, True, True, True, True, False, True]  # 5 fixed, 2 broken, 3 read by both
    read: list[tuple[str, str | None]] = []

    def hits(folder: Path, recognizer: Path | None, detector: Path | None, prior: str | None, tta: bool) -> list[bool]:
        assert tta
        read.append((folder.name, prior))
        return changed if recognizer == Path("new.onnx") else baseline

    monkeypatch.setattr(compare, "hits", hits)
    monkeypatch.setattr(compare, "describe_environment", lambda: "here")
    (tmp_path / "endtoend-br").mkdir()  # the set's folder, whose items the stand-in hits() reads
    monkeypatch.setattr(sys, "argv", ["compare.py", "--recognizer", "new.onnx", "--real", str(tmp_path), "--sets",
                                      "endtoend-br", "synthetic", "--tta"])
    compare.main()
    rows = capsys.readouterr().out.splitlines()[4:]
    shares = "50.0% (23.7-76.3%) | 80.0% (49.0-94.3%)"
    p = f"{mcnemar_p(5, 2):.2f}"
    assert rows == [f"| endtoend-br | none | 10 | {shares} | 5 | 2 | {p} |",
                    f"| endtoend-br | br | 10 | {shares} | 5 | 2 | {p} |",
                    f"| synthetic | none | 10 | {shares} | 5 | 2 | {p} |"]
    assert read == [("endtoend-br", None)] * 2 + [("endtoend-br", "br")] * 2 + [("synthetic", None)] * 2
