"""Tests of optbench.stats' interval of a difference over seeds: Student's t against closed forms and
printed tables, Welch's interval against hand computation."""

from __future__ import annotations

import math

import pytest

from optbench.stats import incomplete_beta, t_cdf, t_quantile, welch_difference

PRINTED_T_975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    10: 2.228,
    30: 2.042,
    120: 1.980,
}
"""Two-sided 95 % critical values of Student's t by degrees of freedom, as every printed table gives them."""


@pytest.mark.parametrize(("df", "printed"), sorted(PRINTED_T_975.items()))
def test_the_t_quantile_matches_the_printed_table(df: int, printed: float) -> None:
    assert round(t_quantile(0.975, df), 3) == printed


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995, 0.9995])
def test_the_t_quantile_has_the_closed_forms_of_one_and_two_degrees_of_freedom(p: float) -> None:
    # df = 1 is the Cauchy distribution: t = tan(π(p − ½)); df = 2: t = (2p − 1)·√(2 / (4p(1 − p)))
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) * math.sqrt(2 / (4 * p * (1 - p))), rel=1e-10)
    assert t_quantile(1 - p, 3) == pytest.approx(-t_quantile(p, 3), rel=1e-12)


def test_the_t_quantile_tends_to_the_normal_one_and_takes_fractional_degrees_of_freedom() -> None:
    assert t_quantile(0.975, 1e7) == pytest.approx(1.959964, abs=1e-5)  # the normal 97.5 % point
    assert t_quantile(0.975, 2) > t_quantile(0.975, 2.5) > t_quantile(0.975, 3)
    assert t_cdf(t_quantile(0.975, 2.5), 2.5) == pytest.approx(0.975, abs=1e-12)


def test_the_incomplete_beta_has_its_closed_forms() -> None:
    # I_x(a, 1) = x^a and I_x(1, b) = 1 − (1 − x)^b
    for x in (0.01, 0.3, 0.7, 0.99):
        assert incomplete_beta(2.5, 1.0, x) == pytest.approx(x**2.5, rel=1e-12)
        assert incomplete_beta(1.0, 3.5, x) == pytest.approx(1 - (1 - x) ** 3.5, rel=1e-12)
    assert incomplete_beta(2.0, 3.0, 0.0) == 0.0 and incomplete_beta(2.0, 3.0, 1.0) == 1.0


def test_welch_interval_of_two_equally_spread_samples_by_hand() -> None:
    """Three seeds each with sample std 1: se = √(1/3 + 1/3), ν = (2/3)² / (2 · (1/3)² / 2) = 4 exactly,
    t(0.975, 4) = 2.7764, so mean difference −1 ± 2.7764 · 0.8165 = [−3.2669, 1.2669]."""
    diff = welch_difference([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert diff.estimate == -1.0 and diff.df == pytest.approx(4.0, rel=1e-12)
    half = 2.7764451 * math.sqrt(2 / 3)
    assert (diff.low, diff.high) == pytest.approx((-1 - half, -1 + half), rel=1e-6)
    assert diff.judged and not diff.resolved and diff.counts == (3, 3)


def test_welch_interval_of_unequal_spreads_by_hand() -> None:
    """s² = 1 and 4 on three seeds: se² = 1/3 + 4/3 = 5/3, ν = (5/3)² / ((1/3)²/2 + (4/3)²/2) = 50/17,
    t(0.975, 50/17) = 3.21887, so −4 ± 3.21887 · 1.29099 = [−8.1554, 0.1554]: not resolved."""
    diff = welch_difference([1.0, 2.0, 3.0], [4.0, 6.0, 8.0])
    assert diff.df == pytest.approx(50 / 17, rel=1e-12)
    assert (diff.low, diff.high) == pytest.approx((-8.155400, 0.155400), abs=1e-5)
    assert not diff.resolved
    wider = welch_difference([1.0, 2.0, 3.0], [7.0, 9.0, 11.0])  # the same spreads, 7 apart
    assert wider.resolved and wider.high < 0


def test_one_seed_cannot_judge_a_difference_and_no_spread_judges_it_exactly() -> None:
    one = welch_difference([0.95], [0.94, 0.93])
    assert one.estimate == pytest.approx(0.015) and not one.judged and not one.resolved
    exact = welch_difference([2.0, 2.0], [1.0, 1.0, math.nan])  # NaN: a seed without a value
    assert (exact.low, exact.high) == (1.0, 1.0) and exact.resolved and exact.counts == (2, 2)
