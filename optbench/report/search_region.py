"""The sentence of a random search of one optimizer's settings on where its good settings lie: the
range the best trials drew in each of the two values searched first, and how much of the searched
range that is (a narrow range: the value matters; nearly all of it: it hardly does)."""

from __future__ import annotations

import math

from optbench.report.sentences import Finding
from optbench.results import TuneResult, search_region


def _share(tune: TuneResult, optimizer: str, key: str, low: float, high: float) -> str:
    """`0.6 of the 4 decades searched`, or `31 % of the range searched` for a uniform value."""
    bounds = tune.search_range(optimizer, key)
    if bounds is None or bounds[1] <= bounds[0]:
        return ""
    if tune.distribution(optimizer, key) == "log_uniform" and bounds[0] > 0 and low > 0:
        decades = math.log10(bounds[1] / bounds[0])
        return f"{math.log10(high / low):.1f} of the {decades:g} decades searched"
    return f"{(high - low) / (bounds[1] - bounds[0]):.0%} of the range searched"


def region_findings(tune: TuneResult) -> list[Finding]:
    """Where the best trials (`optbench.results.REGION_TRIALS`) of a one-optimizer search lie; none for
    other studies."""
    if len(tune.optimizers) != 1:
        return []
    optimizer = tune.optimizers[0]
    region = search_region(tune, optimizer)
    if region is None:
        return []
    worst, best = region.scores
    score = (
        f"{worst:.1%}–{best:.1%}"
        if tune.metric == "val_acc"
        else f"{min(worst, best):.4g}–{max(worst, best):.4g}"
    )
    parts = []
    for key, (low, high) in zip(region.keys, region.ranges):
        share = _share(tune, optimizer, key, low, high)
        parts.append(f"{key} {low:.2g}–{high:.2g}" + (f" ({share})" if share else ""))
    trials = len(tune.trials_of(optimizer))
    return [
        Finding(
            f"The good region: the best {len(region.trials)} of {trials} trials ({tune.score_name} "
            f"{score}) drew {parts[0]} and {parts[1]}; a narrow range says the value matters, one that "
            "fills the range searched says it hardly does.",
            headline=True,
        )
    ]
