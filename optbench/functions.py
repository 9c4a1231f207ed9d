"""2-D objectives for watching optimizers move: formulas, analytic gradients, minima and plot boxes.

Each objective is an `Objective` in the registry `FUNCTIONS`, read by config validation,
`optbench list functions`, the plots and the tests. `value(x, y)` takes scalars or arrays of any
shape (contour grids); `grad(p)` takes one point of shape (2,) and is called at every optimizer step,
so it works on Python floats and allocates only the two-element result.

Minima are global minima, to full double precision: exact where the exact point is representable,
otherwise the correctly rounded solution of ∇f = 0 (see `himmelblau`). Starts and view boxes follow
the sources cited with each function where there is one; the others are explained where they are set.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from optbench.registry import Registry

FloatArray = NDArray[np.float64]
Point = tuple[float, float]

JAMIL_YANG_2013 = (
    'Jamil, M. & Yang, X.-S. (2013), "A literature survey of benchmark functions for global '
    'optimisation problems", Int. J. Mathematical Modelling and Numerical Optimisation 4(2), 150–194'
)
MORE_GARBOW_HILLSTROM_1981 = (
    'Moré, J. J., Garbow, B. S. & Hillstrom, K. E. (1981), "Testing unconstrained optimization '
    'software", ACM Transactions on Mathematical Software 7(1), 17–41'
)


@dataclass(frozen=True)
class Objective:
    """A function of two variables with its gradient and what a plot of it needs.

    - `f(x, y)`: the formula on float64 arrays; call `value`, which also accepts scalars.
    - `grad(p)`: the analytic gradient at a point p of shape (2,), as a new float64 array of shape (2,).
    - `minima`: every global minimum, with `min_value` the value there; both empty/None when the
      function is unbounded below, or when its minima are not known (`minima_known` false: a formula
      given without its minimum).
    - `start`: the default starting point; `xlim`, `ylim`: the default plot box, which holds the start,
      the minima and the saddles.
    - `log_levels`: whether contour levels should be log-spaced above `min_value` (steep walls
      around a flat floor).
    - `saddles`: saddle points worth marking on a plot; not exhaustive for the multimodal functions.
    """

    name: str
    formula: str
    summary: str
    source: str
    f: Callable[[FloatArray, FloatArray], FloatArray]
    grad: Callable[[FloatArray], FloatArray]
    minima: tuple[Point, ...]
    min_value: float | None
    start: Point
    xlim: Point
    ylim: Point
    log_levels: bool = False
    saddles: tuple[Point, ...] = ()
    minima_known: bool = True

    @overload
    def value(self, x: float, y: float) -> float: ...

    @overload
    def value(self, x: NDArray[Any], y: NDArray[Any]) -> FloatArray: ...

    def value(self, x: float | NDArray[Any], y: float | NDArray[Any]) -> float | FloatArray:
        """f(x, y) in float64, elementwise over arrays of the same shape; a float for scalar arguments."""
        result = self.f(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return float(result) if np.ndim(result) == 0 else result

    def __repr__(self) -> str:
        return f"Objective({self.name!r}: {self.formula})"


FUNCTIONS: Registry[Objective] = Registry("function")


# --------------------------------------------------------------------------------------------------
# book: the lecture's elongated bowl
# --------------------------------------------------------------------------------------------------


def _book(x: FloatArray, y: FloatArray) -> FloatArray:
    """f = x²/20 + y² (Saitoh 2016, §6.1.3): curvature 1/10 along x and 2 along y, ratio 20."""
    return x**2 / 20.0 + y**2


def _book_grad(p: FloatArray) -> FloatArray:
    x, y = float(p[0]), float(p[1])
    return np.array([x / 10.0, 2.0 * y])


FUNCTIONS.register(
    Objective(
        name="book",
        formula="x²/20 + y²",
        summary="the lecture's elongated bowl: 20 times steeper in y than in x",
        source="Saitoh, K. (2016), Deep Learning from Scratch (O'Reilly Japan), §6.1.3; "
        "start and plot box from its ch06/optimizer_compare_naive.py",
        f=_book,
        grad=_book_grad,
        minima=((0.0, 0.0),),
        min_value=0.0,
        start=(-7.0, 2.0),
        xlim=(-10.0, 10.0),
        ylim=(-5.0, 5.0),
    )
)

# --------------------------------------------------------------------------------------------------
# rosenbrock: the curved valley
# --------------------------------------------------------------------------------------------------


def _rosenbrock(x: FloatArray, y: FloatArray) -> FloatArray:
    """f = (1 − x)² + 100(y − x²)² (Rosenbrock 1960): minimum 0 at (1, 1), at the end of a narrow
    parabolic valley y ≈ x² whose floor is nearly flat."""
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def _rosenbrock_grad(p: FloatArray) -> FloatArray:
    x, y = float(p[0]), float(p[1])
    r = y - x * x
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r])


FUNCTIONS.register(
    Objective(
        name="rosenbrock",
        formula="(1 − x)² + 100(y − x²)²",
        summary="narrow curved valley; reaching the valley is easy, following it to (1, 1) is not",
        source='Rosenbrock, H. H. (1960), "An automatic method for finding the greatest or least value '
        'of a function", The Computer Journal 3(3), 175–184; start from ' + MORE_GARBOW_HILLSTROM_1981,
        f=_rosenbrock,
        grad=_rosenbrock_grad,
        minima=((1.0, 1.0),),
        min_value=0.0,
        # The classic start of Rosenbrock's paper and of Moré et al.'s problem 1 (f = 24.2): on the
        # far arm of the valley, so a method must follow the valley round its bend near the origin,
        # and results compare directly with the literature.
        start=(-1.2, 1.0),
        xlim=(-2.0, 2.0),
        ylim=(-1.0, 3.0),
        log_levels=True,
    )
)

# --------------------------------------------------------------------------------------------------
# beale: flat plateaus and steep walls
# --------------------------------------------------------------------------------------------------


def _beale(x: FloatArray, y: FloatArray) -> FloatArray:
    """f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)² (Beale 1958): minimum 0 at
    (3, 0.5), where all three residuals vanish."""
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _beale_grad(p: FloatArray) -> FloatArray:
    # With rₖ = cₖ − x + x·yᵏ: ∂f/∂x = 2 Σ rₖ(yᵏ − 1) and ∂f/∂y = 2x Σ k·rₖ·yᵏ⁻¹.
    x, y = float(p[0]), float(p[1])
    y2 = y * y
    y3 = y2 * y
    r1 = 1.5 - x + x * y
    r2 = 2.25 - x + x * y2
    r3 = 2.625 - x + x * y3
    return np.array(
        [
            2.0 * (r1 * (y - 1.0) + r2 * (y2 - 1.0) + r3 * (y3 - 1.0)),
            2.0 * x * (r1 + 2.0 * y * r2 + 3.0 * y2 * r3),
        ]
    )


FUNCTIONS.register(
    Objective(
        name="beale",
        formula="(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
        summary="flat plateau near the axes, steep walls at |y| > 1, minimum in a narrow valley",
        source='Beale, E. M. L. (1958), "On an iterative method for finding a local minimum of a function '
        'of more than one variable", Tech. Rep. 25, Statistical Techniques Research Group, Princeton '
        "University; start from " + MORE_GARBOW_HILLSTROM_1981 + ", problem 5",
        f=_beale,
        grad=_beale_grad,
        minima=((3.0, 0.5),),
        min_value=0.0,
        # Moré et al.'s start (f = 14.203125, gradient (0, 27.75)): on the plateau, where the gradient
        # is small compared with the walls, which is what separates adaptive methods from plain SGD.
        start=(1.0, 1.0),
        xlim=(-4.5, 4.5),
        ylim=(-4.5, 4.5),
        log_levels=True,
        # At x = 0 the residuals are constants and ∂f/∂x vanishes at y = 1; the Hessian there is
        # [[0, 27.75], [27.75, 0]], indefinite.
        saddles=((0.0, 1.0),),
    )
)

# --------------------------------------------------------------------------------------------------
# himmelblau: four global minima
# --------------------------------------------------------------------------------------------------


def _himmelblau(x: FloatArray, y: FloatArray) -> FloatArray:
    """f = (x² + y − 11)² + (x + y² − 7)² (Himmelblau 1972): four global minima with f = 0, the real
    solutions of x² + y = 11, x + y² = 7."""
    return (x**2 + y - 11.0) ** 2 + (x + y**2 - 7.0) ** 2


def _himmelblau_grad(p: FloatArray) -> FloatArray:
    x, y = float(p[0]), float(p[1])
    u = x * x + y - 11.0
    v = x + y * y - 7.0
    return np.array([4.0 * x * u + 2.0 * v, 2.0 * u + 4.0 * y * v])


FUNCTIONS.register(
    Objective(
        name="himmelblau",
        formula="(x² + y − 11)² + (x + y² − 7)²",
        summary="four global minima (f = 0) around a local maximum: which basin does a method reach?",
        source="Himmelblau, D. M. (1972), Applied Nonlinear Programming (McGraw-Hill); " + JAMIL_YANG_2013,
        f=_himmelblau,
        grad=_himmelblau_grad,
        # (3, 2) is exact; the other three are Newton's method on ∇f = 0 in 60-digit arithmetic
        # (mpmath), rounded to the nearest double, and agree with the 30-digit values in FEAT3's
        # kernel/analytic/common.hpp (HimmelblauStatic) and the 16-digit ones of Oldenhuis's himmelblau.m.
        minima=(
            (3.0, 2.0),
            (-2.805118086952745, 3.131312518250573),
            (-3.779310253377747, -3.2831859912861696),
            (3.5844283403304917, -1.8481265269644036),
        ),
        min_value=0.0,
        # The origin lies about 1 from the local maximum (−0.2708, −0.9230) where the four basins
        # meet, so methods whose paths differ can end in different minima.
        start=(0.0, 0.0),
        xlim=(-5.0, 5.0),
        ylim=(-5.0, 5.0),
        log_levels=True,
        # The four saddles between neighbouring basins, computed as the minima were.
        saddles=(
            (0.08667750455539636, 2.884254701174776),
            (-3.0730257507643897, -0.08135304428796751),
            (3.385154183607021, 0.07385187983774928),
            (-0.12796134673068008, -1.9537149802445763),
        ),
    )
)

# --------------------------------------------------------------------------------------------------
# rastrigin: a bowl covered in local minima
# --------------------------------------------------------------------------------------------------

_TWO_PI = 2.0 * math.pi


def _rastrigin(x: FloatArray, y: FloatArray) -> FloatArray:
    """f = 2A + x² − A cos(2πx) + y² − A cos(2πy) with A = 10 (Rastrigin 1974, in the 2-D form of
    the surveys): a local minimum near every integer point, the global one 0 at (0, 0)."""
    return 20.0 + x**2 - 10.0 * np.cos(_TWO_PI * x) + y**2 - 10.0 * np.cos(_TWO_PI * y)


def _rastrigin_grad(p: FloatArray) -> FloatArray:
    # Both coordinates at once: the equation is the same for each, and np.sin gives nan at ±inf where
    # math.sin would raise, so a diverging run is reported as diverged instead of crashing.
    q = np.asarray(p, dtype=np.float64)
    return 2.0 * q + 20.0 * math.pi * np.sin(_TWO_PI * q)


FUNCTIONS.register(
    Objective(
        name="rastrigin",
        formula="20 + x² − 10cos(2πx) + y² − 10cos(2πy)",
        summary="a quadratic bowl covered in local minima, one near every integer point",
        source="Rastrigin, L. A. (1974), Systems of Extremal Control (Nauka, Moscow); " + JAMIL_YANG_2013,
        f=_rastrigin,
        grad=_rastrigin_grad,
        minima=((0.0, 0.0),),
        min_value=0.0,
        # The start of the optimizer visualisations of jettify/pytorch-optimizer (examples/
        # viz_optimizers.py), widely reused: x near a local minimum, y on a ridge between two, so a
        # method must climb out of several basins to reach the origin.
        start=(-2.0, 3.5),
        xlim=(-5.12, 5.12),
        ylim=(-5.12, 5.12),
    )
)

# --------------------------------------------------------------------------------------------------
# booth: a tilted, moderately ill-conditioned quadratic
# --------------------------------------------------------------------------------------------------


def _booth(x: FloatArray, y: FloatArray) -> FloatArray:
    """f = (x + 2y − 7)² + (2x + y − 5)² (Booth; as in Jamil & Yang 2013): minimum 0 at (1, 3). Its
    Hessian [[10, 8], [8, 10]] has eigenvalues 18 along (1, 1) and 2 along (1, −1)."""
    return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2


def _booth_grad(p: FloatArray) -> FloatArray:
    x, y = float(p[0]), float(p[1])
    u = x + 2.0 * y - 7.0
    v = 2.0 * x + y - 5.0
    return np.array([2.0 * u + 4.0 * v, 4.0 * u + 2.0 * v])


FUNCTIONS.register(
    Objective(
        name="booth",
        formula="(x + 2y − 7)² + (2x + y − 5)²",
        summary="a quadratic bowl whose axes are tilted 45°, condition number 9",
        source=JAMIL_YANG_2013,
        f=_booth,
        grad=_booth_grad,
        minima=((1.0, 3.0),),
        min_value=0.0,
        # The offset from the minimum, (−9, 3), has components −6/√2 along the steep axis (1, 1) and
        # −12/√2 along the shallow axis (1, −1): both matter, and because the axes are diagonal a
        # per-coordinate method (AdaGrad, RMSprop, Adam) cannot simply rescale them away.
        start=(-8.0, 6.0),
        xlim=(-10.0, 10.0),
        ylim=(-10.0, 10.0),
    )
)

# --------------------------------------------------------------------------------------------------
# goldstein_price: a product of two quartics, values from 3 to 10⁶
# --------------------------------------------------------------------------------------------------


def _goldstein_price(x: FloatArray, y: FloatArray) -> FloatArray:
    """f = [1 + (x + y + 1)²(19 − 14x + 3x² − 14y + 6xy + 3y²)]
    · [30 + (2x − 3y)²(18 − 32x + 12x² + 48y − 36xy + 27y²)]
    (Goldstein & Price 1971): global minimum 3 at (0, −1); local minima 30 at (−0.6, −0.4), 84 at
    (1.8, 0.2) and 840 at (1.2, 0.8)."""
    a = x + y + 1.0
    b = 2.0 * x - 3.0 * y
    p = 1.0 + a**2 * (19.0 - 14.0 * x + 3.0 * x**2 - 14.0 * y + 6.0 * x * y + 3.0 * y**2)
    q = 30.0 + b**2 * (18.0 - 32.0 * x + 12.0 * x**2 + 48.0 * y - 36.0 * x * y + 27.0 * y**2)
    return p * q


def _goldstein_price_grad(p: FloatArray) -> FloatArray:
    # f = P·Q with P = 1 + a²A, Q = 30 + b²B; ∂A/∂x = ∂A/∂y = 6x + 6y − 14, so ∂P/∂x = ∂P/∂y.
    x, y = float(p[0]), float(p[1])
    a = x + y + 1.0
    b = 2.0 * x - 3.0 * y
    big_a = 19.0 - 14.0 * x + 3.0 * x * x - 14.0 * y + 6.0 * x * y + 3.0 * y * y
    big_b = 18.0 - 32.0 * x + 12.0 * x * x + 48.0 * y - 36.0 * x * y + 27.0 * y * y
    pp = 1.0 + a * a * big_a
    qq = 30.0 + b * b * big_b
    dp = 2.0 * a * big_a + a * a * (6.0 * x + 6.0 * y - 14.0)
    dq_dx = 4.0 * b * big_b + b * b * (24.0 * x - 36.0 * y - 32.0)
    dq_dy = -6.0 * b * big_b + b * b * (54.0 * y - 36.0 * x + 48.0)
    return np.array([dp * qq + pp * dq_dx, dp * qq + pp * dq_dy])


FUNCTIONS.register(
    Objective(
        name="goldstein_price",
        formula="[1 + (x+y+1)²(19 − 14x + 3x² − 14y + 6xy + 3y²)]"
        "·[30 + (2x−3y)²(18 − 32x + 12x² + 48y − 36xy + 27y²)]",
        summary="values from 3 to about 10⁶ on [−2, 2]², with three local minima besides the global one",
        source='Goldstein, A. A. & Price, J. F. (1971), "On descent from local minima", Mathematics of '
        "Computation 25(115), 569–574; " + JAMIL_YANG_2013,
        f=_goldstein_price,
        grad=_goldstein_price_grad,
        minima=((0.0, -1.0),),
        min_value=3.0,
        # Left of the box, f ≈ 3·10³, with the local minimum (−0.6, −0.4) between the start and
        # (0, −1): which of the two a method settles in depends on the method and its rate. Plain
        # gradient descent (2000 steps) settles in the local one at lr 1.5·10⁻⁴, reaches (0, −1) at
        # 2·10⁻⁴ and diverges at 3·10⁻⁴.
        start=(-1.5, 0.5),
        xlim=(-2.0, 2.0),
        ylim=(-2.0, 2.0),
        log_levels=True,
    )
)

# --------------------------------------------------------------------------------------------------
# saddle: escape or stall
# --------------------------------------------------------------------------------------------------


def _saddle(x: FloatArray, y: FloatArray) -> FloatArray:
    """f = x² − y²: the non-degenerate saddle at (0, 0), unbounded below along y."""
    return x**2 - y**2


def _saddle_grad(p: FloatArray) -> FloatArray:
    x, y = float(p[0]), float(p[1])
    return np.array([2.0 * x, -2.0 * y])


FUNCTIONS.register(
    Objective(
        name="saddle",
        formula="x² − y²",
        summary="a saddle at (0, 0) and no minimum: does a method escape along y or stall?",
        source="the textbook quadratic saddle",
        f=_saddle,
        grad=_saddle_grad,
        minima=(),
        min_value=None,
        # Just off the saddle's stable manifold y = 0: gradient descent first heads for the saddle,
        # then |y| grows by the factor 1 + 2·lr per step, so 10⁻³ gives a visible approach before the
        # escape within a few dozen steps at lr ≈ 0.1. At exactly y = 0 plain gradient methods never
        # leave the x axis.
        start=(-1.0, 1e-3),
        xlim=(-2.0, 2.0),
        ylim=(-2.0, 2.0),
        saddles=((0.0, 0.0),),
    )
)
