"""Statistics of curves and seeds: smoothing, mean ± std over seeds, time to target.

Pure functions over float64 arrays (NaN marks a missing value), shared by the figures and the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

SMOOTHING = 0.95
"""Weight of the debiased exponential moving average that smooths minibatch losses: s_t = m_t/(1 − β^t)
with m_t = β·m_{t−1} + (1 − β)·x_t, m_0 = 0. β = 0.95 averages over roughly 1/(1 − β) = 20 steps."""

STD_DDOF = 0
"""Delta degrees of freedom of the standard deviation over seeds (0: NumPy's default, the spread of
the seeds that were run, not an estimate for unseen ones)."""

TARGET_ACCURACY = 0.97
"""The held-out accuracy that defines time to target (as in AlgoPerf): the first evaluation step
reaching it. The default of a config's `report.target_accuracy`."""


def smooth(values: FloatArray, weight: float = SMOOTHING) -> FloatArray:
    """Debiased exponential moving average (see SMOOTHING); non-finite inputs give NaN and are skipped.

    The debiasing divides by 1 − β^n, n the number of finite values seen, so the first output equals
    the first input instead of being pulled towards zero.
    """
    out = np.full(len(values), np.nan)
    m, n = 0.0, 0
    for i, x in enumerate(values):
        if math.isfinite(x):
            m = weight * m + (1.0 - weight) * x
            n += 1
            out[i] = m / (1.0 - weight**n)
    return out


@dataclass(frozen=True)
class SeedStats:
    """Mean and standard deviation over seeds at each step of a common grid, and how many seeds count."""

    steps: FloatArray
    mean: FloatArray
    std: FloatArray
    count: NDArray[np.int64]


def aggregate(curves: Sequence[tuple[FloatArray, FloatArray]], ddof: int = STD_DDOF) -> SeedStats:
    """Seed statistics of several (steps, values) curves.

    The grid is every step at which some seed has a finite value. At each step the mean and std are
    over the seeds with a finite value there, so a seed that diverged counts up to its last finite
    step and not after; `count` says how many seeds each point rests on. With fewer than ddof + 1
    seeds at a step, the std there is 0.
    """
    clean = [(s[np.isfinite(v)], v[np.isfinite(v)]) for s, v in curves]
    grid = np.unique(np.concatenate([s for s, _ in clean])) if clean else np.empty(0)
    table = np.full((len(clean), len(grid)), np.nan)
    for row, (steps, values) in zip(table, clean):
        row[np.searchsorted(grid, steps)] = values
    present = np.isfinite(table)
    count = present.sum(axis=0).astype(np.int64)
    total = np.where(present, table, 0.0).sum(axis=0)
    mean = total / np.maximum(count, 1)
    squares = np.where(present, (table - mean) ** 2, 0.0).sum(axis=0)
    std = np.where(count > ddof, np.sqrt(squares / np.maximum(count - ddof, 1)), 0.0)
    return SeedStats(grid, mean, std, count)


def time_to_target(steps: FloatArray, accuracy: FloatArray, target: float = TARGET_ACCURACY) -> int | None:
    """The first step at which accuracy ≥ target, or None if it never gets there."""
    reached = np.flatnonzero(np.isfinite(accuracy) & (accuracy >= target))
    return int(steps[reached[0]]) if reached.size else None


def mean_std(values: Sequence[float], ddof: int = STD_DDOF) -> tuple[float, float]:
    """Mean and std of the finite values (NaN, NaN if there are none)."""
    finite = np.array([v for v in values if math.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return math.nan, math.nan
    std = float(finite.std(ddof=ddof)) if finite.size > ddof else 0.0
    return float(finite.mean()), std


def expected_max(scores: Sequence[float], maximise: bool = True) -> tuple[FloatArray, FloatArray]:
    """Expected best score of n random trials and its standard deviation, for n = 1..N.

    The estimator of Dodge et al. 2019 ("Show Your Work"), drawing n of the N observed scores with
    replacement: with the scores sorted v(1) ≤ … ≤ v(N), P(max = v(i)) = (i/N)^n − ((i−1)/N)^n, so
    E[max of n] = Σ p(i)·v(i) and std = √(Σ p(i)·(v(i) − E)²). For a score to minimise the same is
    done on the negated scores and the mean negated back. Non-finite scores must be left out by the
    caller. Returns (mean, std), each of length N.
    """
    values = np.sort(np.asarray(scores, dtype=np.float64) * (1.0 if maximise else -1.0))
    n_scores = len(values)
    if n_scores == 0:
        return np.empty(0), np.empty(0)
    ranks = np.arange(1, n_scores + 1) / n_scores
    means, stds = np.empty(n_scores), np.empty(n_scores)
    for n in range(1, n_scores + 1):
        p = ranks**n - (ranks - 1.0 / n_scores) ** n
        mean = float(p @ values)
        means[n - 1] = mean
        stds[n - 1] = math.sqrt(max(float(p @ (values - mean) ** 2), 0.0))
    return (means if maximise else -means), stds
