"""The statistics of an experiment readout: 95% intervals of proportions and of a difference between two, and a
verdict in plain words. docs/experiments.md states the rules.

Proportions get Wilson score intervals (scipy's `binomtest(...).proportion_ci(method="wilson")`): they stay in
[0, 1] and keep their coverage at small n and near 0, where the normal approximation does not. A difference of
two independent proportions gets Newcombe's hybrid score interval (Newcombe 1998, method 10), built from the two
Wilson intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from scipy.stats import binomtest

CONFIDENCE = 0.95
# The minimum sample rule: below it either interval's coverage is too uncertain to call a result.
MIN_LISTS = 100  # lists per variant
MIN_OUTCOMES = 5  # lists with and lists without the outcome, per variant


class Verdict(StrEnum):
    NOT_ENOUGH_DATA = "not enough data"
    NO_DIFFERENCE = "no difference"
    BETTER = "better"
    WORSE = "worse"


@dataclass(frozen=True)
class Estimate:
    """A proportion with its interval; all None when there is nothing to divide by."""

    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Difference:
    """variant - control, with its interval (None without data on either side) and the verdict."""

    difference: float | None
    low: float | None
    high: float | None
    verdict: Verdict


def proportion(successes: int, trials: int) -> Estimate:
    """successes / trials with its Wilson interval; successes above trials are taken as trials (clicks per item
    shown can exceed the items when a user clicks one item twice)."""
    if trials <= 0:
        return Estimate(None, None, None)
    k = max(0, min(successes, trials))
    ci = binomtest(k, trials).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return Estimate(k / trials, float(ci.low), float(ci.high))


def difference(variant: tuple[int, int], control: tuple[int, int]) -> Difference:
    """(successes, trials) of a variant and of the control -> the difference of their proportions, Newcombe's
    interval, and the verdict: "not enough data" below the minimum sample rule, else "better" or "worse" when the
    interval excludes 0, else "no difference"."""
    a, b = proportion(*variant), proportion(*control)
    if a.value is None or b.value is None or a.low is None or a.high is None or b.low is None or b.high is None:
        return Difference(None, None, None, Verdict.NOT_ENOUGH_DATA)
    d = a.value - b.value
    low = d - math.sqrt((a.value - a.low) ** 2 + (b.high - b.value) ** 2)
    high = d + math.sqrt((a.high - a.value) ** 2 + (b.value - b.low) ** 2)
    if not (enough(*variant) and enough(*control)):
        verdict = Verdict.NOT_ENOUGH_DATA
    elif low > 0:
        verdict = Verdict.BETTER
    elif high < 0:
        verdict = Verdict.WORSE
    else:
        verdict = Verdict.NO_DIFFERENCE
    return Difference(d, low, high, verdict)


def enough(successes: int, trials: int) -> bool:
    """The minimum sample rule for one arm: MIN_LISTS trials, MIN_OUTCOMES with and without the outcome."""
    k = min(successes, trials)
    return trials >= MIN_LISTS and k >= MIN_OUTCOMES and trials - k >= MIN_OUTCOMES
