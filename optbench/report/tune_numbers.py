"""A tuning study's numbers beyond the scores `optbench.results` reads: each optimizer's change from
its defaults (and the factor a loss fell by), its final reruns' mean ± std, and which optimizer leads
the expected-max curves at each number of trials.

A score is the study's `tune.metric` in its `tune.mode`; `signed` turns a difference of scores into
one where positive is better, whichever way the metric points. Standard deviations are over seeds
with ddof 0 (`stats.STD_DDOF`); NaN: no such number.
"""

from __future__ import annotations

import math

from optbench.results import TuneResult
from optbench.stats import mean_std


def signed(tune: TuneResult, value: float) -> float:
    """A score, or a difference of scores, turned so that larger is better: negated for a minimised one."""
    return value if tune.maximise else -value


def improvement(tune: TuneResult, optimizer: str) -> float:
    """Best score minus the defaults' score, signed so that positive is better (NaN if either is missing)."""
    chosen, default = tune.chosen(optimizer), tune.default(optimizer)
    if chosen is None or default is None or not default.finite:
        return math.nan
    return signed(tune, chosen.score - default.score)


def loss_factor(tune: TuneResult, optimizer: str) -> float | None:
    """defaults ÷ best of a minimised score (of f − f* for a function with a known minimum), when both
    are positive and differ."""
    chosen, default = tune.chosen(optimizer), tune.default(optimizer)
    if tune.maximise or chosen is None or default is None or not default.finite:
        return None
    shift = tune.min_value or 0.0
    before, after = default.score - shift, chosen.score - shift
    return before / after if before > 0 and after > 0 and before != after else None


def final_numbers(tune: TuneResult, optimizer: str) -> tuple[int, tuple[float, float], tuple[float, float]]:
    """The final reruns of the chosen setting: how many seeds, and mean ± std of their validation score
    (the tune metric) and of their test accuracy, over the completed ones."""
    final = tune.final(optimizer)
    if final is None:
        return 0, (math.nan, math.nan), (math.nan, math.nan)
    completed = [i for i, r in enumerate(final.runs) if r.state == "completed"]
    scores = [final.run_scores[i] for i in completed] if final.run_scores else []
    tests = [final.runs[i].final_test_acc for i in completed]
    return len(final.runs), mean_std(scores), mean_std(tests)


def leaders(tune: TuneResult) -> tuple[list[str], int]:
    """The optimizer with the best expected-max score at each n = 1..N, N being the fewest scored
    random trials of any optimizer that has some; returns (leader at each n, N)."""
    curves = {o: tune.expected_max(o)[0] for o in tune.optimizers}
    curves = {o: c for o, c in curves.items() if c.size}
    if len(curves) < 2:
        return [], 0
    common = min(c.size for c in curves.values())
    order = list(curves)
    out = []
    for i in range(common):
        out.append(max(order, key=lambda o: (signed(tune, float(curves[o][i])), -order.index(o))))
    return out, common


def order_at(tune: TuneResult, n: int) -> list[str]:
    """The optimizers with at least n scored random trials, best expected-max score at n first."""
    curves = {o: tune.expected_max(o)[0] for o in tune.optimizers}
    scored = [o for o, c in curves.items() if c.size >= n]
    return sorted(scored, key=lambda o: -signed(tune, float(curves[o][n - 1])))
