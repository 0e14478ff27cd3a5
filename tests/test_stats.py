"""Confidence intervals and paired tests for accuracies measured on small real sets."""

from __future__ import annotations

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
