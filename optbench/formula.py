"""2-D test functions written down as formulas: parsed safely, differentiated by SymPy, checked at load.

`formula_objective("x**2/20 + y**2", start=(-7, 2))` is an `Objective` like the built-in functions,
so a student can watch the optimizers on any surface they write down. The formula is Python's
arithmetic over the variables x and y: numbers, + − * / ** (or ^, read as a power), parentheses,
the constants pi and e, and the functions in `FORMULA_FUNCTIONS`. It is never evaluated as Python:
its syntax tree is read node by node and every node is turned into the SymPy object it stands for,
so attribute access, other names, keyword arguments and every other construct are refused by name.

The gradient is SymPy's symbolic derivative. Both value and gradient are compiled with
`sympy.lambdify`: the value for NumPy arrays (contour grids), the gradient for two Python floats
(it runs at every optimizer step), with NumPy as the fallback where plain `math` raises (a domain
error, an overflow) so that a point off the function's domain gives NaN, which ends a run as
diverged instead of crashing it. At load the gradient is checked against central differences.

Every problem is a ValueError with a one-line message; the config layer adds the file and key.
SymPy is an optional extra (`optbench[formula]`), imported only when a formula is built.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.functions import FloatArray, Objective, Point

VARIABLES = ("x", "y")
"""The only variables a formula may name."""

FORMULA_FUNCTIONS: dict[str, tuple[str, tuple[int, ...]]] = {
    "sin": ("sin", (1,)),
    "cos": ("cos", (1,)),
    "tan": ("tan", (1,)),
    "asin": ("asin", (1,)),
    "acos": ("acos", (1,)),
    "atan": ("atan", (1,)),
    "atan2": ("atan2", (2,)),
    "sinh": ("sinh", (1,)),
    "cosh": ("cosh", (1,)),
    "tanh": ("tanh", (1,)),
    "asinh": ("asinh", (1,)),
    "acosh": ("acosh", (1,)),
    "atanh": ("atanh", (1,)),
    "exp": ("exp", (1,)),
    "log": ("log", (1, 2)),
    "ln": ("log", (1,)),
    "sqrt": ("sqrt", (1,)),
    "abs": ("Abs", (1,)),
}
"""The functions a formula may call: its name -> (the SymPy function, the numbers of arguments it
takes). `log(u, b)` is the logarithm of u to base b; atan2(y, x) the angle of the point (x, y)."""

FORMULA_CONSTANTS = {"pi": "pi", "e": "E", "E": "E"}
"""The constants a formula may name -> SymPy's name for them."""

MAX_FORMULA_CHARS = 2000
"""Longest formula accepted: symbolic differentiation grows with the formula's size."""

MAX_EXACT_BITS = 1 << 16
"""SymPy computes a power of two exact numbers exactly; one whose result would need more bits than
this (10**10**10, say) is refused instead of taking forever."""

FD_STEP = 6e-6
"""Central-difference step of the gradient check, relative to max(1, |coordinate|): about the cube
root of float64's machine epsilon, where truncation and rounding errors balance."""

GRAD_RTOL = 1e-6
"""Relative agreement asked of the symbolic gradient and its central difference, on top of the
difference's own error (estimated from the step and from rounding)."""

ROUNDING_ULPS = 1000.0
"""Units in the last place a formula's value may be off by: it bounds the rounding error of a
central difference by ROUNDING_ULPS · ε · |f| / h."""

CHECK_FRACTIONS = ((0.31, 0.73), (0.77, 0.19), (0.53, 0.41), (0.17, 0.89), (0.89, 0.61))
"""Where in the plot box, besides the start, the gradient is checked: fractions of its width and
height, none 0.5 so that a point never falls on the axes of a box centred on the origin (where
abs() has its kink)."""

FINITE_GRID = 101
"""Points per side of the grid on which f must be finite over the plot box (an odd number, so the
grid holds the box's centre): the contour plot needs a finite value everywhere it is drawn."""

BOX_MARGIN = 1.25
"""A default plot box reaches this many times the start's distance from the box's centre (the
minimum, else the origin) along each axis."""

BOX_MIN_SHARE = 0.25
"""A default plot box is at least this share as high as it is wide, and the reverse, so a start
on one axis of the centre still shows the other."""

LOG_LEVELS_SHARE = 0.03
"""With a known minimum, contour levels are log-spaced (`Objective.log_levels`) when more than this
share of the plot box lies below 1/576 of the largest f − f* there: the lowest band of the 25
square-root-spaced levels the plot uses otherwise, which would show that much of the surface as one
flat floor. The rule picks log levels for rosenbrock, beale and goldstein_price, and not for book,
booth and rastrigin."""

LOWEST_BAND = 1.0 / 576.0
"""(1/24)²: the top of the lowest band of 25 levels spaced evenly in √(f − f*)."""

MIN_GRAD_RTOL = 1e-6
"""A given minimum must have a gradient no larger than this times max(1, |∇f(start)|) (largest
component): a stationary point to the precision of its digits."""

SYMPY_MISSING = (
    "a function from a formula needs SymPy, which is not installed: pip install 'optbench[formula]'"
)


def formula_objective(
    formula: str,
    start: tuple[float, float],
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    minimum: tuple[float, float] | None = None,
) -> Objective:
    """The `Objective` of `formula` over (x, y), starting at `start`.

    `xlim`, `ylim`: the plot box; each defaults to BOX_MARGIN times the start's offset from the box's
    centre, which is `minimum` when given and the origin otherwise. `minimum`: a global minimum,
    if known; it must be stationary, no higher than the start, and its value becomes `min_value`.
    The box must hold the start and the minimum, and f must be finite over it.
    Raises ValueError with a one-line message for anything wrong.
    """
    if not isinstance(formula, str):
        raise ValueError(f"a formula must be a string, got {formula!r}")
    return _build(
        formula,
        _point(start, "start"),
        None if xlim is None else _interval(xlim, "xlim"),
        None if ylim is None else _interval(ylim, "ylim"),
        None if minimum is None else _point(minimum, "minimum"),
    )


def _point(value: Any, what: str) -> Point:
    """`value` (as a config gives it: anything) as a finite point."""
    try:
        if isinstance(value, str):  # "12" would otherwise be read as [1, 2]
            raise TypeError
        x, y = (float(c) for c in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be two numbers [x, y], got {value!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{what} must be finite, got [{x!r}, {y!r}]")
    return x, y


def _interval(value: Any, what: str) -> Point:
    """`value` (as a config gives it: anything) as a finite interval, low < high."""
    try:
        if isinstance(value, str):
            raise TypeError
        lo, hi = (float(c) for c in value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be two numbers [low, high], got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{what} must be two finite numbers with low < high, got [{lo!r}, {hi!r}]")
    return lo, hi


def _sympy() -> Any:
    try:
        import sympy
    except ImportError:
        raise ValueError(SYMPY_MISSING) from None
    return sympy


@functools.lru_cache(maxsize=32)
def _build(
    formula: str, start: Point, xlim: Point | None, ylim: Point | None, minimum: Point | None
) -> Objective:
    """`formula_objective` on checked arguments; cached, since a sweep builds the same one per run."""
    sp = _sympy()
    x, y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
    expr = parse_formula(formula, sp, x, y)
    gradient = _gradient_expressions(sp, expr, x, y)
    f = _value_function(sp.lambdify((x, y), expr, modules="numpy"))
    grad = _gradient_function(
        sp.lambdify((x, y), gradient, modules="math", cse=True),
        sp.lambdify((x, y), gradient, modules="numpy", cse=True),
    )
    _check_finite_at(f, grad, start, "the start")
    centre = minimum if minimum is not None else (0.0, 0.0)
    default_x, default_y = _default_box(start, centre)
    box_x = xlim if xlim is not None else default_x
    box_y = ylim if ylim is not None else default_y
    for point, what in ((start, "the start"), (minimum, "the minimum")):
        if point is not None and not (box_x[0] <= point[0] <= box_x[1] and box_y[0] <= point[1] <= box_y[1]):
            raise ValueError(
                f"{what} ({point[0]:g}, {point[1]:g}) lies outside the plot box "
                f"x {box_x[0]:g}..{box_x[1]:g}, y {box_y[0]:g}..{box_y[1]:g}"
            )
    surface = _values_on_box(f, box_x, box_y)
    for p in (start, *((_at(box_x, fx), _at(box_y, fy)) for fx, fy in CHECK_FRACTIONS)):
        check_gradient(f, grad, p)
    min_value = None if minimum is None else _check_minimum(f, grad, minimum, start)
    # Printed as it would be written, so that the canonical form reads back as the same formula.
    canonical = sp.sstr(expr).replace("Abs(", "abs(")
    return Objective(
        name=f"formula: {canonical}",
        formula=canonical,
        summary="a surface written as a formula, its gradient derived symbolically",
        source=f"a formula given in the config, differentiated by SymPy {sp.__version__}",
        f=f,
        grad=grad,
        minima=() if minimum is None else (minimum,),
        min_value=min_value,
        start=start,
        xlim=box_x,
        ylim=box_y,
        log_levels=min_value is not None and _wants_log_levels(surface - min_value),
        minima_known=minimum is not None,
    )


# --------------------------------------------------------------------------------------------------
# parsing: a syntax tree read node by node, never evaluated
# --------------------------------------------------------------------------------------------------

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_CONSTRUCTS = {
    ast.Attribute: "attribute access ('.')",
    ast.Subscript: "indexing ('[...]')",
    ast.Compare: "comparisons",
    ast.BoolOp: "'and'/'or'",
    ast.IfExp: "'if ... else'",
    ast.Lambda: "lambda",
    ast.NamedExpr: "':='",
    ast.Starred: "'*' unpacking",
    ast.JoinedStr: "strings",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
}


def parse_formula(formula: str, sp: Any, x: Any, y: Any) -> Any:
    """The SymPy expression `formula` stands for, over the symbols `x` and `y` (module `sp`).

    The text is parsed by Python's own parser (`ast`, which evaluates nothing) and each node of the
    tree is mapped to SymPy: a whitelist, so anything not listed is refused, with what it was.
    Decimals become exact rationals (0.1 is 1/10), so the canonical form shows what was written.
    """
    # A YAML block may wrap a long formula over lines. ^ is a power, as in maths, and must bind as
    # tightly as ** (Python's ^ binds more loosely than +): it is rewritten before parsing.
    text = " ".join(formula.split()).replace("^", "**")
    if not text:
        raise ValueError("the formula is empty")
    if len(text) > MAX_FORMULA_CHARS:
        raise ValueError(f"the formula is {len(text)} characters long, more than {MAX_FORMULA_CHARS}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        column = f" at column {exc.offset}" if exc.offset else ""
        raise ValueError(f"cannot parse {text!r}: {exc.msg}{column}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # an over-long number, deep nesting
        raise ValueError(f"cannot parse {text!r}: {exc}") from None
    expr = _node(tree.body, sp, {"x": x, "y": y})
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ValueError(f"{text!r} is infinite or undefined everywhere (a division by zero?)")
    if not expr.free_symbols:
        raise ValueError(f"{text!r} names neither x nor y: it is a constant")
    if expr.has(sp.I):
        raise ValueError(f"{text!r} has complex values (the log or root of a negative number?)")
    return expr


def _node(node: ast.expr, sp: Any, variables: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return _number(node.value, sp)
    if isinstance(node, ast.Name):
        return _name(node.id, sp, variables)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_node(node.operand, sp, variables))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return _power(_node(node.left, sp, variables), _node(node.right, sp, variables), sp)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_node(node.left, sp, variables), _node(node.right, sp, variables))
    if isinstance(node, ast.Call):
        return _call(node, sp, variables)
    if isinstance(node, ast.BinOp):
        symbol = {
            ast.Mod: "%",
            ast.FloorDiv: "//",
            ast.MatMult: "@",
            ast.LShift: "<<",
            ast.RShift: ">>",
            ast.BitAnd: "&",
            ast.BitOr: "|",
        }
        raise ValueError(
            f"operator {symbol.get(type(node.op), type(node.op).__name__)!r} is not allowed: "
            "use + - * / ** (or ^)"
        )
    what = next((name for kind, name in _CONSTRUCTS.items() if isinstance(node, kind)), None)
    raise ValueError(f"{what or type(node).__name__} not allowed in a formula: {ast.unparse(node)!r}")


def _number(value: object, sp: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number: a formula holds numbers, x, y and functions")
    if not abs(value) <= sys.float_info.max:  # also catches inf, which 1e999 parses to
        raise ValueError(
            f"a number is too large for float64: {value if isinstance(value, int) else '1e309 or more'}"
        )
    return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))


def _name(name: str, sp: Any, variables: dict[str, Any]) -> Any:
    if name in variables:
        return variables[name]
    if name in FORMULA_CONSTANTS:
        return getattr(sp, FORMULA_CONSTANTS[name])
    if name in FORMULA_FUNCTIONS:
        raise ValueError(f"{name} is a function: write {name}(...)")
    raise ValueError(
        f"unknown name {name!r}: a formula may use only the variables x and y, the constants pi "
        f"and e, and the functions {', '.join(FORMULA_FUNCTIONS)}"
    )


def _call(node: ast.Call, sp: Any, variables: dict[str, Any]) -> Any:
    if not isinstance(node.func, ast.Name):
        raise ValueError(f"only a function's name may be called: {ast.unparse(node.func)!r}")
    name = node.func.id
    if name not in FORMULA_FUNCTIONS:
        if name in variables or name in FORMULA_CONSTANTS:
            raise ValueError(f"{name} is not a function: write {name}*(...) to multiply")
        raise ValueError(f"unknown function {name!r}: a formula may call {', '.join(FORMULA_FUNCTIONS)}")
    if node.keywords:
        raise ValueError(f"{name}() takes no keyword arguments")
    target, arities = FORMULA_FUNCTIONS[name]
    if len(node.args) not in arities:
        counts = " or ".join(str(n) for n in arities)
        raise ValueError(f"{name}() takes {counts} argument{'s' * (arities[-1] > 1)}, got {len(node.args)}")
    return getattr(sp, target)(*(_node(arg, sp, variables) for arg in node.args))


def _power(base: Any, exponent: Any, sp: Any) -> Any:
    """base**exponent, refusing exact numbers whose exact power would be too large to compute."""
    if base.is_Rational and exponent.is_Integer and base not in (sp.S.Zero, sp.S.One, sp.S.NegativeOne):
        bits = abs(int(exponent)) * (int(base.p).bit_length() + int(base.q).bit_length())
        if bits > MAX_EXACT_BITS:
            raise ValueError(f"the power {sp.sstr(base)}**{sp.sstr(exponent)} is too large to compute")
    return base**exponent


def _gradient_expressions(sp: Any, expr: Any, x: Any, y: Any) -> list[Any]:
    """(∂f/∂x, ∂f/∂y), with abs differentiated as a function of real values.

    SymPy's Abs allows complex arguments, so d|u| for a u not known to be real (|log x|, say) comes
    out in re() and im() of u, which NumPy and math cannot evaluate. A formula is real-valued
    wherever it is finite, so |u|' = sign(u)·u' holds: each Abs is differentiated as such a function.
    """
    real_abs = _real_abs_class(sp)
    replaced = expr.replace(sp.Abs, real_abs)
    gradient = [sp.diff(replaced, v).replace(real_abs, sp.Abs) for v in (x, y)]
    allowed = {getattr(sp, target) for target, _ in FORMULA_FUNCTIONS.values()} | {sp.sign}
    for g in gradient:
        strange = {type(a).__name__ for a in g.atoms(sp.Function) if type(a) not in allowed}
        if strange or g.has(sp.Derivative):
            raise ValueError(
                f"SymPy's derivative uses {', '.join(sorted(strange)) or 'unevaluated derivatives'}"
            )
    return gradient


@functools.cache
def _real_abs_class(sp: Any) -> Any:
    class RealAbs(sp.Function):  # type: ignore[misc]  # SymPy has no type hints
        """|u| of a real u, whose derivative is sign(u)·u'."""

        def fdiff(self, argindex: int = 1) -> Any:
            return sp.sign(self.args[0])

    return RealAbs


# --------------------------------------------------------------------------------------------------
# the compiled value and gradient
# --------------------------------------------------------------------------------------------------


def _value_function(compiled: Callable[..., Any]) -> Callable[[FloatArray, FloatArray], FloatArray]:
    """f(x, y) on float64 arrays of one shape: NaN where the formula is undefined or complex."""

    def f(x: FloatArray, y: FloatArray) -> FloatArray:
        with np.errstate(all="ignore"):
            try:
                out = np.asarray(compiled(x, y))
            except (ArithmeticError, ValueError, TypeError):
                out = np.asarray(math.nan)
            if np.iscomplexobj(out):  # a power of a negative number, say
                out = np.where(out.imag == 0, out.real, math.nan)
        shape = np.broadcast_shapes(np.shape(x), np.shape(y))
        result: FloatArray = out.astype(np.float64, copy=False)
        return result if result.shape == shape else np.broadcast_to(result, shape).copy()

    return f


def _gradient_function(
    fast: Callable[[float, float], Any], careful: Callable[[Any, Any], Any]
) -> Callable[[FloatArray], FloatArray]:
    """grad(p), a new float64 array of shape (2,): `fast` (plain math on floats) unless it raises
    or gives a complex number, then `careful` (NumPy, which gives inf or NaN where math raises)."""

    def grad(p: FloatArray) -> FloatArray:
        x, y = float(p[0]), float(p[1])
        try:
            gx, gy = fast(x, y)
            return np.array((float(gx), float(gy)))
        except (ArithmeticError, ValueError, TypeError):
            pass
        with np.errstate(all="ignore"):
            try:
                values = careful(np.float64(x), np.float64(y))
            except (ArithmeticError, ValueError, TypeError):
                return np.array((math.nan, math.nan))
        return np.array([_real(v) for v in values])

    return grad


def _real(value: Any) -> float:
    z = complex(value)
    return z.real if z.imag == 0 else math.nan


# --------------------------------------------------------------------------------------------------
# the checks made at load
# --------------------------------------------------------------------------------------------------


def _check_finite_at(
    f: Callable[[FloatArray, FloatArray], FloatArray],
    grad: Callable[[FloatArray], FloatArray],
    p: Point,
    what: str,
) -> None:
    value = _value_at(f, p)
    g = grad(np.array(p))
    if not math.isfinite(value):
        raise ValueError(f"f is not finite at {what} ({p[0]:g}, {p[1]:g}): {value}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"the gradient is not finite at {what} ({p[0]:g}, {p[1]:g}): ({g[0]}, {g[1]})")


def _value_at(f: Callable[[FloatArray, FloatArray], FloatArray], p: Point | FloatArray) -> float:
    return float(f(np.asarray(p[0], dtype=np.float64), np.asarray(p[1], dtype=np.float64)))


def _default_box(start: Point, centre: Point) -> tuple[Point, Point]:
    """The plot box around `centre` that holds `start` with a margin (see BOX_MARGIN, BOX_MIN_SHARE)."""
    halves = [BOX_MARGIN * abs(s - c) for s, c in zip(start, centre)]
    widest = max(halves) or 1.0
    hx, hy = (max(h, BOX_MIN_SHARE * widest) for h in halves)
    return (centre[0] - hx, centre[0] + hx), (centre[1] - hy, centre[1] + hy)


def _at(interval: Point, fraction: float) -> float:
    return interval[0] + fraction * (interval[1] - interval[0])


def _values_on_box(f: Callable[[FloatArray, FloatArray], FloatArray], xlim: Point, ylim: Point) -> FloatArray:
    """f on a FINITE_GRID grid over the box; an error naming a point where it is not finite."""
    X, Y = np.meshgrid(np.linspace(*xlim, FINITE_GRID), np.linspace(*ylim, FINITE_GRID))
    values = f(X, Y)
    bad = ~np.isfinite(values)
    if bad.any():
        i = np.flatnonzero(bad)[0]
        px, py = X.flat[i], Y.flat[i]
        raise ValueError(
            f"f is not finite at ({px:g}, {py:g}) in the plot box x {xlim[0]:g}..{xlim[1]:g}, "
            f"y {ylim[0]:g}..{ylim[1]:g}: give xlim and ylim inside the function's domain"
        )
    return values


def check_gradient(
    f: Callable[[FloatArray, FloatArray], FloatArray], grad: Callable[[FloatArray], FloatArray], p: Point
) -> None:
    """Check `grad` at p against central differences of `f` with steps h and 2h; ValueError if it fails.

    The two differences differ by about three times the truncation error of the finer one, which
    with the rounding error bounds how far from the true gradient it may be; a point where any of
    the values involved is not finite is skipped (the box check has found none on its grid).
    """
    point = np.array(p, dtype=np.float64)
    g = grad(point)
    centre = _value_at(f, p)
    for i in range(2):
        h = FD_STEP * max(1.0, abs(float(point[i])))
        step = np.zeros(2)
        step[i] = h
        values = [_value_at(f, point + k * step) for k in (-2.0, -1.0, 1.0, 2.0)]
        if not (all(math.isfinite(v) for v in values) and math.isfinite(g[i]) and math.isfinite(centre)):
            continue
        fine = (values[2] - values[1]) / (2.0 * h)
        coarse = (values[3] - values[0]) / (4.0 * h)
        rounding = ROUNDING_ULPS * sys.float_info.epsilon * max(abs(v) for v in (centre, *values)) / h
        tolerance = GRAD_RTOL * max(abs(g[i]), abs(fine)) + abs(fine - coarse) + rounding
        if not abs(g[i] - fine) <= tolerance:
            raise ValueError(
                f"the gradient's {'xy'[i]} component at ({p[0]:g}, {p[1]:g}) is {float(g[i])!r}, but central "
                f"differences give {fine!r}"
            )


def _check_minimum(
    f: Callable[[FloatArray, FloatArray], FloatArray],
    grad: Callable[[FloatArray], FloatArray],
    minimum: Point,
    start: Point,
) -> float:
    """f at the given minimum, after checking that it is stationary and not above the start."""
    _check_finite_at(f, grad, minimum, "the minimum")
    g = grad(np.array(minimum))
    scale = max(1.0, float(np.max(np.abs(grad(np.array(start))))))
    where = f"({minimum[0]:g}, {minimum[1]:g})"
    if float(np.max(np.abs(g))) > MIN_GRAD_RTOL * scale:
        raise ValueError(
            f"the minimum {where} is not a stationary point: the gradient there is ({g[0]:.3g}, {g[1]:.3g}); "
            "give it to more digits, or leave it out"
        )
    value = _value_at(f, minimum)
    at_start = _value_at(f, start)
    if value > at_start:
        shown = value + 0.0  # -0.0 + 0.0 is 0.0: the message never says "-0"
        raise ValueError(
            f"the minimum {where} is higher than the start: f = {shown:g} there, {at_start:g} at the start"
        )
    return value


def _wants_log_levels(gaps: NDArray[np.float64]) -> bool:
    """Whether f − f* over the box has a floor that square-root-spaced levels would show flat."""
    top = float(gaps.max())
    return top > 0 and float(np.mean(gaps < LOWEST_BAND * top)) > LOG_LEVELS_SHARE
