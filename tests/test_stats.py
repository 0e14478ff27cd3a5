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


def test_an_interval_stays_within_zero_and_one() -> None:
    # at 0 or all hits the bounds land on 0 and 1 up to rounding: -3e-17 would print as "-0.0%" and break the JSON's
    # 0-1 range
    for total in range(1, 60):
        assert wilson_interval(0, total)[0] == 0.0 and wilson_interval(total, total)[1] <= 1.0, total


def test_an_empty_set_says_nothing_of_its_accuracy() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
