"""Tests for optbench/functions.py: gradients, minima, vectorisation, hand-computed values, registry."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from optbench.functions import FUNCTIONS, Objective

NAMES = sorted(FUNCTIONS)
WITH_MINIMA = [name for name in NAMES if FUNCTIONS[name].minima]
WITH_SADDLES = [name for name in NAMES if FUNCTIONS[name].saddles]

FD_STEP = 1e-6
"""Central-difference step, relative to max(1, |coordinate|)."""


def central_difference(obj: Objective, p: np.ndarray) -> np.ndarray:
    g = np.empty(2)
    for i in range(2):
        h = FD_STEP * max(1.0, abs(p[i]))
        e = np.zeros(2)
        e[i] = h
        g[i] = (obj.value(*(p + e)) - obj.value(*(p - e))) / (2.0 * h)
    return g


def random_points(obj: Objective, rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([rng.uniform(*obj.xlim, size=n), rng.uniform(*obj.ylim, size=n)])


def is_dyadic(p: tuple[float, float]) -> bool:
    """Whether both coordinates are multiples of 1/8, so the formulas evaluate them exactly."""
    return all(float(8 * c).is_integer() for c in p)


# --------------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences_across_the_view_box(name: str) -> None:
    obj = FUNCTIONS[name]
    rng = np.random.default_rng(20240601)
    points = np.vstack([random_points(obj, rng, 25), np.array([obj.start])])
    for p in points:
        g = obj.grad(p)
        fd = central_difference(obj, p)
        # Rounding in the differences is about ε·|f|/h ≈ 2e-10·|f|; the second term covers it, so a
        # near-zero component is judged against the whole gradient, not against itself.
        tol = 1e-6 * np.linalg.norm(g) + 1e-8 * (1.0 + abs(obj.value(*p)))
        assert np.linalg.norm(fd - g) <= tol, (p, g, fd)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_returns_a_new_float64_pair_and_leaves_its_input_alone(name: str) -> None:
    p = np.array(FUNCTIONS[name].start)
    before = p.copy()
    g = FUNCTIONS[name].grad(p)
    assert g.shape == (2,)
    assert g.dtype == np.float64
    assert g is not p
    np.testing.assert_array_equal(p, before)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_at_an_infinite_point_is_non_finite_rather_than_an_error(name: str) -> None:
    # A diverging run must end as "diverged", not crash inside the gradient.
    with np.errstate(all="ignore"):
        g = FUNCTIONS[name].grad(np.array([math.inf, 1.0]))
    assert g.shape == (2,)
    assert not np.all(np.isfinite(g))


# Gradients worked out by hand from the formulas.
HAND_GRADIENTS = [
    ("book", (-7.0, 2.0), (-0.7, 4.0)),  # (x/10, 2y)
    ("rosenbrock", (-1.2, 1.0), (-215.6, -88.0)),  # (−2(2.2) − 400(−1.2)(−0.44), 200(−0.44))
    ("beale", (0.0, 0.0), (-12.75, 0.0)),  # 2(−1.5 − 2.25 − 2.625), 0
    ("beale", (1.0, 1.0), (0.0, 27.75)),  # 0, 2(1.5 + 2·2.25 + 3·2.625)
    ("himmelblau", (0.0, 0.0), (-14.0, -22.0)),  # (2(−7), 2(−11))
    ("rastrigin", (0.25, 0.0), (0.5 + 20.0 * math.pi, 0.0)),  # 2x + 20π sin(π/2)
    ("booth", (0.0, 0.0), (-34.0, -38.0)),  # (2(−7) + 4(−5), 4(−7) + 2(−5))
    ("goldstein_price", (0.0, 0.0), (720.0, 720.0)),  # P' = 2·19 − 14 = 24, Q = 30, Q' = 0
    ("saddle", (-1.0, 1e-3), (-2.0, -2e-3)),  # (2x, −2y)
]


@pytest.mark.parametrize(("name", "point", "expected"), HAND_GRADIENTS)
def test_gradient_equals_hand_computed_value(
    name: str, point: tuple[float, float], expected: tuple[float, float]
) -> None:
    g = FUNCTIONS[name].grad(np.array(point))
    np.testing.assert_allclose(g, expected, rtol=1e-13, atol=1e-13)


# --------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------

# Values worked out by hand from the formulas, not by calling the code.
HAND_VALUES = [
    ("book", (-7.0, 2.0), 6.45),  # 49/20 + 4
    ("book", (0.0, 0.0), 0.0),
    ("rosenbrock", (0.0, 0.0), 1.0),  # 1 + 0
    ("rosenbrock", (-1.2, 1.0), 24.2),  # 2.2² + 100·0.44² = 4.84 + 19.36
    ("beale", (0.0, 0.0), 14.203125),  # 1.5² + 2.25² + 2.625² = 2.25 + 5.0625 + 6.890625
    ("beale", (1.0, 1.0), 14.203125),  # x·yᵏ − x = 0 at y = 1: the same residuals
    ("himmelblau", (0.0, 0.0), 170.0),  # 11² + 7²
    ("himmelblau", (1.0, 1.0), 106.0),  # 9² + 5²
    ("rastrigin", (1.0, 1.0), 2.0),  # 20 + 1 − 10 + 1 − 10
    ("rastrigin", (0.5, 0.0), 20.25),  # 20 + 0.25 + 10 + 0 − 10
    ("booth", (0.0, 0.0), 74.0),  # 7² + 5²
    ("booth", (1.0, 1.0), 20.0),  # (−4)² + (−2)²
    ("goldstein_price", (0.0, 0.0), 600.0),  # (1 + 1·19)·(30 + 0)
    ("goldstein_price", (1.0, 1.0), 1876.0),  # (1 + 9·3)·(30 + 1·37) = 28·67
    ("goldstein_price", (0.0, -1.0), 3.0),  # (1 + 0)·(30 + 9·(18 − 48 + 27))
    ("saddle", (3.0, 2.0), 5.0),  # 9 − 4
]


@pytest.mark.parametrize(("name", "point", "expected"), HAND_VALUES)
def test_value_equals_hand_computed_value(name: str, point: tuple[float, float], expected: float) -> None:
    assert FUNCTIONS[name].value(*point) == pytest.approx(expected, rel=1e-13, abs=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_value_of_scalars_is_a_python_float(name: str) -> None:
    assert type(FUNCTIONS[name].value(0.5, -0.25)) is float


@pytest.mark.parametrize("name", NAMES)
def test_value_over_a_grid_agrees_with_scalar_calls(name: str) -> None:
    obj = FUNCTIONS[name]
    X, Y = np.meshgrid(np.linspace(*obj.xlim, 7), np.linspace(*obj.ylim, 5))
    Z = obj.value(X, Y)
    assert Z.shape == X.shape
    assert Z.dtype == np.float64
    scalar = np.vectorize(obj.value, otypes=[np.float64])(X, Y)
    # Vectorised cos may differ from the scalar one in the last bit.
    np.testing.assert_allclose(Z, scalar, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_value_accepts_integer_grids_as_float64(name: str) -> None:
    obj = FUNCTIONS[name]
    X, Y = np.meshgrid(np.arange(-2, 3), np.arange(-2, 3))
    np.testing.assert_array_equal(obj.value(X, Y), obj.value(X.astype(float), Y.astype(float)))


# --------------------------------------------------------------------------------------------------
# Minima and saddles
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WITH_MINIMA)
def test_value_at_each_minimum_is_min_value(name: str) -> None:
    obj = FUNCTIONS[name]
    assert obj.min_value is not None
    for m in obj.minima:
        if is_dyadic(m):
            assert obj.value(*m) == obj.min_value
        else:
            assert obj.value(*m) == pytest.approx(obj.min_value, abs=1e-10)


@pytest.mark.parametrize("name", WITH_MINIMA)
def test_gradient_vanishes_at_each_minimum(name: str) -> None:
    obj = FUNCTIONS[name]
    for m in obj.minima:
        g = obj.grad(np.array(m))
        if is_dyadic(m):
            np.testing.assert_array_equal(g, 0.0)
        else:
            assert np.linalg.norm(g) < 1e-6


@pytest.mark.parametrize("name", WITH_MINIMA)
def test_each_minimum_is_lower_than_the_points_around_it(name: str) -> None:
    obj = FUNCTIONS[name]
    angles = np.linspace(0.0, 2.0 * math.pi, 16, endpoint=False)
    for m in obj.minima:
        for radius in (1e-4, 1e-2):
            around = obj.value(m[0] + radius * np.cos(angles), m[1] + radius * np.sin(angles))
            assert np.all(around > obj.value(*m)), (m, radius)


@pytest.mark.parametrize("name", WITH_MINIMA)
def test_no_point_of_the_view_box_is_below_min_value(name: str) -> None:
    obj = FUNCTIONS[name]
    assert obj.min_value is not None
    X, Y = np.meshgrid(np.linspace(*obj.xlim, 401), np.linspace(*obj.ylim, 401))
    assert obj.value(X, Y).min() >= obj.min_value


def test_himmelblau_lists_every_local_minimum_of_its_box() -> None:
    obj = FUNCTIONS["himmelblau"]
    xs = np.linspace(*obj.xlim, 201)
    ys = np.linspace(*obj.ylim, 201)
    X, Y = np.meshgrid(xs, ys)
    Z = obj.value(X, Y)
    inner = Z[1:-1, 1:-1]
    neighbours = [
        Z[1 + di : Z.shape[0] - 1 + di, 1 + dj : Z.shape[1] - 1 + dj]
        for di in (-1, 0, 1)
        for dj in (-1, 0, 1)
    ]
    is_min = np.all([inner <= n for n in neighbours], axis=0)
    found = np.column_stack([X[1:-1, 1:-1][is_min], Y[1:-1, 1:-1][is_min]])
    spacing = xs[1] - xs[0]
    assert len(found) == len(obj.minima)
    for m in obj.minima:
        assert np.min(np.hypot(*(found - np.array(m)).T)) < spacing


def _himmelblau_newton_step(x: Fraction, y: Fraction) -> tuple[Fraction, Fraction]:
    """One exact Newton step on ∇f = 0, with the gradient and Hessian written out by hand."""
    u = x * x + y - 11
    v = x + y * y - 7
    gx = 4 * x * u + 2 * v
    gy = 2 * u + 4 * y * v
    hxx = 12 * x * x + 4 * y - 42
    hxy = 4 * x + 4 * y
    hyy = 4 * x + 12 * y * y - 26
    det = hxx * hyy - hxy * hxy
    return -(hyy * gx - hxy * gy) / det, -(hxx * gy - hxy * gx) / det


def test_himmelblau_stationary_points_are_correctly_rounded() -> None:
    # Each listed coordinate must be the double nearest the exact stationary point. Arithmetic in
    # Fraction is exact, so one Newton step from the listed double measures its distance to the root
    # up to a term quadratic in that (sub-ulp) distance.
    obj = FUNCTIONS["himmelblau"]
    for p in obj.minima + obj.saddles:
        dx, dy = _himmelblau_newton_step(Fraction(p[0]), Fraction(p[1]))
        assert abs(dx) <= Fraction(math.ulp(p[0])) / 2, p
        assert abs(dy) <= Fraction(math.ulp(p[1])) / 2, p


def _hessian(obj: Objective, p: tuple[float, float], h: float = 1e-5) -> np.ndarray:
    columns = []
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        columns.append((obj.grad(np.array(p) + e) - obj.grad(np.array(p) - e)) / (2.0 * h))
    return np.column_stack(columns)


@pytest.mark.parametrize("name", WITH_SADDLES)
def test_each_saddle_is_stationary_with_an_indefinite_hessian(name: str) -> None:
    obj = FUNCTIONS[name]
    for s in obj.saddles:
        assert np.linalg.norm(obj.grad(np.array(s))) < 1e-9
        eigenvalues = np.linalg.eigvalsh(_hessian(obj, s))
        assert eigenvalues[0] < -1e-3 < 1e-3 < eigenvalues[1], (s, eigenvalues)


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------


def test_registry_holds_the_lecture_and_survey_functions() -> None:
    expected = {
        "book",
        "rosenbrock",
        "beale",
        "himmelblau",
        "rastrigin",
        "booth",
        "goldstein_price",
        "saddle",
    }
    assert expected <= set(FUNCTIONS)


@pytest.mark.parametrize("name", NAMES)
def test_registry_key_is_the_objective_name(name: str) -> None:
    assert FUNCTIONS[name].name == name


def in_view_box(obj: Objective, p: tuple[float, float]) -> bool:
    """Whether `p` lies in the objective's plot box, edges included."""
    return obj.xlim[0] <= p[0] <= obj.xlim[1] and obj.ylim[0] <= p[1] <= obj.ylim[1]


@pytest.mark.parametrize("name", NAMES)
def test_start_lies_in_the_view_box_away_from_every_minimum(name: str) -> None:
    obj = FUNCTIONS[name]
    assert obj.xlim[0] < obj.xlim[1]
    assert obj.ylim[0] < obj.ylim[1]
    assert in_view_box(obj, obj.start)
    for m in obj.minima:
        assert math.dist(obj.start, m) > 0.1
    assert np.linalg.norm(obj.grad(np.array(obj.start))) > 0.0


@pytest.mark.parametrize("name", NAMES)
def test_minima_and_saddles_lie_in_the_view_box(name: str) -> None:
    obj = FUNCTIONS[name]
    assert all(in_view_box(obj, p) for p in obj.minima + obj.saddles)


@pytest.mark.parametrize("name", NAMES)
def test_min_value_is_given_exactly_when_minima_are(name: str) -> None:
    obj = FUNCTIONS[name]
    assert (obj.min_value is None) == (len(obj.minima) == 0)
    # Log-spaced contour levels are offsets above the minimum, which must exist.
    assert not obj.log_levels or obj.min_value is not None


@pytest.mark.parametrize("name", NAMES)
def test_describing_text_is_present_and_on_one_line(name: str) -> None:
    obj = FUNCTIONS[name]
    for text in (obj.formula, obj.summary, obj.source):
        assert text
        assert "\n" not in text


def test_saddle_is_unbounded_below_and_starts_beside_its_stable_manifold() -> None:
    obj = FUNCTIONS["saddle"]
    assert obj.minima == ()
    assert obj.min_value is None
    assert obj.value(0.0, 1e6) == -1e12
    assert 0.0 < abs(obj.start[1]) < 1e-2 < abs(obj.start[0])


def test_repr_says_which_function_and_its_formula() -> None:
    assert repr(FUNCTIONS["rosenbrock"]) == "Objective('rosenbrock': (1 − x)² + 100(y − x²)²)"
