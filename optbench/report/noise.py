"""Whether the seeds resolve the top of a ranking, in words (`lead_text`).

A report that ranks variants or optimizers by a mean over seeds says, for its top, whether the gap
between the first and the second is resolved: Welch's 95 % confidence interval of the difference of
their means (`stats.welch_difference`) excludes 0. When it includes 0, no single winner is named: the
first and those next to it whose difference to it is within noise are named together (the group ends
at the first whose difference is resolved). With one seed on
either side the difference cannot be judged, and the sentence says so. A function task has no
randomness, so its differences are exact and need no interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from optbench.report.sentences import and_list
from optbench.stats import Difference, welch_difference
from optbench.text import plural

METHOD = "Welch's t"
"""How a sentence names the interval it gives (see `stats.welch_difference`)."""
MAX_NAMED = 4
"""A leading group within noise names at most this many entries, then counts the others."""


@dataclass(frozen=True)
class Contender:
    """One entry of a ranking: its label and its value on each seed (NaN: a seed without one)."""

    label: str
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        finite = [v for v in self.values if math.isfinite(v)]
        return float(np.mean(finite)) if finite else math.nan


@dataclass(frozen=True)
class Scale:
    """How a ranking writes its numbers: a mean (`97.10%`), a difference without its unit (`0.26`),
    the unit after a difference (` points`), and which way is better."""

    value: Callable[[float], str]
    difference: Callable[[float], str]
    unit: str = ""
    larger_is_better: bool = True


@dataclass(frozen=True)
class Lead:
    """The top of a ranking in words, and who leads: one label, or all those within noise of the first."""

    text: str
    leaders: tuple[str, ...]


def rank(entries: Sequence[Contender], larger_is_better: bool) -> list[Contender]:
    """The entries with a value, best mean first (in their given order among equals)."""
    finite = [c for c in entries if math.isfinite(c.mean)]
    return sorted(finite, key=lambda c: -c.mean if larger_is_better else c.mean)


def oriented(diff: Difference, larger_is_better: bool) -> tuple[float, float, float]:
    """(margin, low, high) of a difference first − second, turned so that positive favours the first."""
    if larger_is_better:
        return diff.estimate, diff.low, diff.high
    return -diff.estimate, -diff.high, -diff.low


def _seeds(diff: Difference) -> str:
    first, second = diff.counts
    return f"{METHOD} over {first} and {second} seeds" if first != second else f"{METHOD}, {first} seeds each"


def _interval(diff: Difference, scale: Scale) -> str:
    _, low, high = oriented(diff, scale.larger_is_better)
    return f"[{scale.difference(low)}, {scale.difference(high)}]{scale.unit}"


def lead_text(ranked: Sequence[Contender], scale: Scale, exact: bool = False) -> Lead:
    """The first of `ranked` (best first, two or more) against the second, and whether the gap is real.

    `exact`: the values have no noise (a function task); the gap is stated as it is.
    """
    first, second = ranked[0], ranked[1]
    diff = welch_difference(first.values, second.values)
    margin = abs(oriented(diff, scale.larger_is_better)[0])
    head = f"{first.label} ({scale.value(first.mean)})"
    versus = f"{second.label} ({scale.value(second.mean)})"
    if margin == 0:
        tie = f"{first.label} and {second.label} tie at {scale.value(first.mean)}"
        return Lead(tie, (first.label, second.label))
    ahead = f"{head}, ahead of {versus} by {scale.difference(margin)}{scale.unit}"
    if exact:
        return Lead(f"{ahead}; exact, as a function task has no randomness", (first.label,))
    if not diff.judged:
        one = "one seed each" if max(diff.counts) == 1 else "one seed on one side"
        return Lead(f"{ahead}; with {one}, whether this difference is real cannot be judged", (first.label,))
    level = f"{diff.level:.0%}".replace("%", " %")
    if diff.resolved:
        return Lead(
            f"{ahead}: resolved, the {level} CI of the difference is {_interval(diff, scale)} "
            f"({_seeds(diff)})",
            (first.label,),
        )
    group = [first, second]
    for other in ranked[2:]:
        d = welch_difference(first.values, other.values)
        if not d.judged or d.resolved:
            break
        group.append(other)
    named = group[:MAX_NAMED]
    names = [f"{c.label} ({scale.value(c.mean)})" for c in named]
    if len(group) > len(named):
        names.append(plural(len(group) - len(named), "other"))
    within = "within noise of each other" if len(group) == 2 else f"each within noise of {first.label}"
    gap = f"{scale.difference(margin)}{scale.unit}"
    return Lead(
        f"no single winner: {and_list(names)} are {within} ({first.label} ahead of {second.label} by {gap}; "
        f"the {level} CI of the difference, {_interval(diff, scale)}, includes 0; {_seeds(diff)})",
        tuple(c.label for c in named),
    )


def points(difference: float) -> str:
    """A difference of accuracies in percentage points: two decimals, or two digits when smaller."""
    value = difference * 100
    return f"{value:.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


def percent_scale() -> Scale:
    """An accuracy: means in percent, differences in percentage points."""
    return Scale(lambda v: f"{v:.2%}", points, " points")


def number_scale(larger_is_better: bool = False) -> Scale:
    """A loss or f: four significant digits (three for a difference)."""
    return Scale(lambda v: f"{v:.4g}", lambda d: f"{d:.3g}", "", larger_is_better)
