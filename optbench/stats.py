"""Statistics of curves and seeds: smoothing, mean ± std over seeds, time to target, and whether
the seeds resolve the difference between two means (Welch's t interval).

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


CONFIDENCE = 0.95
"""Level of the confidence interval of a difference of two means over seeds."""

_BETA_TINY = 1e-300
"""Floor of the continued fraction's terms (Lentz's method): keeps a division by zero away."""
_BETA_EPS = 1e-15
"""The continued fraction stops once a step changes it by less than this relative amount ..."""
_BETA_TERMS = 500
"""... or after this many terms (a, b of the t distribution need a few dozen)."""
_QUANTILE_STEPS = 200
"""Bisection steps of `t_quantile`: enough to pin a double down from any bracket."""


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function, for x < (a + 1)/(a + b + 2), evaluated
    by the modified Lentz method: 1/(1 + d1/(1 + d2/(1 + ...))) with
    d(2m+1) = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1)) and d(2m) = m(b−m)x / ((a+2m−1)(a+2m))."""

    def floor(v: float) -> float:
        return v if abs(v) > _BETA_TINY else _BETA_TINY

    c, d = 1.0, 1.0 / floor(1.0 - (a + b) * x / (a + 1.0))
    value = d
    for m in range(1, _BETA_TERMS + 1):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 / floor(1.0 + numerator * d)
            c = floor(1.0 + numerator / c)
            value *= c * d
        if abs(c * d - 1.0) < _BETA_EPS:
            break
    return value


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) = B(x; a, b)/B(a, b), for a, b > 0.

    I_x(a, b) = x^a (1 − x)^b / (a B(a, b)) · F(x), F the continued fraction of `_beta_fraction`,
    which converges fast for x < (a + 1)/(a + b + 2); above it, the symmetry I_x(a, b) = 1 − I_{1−x}(b, a).
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with df > 0 degrees of freedom (df need not be a whole number):
    for t ≥ 0, 1 − ½ I_{df/(df+t²)}(df/2, ½), and by symmetry 1 − P(T ≤ −t) below 0."""
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T ≤ t) = p for Student's t with df degrees of freedom, 0 < p < 1: `t_cdf` inverted
    by bisection (it is increasing), so as exact as the incomplete beta function. t_quantile(0.975, 4)
    is 2.776, the value of printed tables."""
    if not 0.0 < p < 1.0 or not df > 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, 2.0 * high
    for _ in range(_QUANTILE_STEPS):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
    return 0.5 * (low + high)


@dataclass(frozen=True)
class Difference:
    """mean(a) − mean(b) of two samples over seeds, and its confidence interval (Welch).

    `df` is NaN and the interval [NaN, NaN] when either sample has fewer than two values: one seed says
    nothing about the spread of a mean, so whether the difference is real cannot be judged.
    """

    estimate: float
    low: float
    high: float
    df: float
    counts: tuple[int, int]
    level: float = CONFIDENCE

    @property
    def judged(self) -> bool:
        """Whether there are seeds enough (two or more on each side) to judge the difference."""
        return math.isfinite(self.low)

    @property
    def resolved(self) -> bool:
        """Whether the interval excludes 0: the seeds resolve the difference at this level."""
        return self.judged and (self.low > 0 or self.high < 0)


def welch_difference(a: Sequence[float], b: Sequence[float], level: float = CONFIDENCE) -> Difference:
    """Welch's confidence interval of mean(a) − mean(b), the finite values of each a sample of seeds.

    d ± t_q(ν)·se with se² = s_a²/n_a + s_b²/n_b (s² the sample variances, ddof 1), q = (1 + level)/2,
    and the Welch–Satterthwaite degrees of freedom ν = se⁴ / ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1)).
    When both samples have no spread (se = 0) the interval is the difference itself.
    """
    x = np.array([v for v in a if math.isfinite(v)], dtype=np.float64)
    y = np.array([v for v in b if math.isfinite(v)], dtype=np.float64)
    counts = (len(x), len(y))
    estimate = float(x.mean() - y.mean()) if x.size and y.size else math.nan
    if x.size < 2 or y.size < 2:
        return Difference(estimate, math.nan, math.nan, math.nan, counts, level)
    va, vb = float(x.var(ddof=1)) / x.size, float(y.var(ddof=1)) / y.size
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Difference(estimate, estimate, estimate, math.inf, counts, level)
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    half = t_quantile(0.5 + level / 2.0, df) * se
    return Difference(estimate, estimate - half, estimate + half, df, counts, level)
