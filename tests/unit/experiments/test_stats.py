"""lemo/experiments/stats.py: Wilson intervals, Newcombe's interval of a difference, and the verdict rule."""

from __future__ import annotations

import math

import pytest

from lemo.experiments.stats import MIN_LISTS, Verdict, difference, enough, proportion


@pytest.mark.parametrize(("k", "n"), [(56, 70), (1, 3), (0, 50), (50, 50), (310, 12000)])
def test_wilson_interval_matches_the_closed_form(k: int, n: int) -> None:
    z, p = 1.959963984540054, k / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    est = proportion(k, n)
    assert est.value == pytest.approx(p)
    assert (est.low, est.high) == (pytest.approx(center - half, abs=1e-9), pytest.approx(center + half, abs=1e-9))


def test_a_proportion_of_nothing_is_unknown_and_zero_keeps_a_real_upper_bound() -> None:
    assert proportion(3, 0).value is None and proportion(3, 0).low is None
    zero = proportion(0, 10)
    assert zero.value == 0.0 and zero.low == pytest.approx(0.0) and zero.high == pytest.approx(0.2775, abs=1e-4)


def test_successes_above_trials_are_capped() -> None:
    # Clicks per item shown: a user who clicks one item twice must not push the rate past 1.
    assert proportion(12, 10) == proportion(10, 10)


def test_newcombe_difference_matches_the_published_example() -> None:
    # Newcombe 1998, method 10, example (a): 56/70 - 48/80 = 0.2000, 95% interval (0.0524, 0.3339).
    d = difference((56, 70), (48, 80))
    assert d.difference == pytest.approx(0.2)
    assert (d.low, d.high) == (pytest.approx(0.0524, abs=1e-4), pytest.approx(0.3339, abs=1e-4))


@pytest.mark.parametrize(
    ("variant", "control", "verdict"),
    [
        ((60, 200), (30, 200), Verdict.BETTER),
        ((30, 200), (60, 200), Verdict.WORSE),
        ((41, 200), (40, 200), Verdict.NO_DIFFERENCE),
        ((60, 99), (30, 200), Verdict.NOT_ENOUGH_DATA),  # under MIN_LISTS lists
        ((4, 1000), (40, 1000), Verdict.NOT_ENOUGH_DATA),  # fewer than 5 lists clicked
        ((998, 1000), (500, 1000), Verdict.NOT_ENOUGH_DATA),  # fewer than 5 lists not clicked
        ((10, 200), (0, 0), Verdict.NOT_ENOUGH_DATA),
    ],
)
def test_verdicts(variant: tuple[int, int], control: tuple[int, int], verdict: Verdict) -> None:
    assert difference(variant, control).verdict is verdict


def test_a_difference_is_reported_even_below_the_sample_rule() -> None:
    d = difference((9, 20), (2, 20))
    assert d.verdict is Verdict.NOT_ENOUGH_DATA
    assert d.difference == pytest.approx(0.35) and d.low is not None and d.low > 0


def test_the_minimum_sample_rule() -> None:
    assert enough(5, MIN_LISTS) and enough(MIN_LISTS - 5, MIN_LISTS)
    assert not enough(5, MIN_LISTS - 1)
    assert not enough(4, MIN_LISTS) and not enough(MIN_LISTS - 4, MIN_LISTS)
