"""A random search read for where its good settings lie: the trials of one optimizer ranked by their
score, and the range of the best few in the two values searched first (the book's "region of good
settings", from which it narrows the search)."""

from __future__ import annotations

from dataclasses import dataclass

from optbench.results.tuning import TrialResult, TuneResult

REGION_TRIALS = 5
"""The good region is the range of the best this many trials (fewer when fewer have a score)."""


def best_trials(tune: TuneResult, optimizer: str) -> list[TrialResult]:
    """The optimizer's trials with a score, best first (the lower trial number among equals)."""
    sign = 1.0 if tune.maximise else -1.0
    scored = [t for t in tune.trials_of(optimizer) if t.finite]
    return sorted(scored, key=lambda t: (-sign * t.score, t.number))


def region_keys(tune: TuneResult, optimizer: str) -> tuple[str, str] | None:
    """The first two searched keys of an optimizer whose values are numbers (not a choice), else None."""
    keys = [k for k in tune.searched.get(optimizer, []) if tune.search_range(optimizer, k) is not None]
    return (keys[0], keys[1]) if len(keys) >= 2 else None


@dataclass(frozen=True)
class SearchRegion:
    """The best trials of a search and the range of each of the two values they drew."""

    keys: tuple[str, str]
    trials: tuple[TrialResult, ...]
    ranges: tuple[tuple[float, float], tuple[float, float]]

    @property
    def scores(self) -> tuple[float, float]:
        """The lowest and highest score among them."""
        values = [t.score for t in self.trials]
        return min(values), max(values)


def search_region(tune: TuneResult, optimizer: str, size: int = REGION_TRIALS) -> SearchRegion | None:
    """The range of the best `size` trials in the optimizer's first two searched values; None when it
    searches fewer than two numeric values or fewer than two trials have a score."""
    keys = region_keys(tune, optimizer)
    best = best_trials(tune, optimizer)[:size]
    if keys is None or len(best) < 2:
        return None
    ranges = tuple(
        (min(float(t.params[k]) for t in best), max(float(t.params[k]) for t in best)) for k in keys
    )
    return SearchRegion(keys, tuple(best), (ranges[0], ranges[1]))
