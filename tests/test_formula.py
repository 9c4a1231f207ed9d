"""Tests for optbench/formula.py: formulas against the hand-written functions, the parser's refusals,
the gradient check, plot boxes and minima, and the optimizers running on a formula."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import need

from optbench.formula import check_gradient, formula_objective
from optbench.functions import FUNCTIONS, Objective
from optbench.optim import OPTIMIZERS

need("sympy")

WRITTEN = {
    "book": "x**2/20 + y**2",
    "rosenbrock": "(1 - x)^2 + 100*(y - x^2)^2",
    "beale": "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2",
    "rastrigin": "20 + x**2 - 10*cos(2*pi*x) + y**2 - 10*cos(2*pi*y)",
    "booth": "(x + 2*y - 7)**2 + (2*x + y - 5)**2",
    "goldstein_price": "(1 + (x + y + 1)**2*(19 - 14*x + 3*x**2 - 14*y + 6*x*y + 3*y**2))"
    "*(30 + (2*x - 3*y)**2*(18 - 32*x + 12*x**2 + 48*y - 36*x*y + 27*y**2))",
    "himmelblau": "(x**2 + y - 11)**2 + (x + y**2 - 7)**2",
}
"""Built-in functions written as formulas: their hand-written code is the independent truth."""


def as_formula(name: str) -> Objective:
    """The built-in `name` rebuilt from its formula, with its own start, box and minimum."""
    builtin = FUNCTIONS[name]
    return formula_objective(
        WRITTEN[name],
        builtin.start,
        builtin.xlim,
        builtin.ylim,
        builtin.minima[0] if builtin.minima else None,
    )


def points_in(xlim: tuple[float, float], ylim: tuple[float, float], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(*xlim, size=n), rng.uniform(*ylim, size=n)])


# --------------------------------------------------------------------------------------------------
# the formula is the function: values and gradients against hand-written code
# --------------------------------------------------------------------------------------------------


def test_the_books_function_as_a_formula_matches_the_builtin_in_value_and_gradient() -> None:
    book = FUNCTIONS["book"]
    written = formula_objective("x**2/20 + y**2", start=(-7.0, 2.0))
    X, Y = np.meshgrid(np.linspace(-10, 10, 41), np.linspace(-5, 5, 21))
    # SymPy compiles x²/20 as (1/20)·x², the built-in as x²/20.0: equal to the last bit or two.
    np.testing.assert_allclose(written.value(X, Y), book.value(X, Y), rtol=1e-15, atol=0)
    for p in points_in((-10, 10), (-5, 5), 50, seed=1):
        np.testing.assert_allclose(written.grad(p), book.grad(p), rtol=1e-15, atol=1e-300)
    assert written.value(-7.0, 2.0) == pytest.approx(49 / 20 + 4, rel=1e-15)
    assert written.start == (-7.0, 2.0)


@pytest.mark.parametrize("name", sorted(WRITTEN))
def test_a_builtin_written_as_a_formula_has_the_builtins_gradient(name: str) -> None:
    builtin, written = FUNCTIONS[name], as_formula(name)
    for p in points_in(builtin.xlim, builtin.ylim, 30, seed=2):
        np.testing.assert_allclose(written.grad(p), builtin.grad(p), rtol=1e-9, atol=1e-9)
        assert written.value(*p) == pytest.approx(builtin.value(*p), rel=1e-12, abs=1e-12)


def test_a_formula_with_exp_and_sin_has_its_hand_derived_gradient() -> None:
    written = formula_objective("exp(-x^2)*sin(y) + x*y", start=(0.5, 1.0))
    for x, y in points_in(written.xlim, written.ylim, 30, seed=3):
        expected = [-2 * x * math.exp(-(x**2)) * math.sin(y) + y, math.exp(-(x**2)) * math.cos(y) + x]
        np.testing.assert_allclose(written.grad(np.array([x, y])), expected, rtol=1e-13, atol=1e-15)


def test_abs_is_differentiated_as_a_function_of_real_values() -> None:
    # |log x|' = sign(log x)/x: SymPy on its own writes it with re() and im(), which cannot run.
    written = formula_objective("abs(log(x)) + y**2", start=(2.0, 1.0), xlim=(0.25, 3.0), ylim=(-2.0, 2.0))
    np.testing.assert_allclose(written.grad(np.array([2.0, 1.0])), [0.5, 2.0], rtol=1e-15)
    np.testing.assert_allclose(written.grad(np.array([0.5, -1.0])), [-2.0, -2.0], rtol=1e-15)
    assert written.formula == "y**2 + abs(log(x))"


@pytest.mark.parametrize(
    "formula",
    [
        "(1 - x)**2 + 100*(y - x**2)**2",
        "exp(-(x**2 + y**2)/4)*sin(3*x)*cos(2*y) + x**2/10",
        "log(1 + x**2 + y**2) + atan2(y, x + 5) + sqrt(4 + x*y)",
        "tanh(x - y) + cosh(x/3)*sinh(y/4) + log(x + 10, 2)",
    ],
)
def test_the_symbolic_gradient_agrees_with_central_differences(formula: str) -> None:
    written = formula_objective(formula, start=(-1.2, 1.0), xlim=(-1.5, 1.5), ylim=(-1.5, 1.5))
    for p in points_in(written.xlim, written.ylim, 20, seed=4):
        numeric = np.empty(2)
        for i in range(2):
            step = np.zeros(2)
            step[i] = 1e-6
            numeric[i] = (written.value(*(p + step)) - written.value(*(p - step))) / 2e-6
        np.testing.assert_allclose(written.grad(p), numeric, rtol=1e-6, atol=1e-6)


def test_check_gradient_refuses_a_wrong_gradient_and_accepts_the_right_one() -> None:
    book = FUNCTIONS["book"]
    check_gradient(book.f, book.grad, (-7.0, 2.0))
    with pytest.raises(
        ValueError, match=r"x component at \(-7, 2\) is -1\.4, but central differences give -0\.69999"
    ):
        check_gradient(book.f, lambda p: 2.0 * book.grad(p), (-7.0, 2.0))
    with pytest.raises(ValueError, match="y component"):
        check_gradient(book.f, lambda p: book.grad(p) * np.array([1.0, 1.001]), (-7.0, 2.0))


def test_the_gradient_is_a_new_float64_array_of_two_at_every_call() -> None:
    written = formula_objective("x*y + 3", start=(1.0, 2.0))
    p = np.array([1.0, 2.0])
    first, second = written.grad(p), written.grad(p)
    assert first is not second
    assert first.dtype == np.float64 and first.shape == (2,)
    np.testing.assert_array_equal(first, [2.0, 1.0])


def test_off_the_domain_the_gradient_is_nan_or_inf_instead_of_raising() -> None:
    written = formula_objective("sqrt(x) + exp(y)", start=(1.0, 1.0), xlim=(0.5, 2.0), ylim=(-1.0, 2.0))
    assert np.isnan(written.grad(np.array([-1.0, 0.0]))[0])
    assert written.grad(np.array([1.0, 1000.0]))[1] == math.inf
    assert math.isnan(written.value(-1.0, 0.0))


def test_a_formula_of_one_variable_is_evaluated_over_the_whole_grid() -> None:
    written = formula_objective("x**2", start=(1.0, 1.0))
    X, Y = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 3))
    np.testing.assert_array_equal(written.value(X, Y), X**2)
    np.testing.assert_array_equal(written.grad(np.array([3.0, 5.0])), [6.0, 0.0])


# --------------------------------------------------------------------------------------------------
# names and canonical forms
# --------------------------------------------------------------------------------------------------


def test_the_name_is_the_canonical_form_and_decimals_are_read_exactly() -> None:
    assert formula_objective("x**2/20 + y**2", start=(-7, 2)).name == "formula: x**2/20 + y**2"
    assert formula_objective("0.05*x^2 + y*y", start=(-7, 2)).name == "formula: x**2/20 + y**2"
    # ^ binds as tightly as **, not as loosely as Python's exclusive or.
    assert formula_objective("x^2 + 1", start=(1, 1)).value(3.0, 0.0) == 10.0


def test_the_canonical_form_reads_back_as_the_same_formula() -> None:
    for text in ["abs(x - 1) + exp(-y**2)*pi", "log(x + 3, 2) + E*y**2", *WRITTEN.values()]:
        first = formula_objective(text, start=(0.5, 0.5))
        assert formula_objective(first.formula, start=(0.5, 0.5)).name == first.name


def test_a_formula_over_several_lines_is_one_formula() -> None:
    wrapped = formula_objective("x**2/20\n  + y**2\n", start=(-7, 2))
    assert wrapped.name == "formula: x**2/20 + y**2"


# --------------------------------------------------------------------------------------------------
# refusals: one line each, saying what is wrong
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "start", "message"),
    [
        ("x**", (0, 0), r"cannot parse 'x\*\*'"),
        ("x +* y", (0, 0), r"cannot parse .* at column"),
        ("", (0, 0), "the formula is empty"),
        ("x + z", (0, 0), r"unknown name 'z': a formula may use only the variables x and y"),
        ("x.__class__", (0, 0), r"attribute access \('\.'\) not allowed"),
        ("().__class__.__bases__[0]", (0, 0), "not allowed in a formula"),
        ("__import__('os').system('true')", (0, 0), "only a function's name may be called"),
        ("eval('x')", (0, 0), "unknown function 'eval'"),
        ("open('f')", (0, 0), "unknown function 'open'"),
        ("x[0]", (0, 0), r"indexing \('\[\.\.\.\]'\) not allowed"),
        ("sin", (0, 0), r"sin is a function: write sin\(\.\.\.\)"),
        ("x(y + 1)", (0, 0), r"x is not a function: write x\*\(\.\.\.\) to multiply"),
        ("sin(x, y)", (0, 0), r"sin\(\) takes 1 argument, got 2"),
        ("atan2(x)", (0, 0), r"atan2\(\) takes 2 arguments, got 1"),
        ("log(x, base=2)", (1, 1), "takes no keyword arguments"),
        ("'x'", (0, 0), "'x' is not a number"),
        ("True*x", (0, 0), "True is not a number"),
        ("1j*x", (0, 0), "1j is not a number"),
        ("x % 2", (0, 0), "operator '%' is not allowed"),
        ("x < y", (0, 0), "comparisons not allowed"),
        ("x if y else 1", (0, 0), "'if ... else' not allowed"),
        ("lambda: x", (0, 0), "lambda not allowed"),
        ("[x, y]", (0, 0), "lists not allowed"),
        ("import os", (0, 0), "cannot parse"),
        ("x; y", (0, 0), "cannot parse"),
        ("10**10**10*x", (0, 0), r"the power 10\*\*10000000000 is too large to compute"),
        ("1e999*x", (0, 0), "too large for float64"),
        ("x" + "+x" * 1500, (0, 0), "more than 2000"),
        ("3 + 4", (0, 0), "names neither x nor y: it is a constant"),
        ("x + 1/0", (0, 0), "infinite or undefined everywhere"),
        ("x*log(-2)", (0, 0), "has complex values"),
        ("sqrt(x) + y", (-1, 0), r"f is not finite at the start \(-1, 0\): nan"),
        ("1/x + y", (0, 1), r"f is not finite at the start \(0, 1\): inf"),
        ("abs(x)**0.5 + y", (0, 1), r"the gradient is not finite at the start \(0, 1\)"),
        ("(-8)**(1/3)*x + y", (1, 1), "f is not finite at the start"),
        ("log(x) + y**2", (2, 1), r"f is not finite at \(-2\.5, .*\) in the plot box .*give xlim and ylim"),
    ],
)
def test_a_bad_formula_is_one_line_saying_what_is_wrong(
    formula: str, start: tuple[float, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        formula_objective(formula, start)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": (math.nan, 1.0)}, r"start must be finite, got \[nan, 1\.0\]"),
        ({"start": (1.0, 2.0, 3.0)}, r"start must be two numbers \[x, y\]"),
        ({"start": "origin"}, r"start must be two numbers \[x, y\]"),
        ({"start": "12"}, r"start must be two numbers \[x, y\], got '12'"),
        ({"xlim": "01"}, r"xlim must be two numbers \[low, high\], got '01'"),
        ({"xlim": (1.0, -1.0)}, r"xlim must be two finite numbers with low < high"),
        ({"ylim": (0.0, math.inf)}, r"ylim must be two finite numbers with low < high"),
        ({"xlim": (0.0, 1.0)}, r"the start \(-7, 2\) lies outside the plot box x 0\.\.1"),
        ({"minimum": (0.001, 0.0)}, r"the minimum \(0\.001, 0\) is not a stationary point: the gradient"),
        ({"minimum": (0.0, 0.0), "ylim": (1.0, 3.0)}, r"the minimum \(0, 0\) lies outside the plot box"),
    ],
)
def test_bad_points_and_boxes_are_refused(options: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"start": (-7.0, 2.0), **options}
    with pytest.raises(ValueError, match=message):
        formula_objective("x**2/20 + y**2", **arguments)  # type: ignore[arg-type]


def test_a_minimum_above_the_start_is_refused() -> None:
    with pytest.raises(ValueError, match=r"the minimum \(0, 0\) is higher than the start"):
        formula_objective("-(x**2 + y**2)", start=(1.0, 1.0), minimum=(0.0, 0.0))


def test_a_formula_is_a_string() -> None:
    with pytest.raises(ValueError, match="a formula must be a string, got 3"):
        formula_objective(3, start=(0.0, 0.0))  # type: ignore[arg-type]


def test_without_sympy_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sympy", None)  # `import sympy` now raises ImportError
    with pytest.raises(
        ValueError, match=r"needs SymPy, which is not installed: pip install 'optbench\[formula\]'"
    ):
        formula_objective("x**2 + y**2 + 17", start=(1.0, 1.0))


def test_importing_the_module_leaves_sympy_unloaded() -> None:
    code = (
        "import sys, optbench.formula\nassert 'sympy' not in sys.modules, 'optbench.formula imported sympy'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------------
# plot box, minimum, contour levels
# --------------------------------------------------------------------------------------------------


def test_the_default_box_is_centred_on_the_origin_and_holds_the_start_with_a_margin() -> None:
    written = formula_objective("x**2/20 + y**2", start=(-7.0, 2.0))
    assert written.xlim == (-8.75, 8.75)  # 1.25 · 7
    assert written.ylim == (-2.5, 2.5)  # 1.25 · 2
    assert written.minima == () and written.min_value is None


def test_with_a_minimum_the_box_is_centred_on_it_and_min_value_is_f_there() -> None:
    written = formula_objective("(x - 1)**2 + 4*(y + 2)**2 + 3", start=(5.0, -2.0), minimum=(1.0, -2.0))
    assert written.xlim == (-4.0, 6.0)  # 1 ± 1.25 · 4
    assert written.ylim == (-3.25, -0.75)  # the start is level with it: a quarter of the width
    assert written.minima == ((1.0, -2.0),)
    assert written.min_value == 3.0


def test_a_given_box_is_kept() -> None:
    written = formula_objective("x**2 + y**2", start=(1.0, 1.0), xlim=(-3, 2), ylim=(-1, 4))
    assert (written.xlim, written.ylim) == ((-3.0, 2.0), (-1.0, 4.0))


@pytest.mark.parametrize("name", ["book", "booth", "rastrigin", "rosenbrock", "beale", "goldstein_price"])
def test_log_spaced_contours_are_chosen_as_the_builtins_choose_them(name: str) -> None:
    assert as_formula(name).log_levels is FUNCTIONS[name].log_levels


def test_without_a_minimum_contours_are_not_log_spaced() -> None:
    assert not formula_objective(
        WRITTEN["beale"], start=(1.0, 1.0), xlim=(-4.5, 4.5), ylim=(-4.5, 4.5)
    ).log_levels


# --------------------------------------------------------------------------------------------------
# the optimizers on a formula
# --------------------------------------------------------------------------------------------------


def test_sgd_on_the_formula_follows_sgd_on_the_builtin_and_approaches_the_minimum() -> None:
    written, book = formula_objective("x**2/20 + y**2", start=(-7.0, 2.0)), FUNCTIONS["book"]
    p, q = np.array([-7.0, 2.0]), np.array([-7.0, 2.0])
    sgd_p, sgd_q = OPTIMIZERS["sgd"](lr=0.3), OPTIMIZERS["sgd"](lr=0.3)
    distances = [float(np.hypot(*p))]
    for _ in range(30):
        sgd_p.step(p, written.grad(p))
        sgd_q.step(q, book.grad(q))
        distances.append(float(np.hypot(*p)))
    np.testing.assert_allclose(p, q, rtol=1e-13)
    # By hand: x shrinks by 1 − 0.3/10 per step, y by 1 − 0.3·2.
    np.testing.assert_allclose(p, [-7.0 * 0.97**30, 2.0 * 0.4**30], rtol=1e-12)
    assert all(b < a for a, b in itertools.pairwise(distances))


def test_a_formula_function_is_titled_by_its_formula_once() -> None:
    need("sympy")
    from optbench.plots.functions import function_title

    objective = formula_objective("x**2/20 + y**2", (-7.0, 2.0), None, None, None)
    assert function_title(objective) == "f(x, y) = x**2/20 + y**2"
    assert function_title(FUNCTIONS["book"]) == f"book: f(x, y) = {FUNCTIONS['book'].formula}"
