"""The conformance check of an optimizer: what an author should know before benchmarking it.

`check_optimizer(cls)` makes the class from its defaults and runs it on small problems, checking
that it follows the contract of `Optimizer` that the rest of optbench relies on:

- declaration: a name and a summary; every hyperparameter declared with `hyper(...)`, with a default,
  a meaning, and a default inside its declared `Bounds`;
- in place: `update` changes the parameter buffer itself (the training loop keeps no other);
- dtype: state buffers shaped like the parameters have their dtype (float32 stays float32);
- deterministic: two identical runs give identical bits (unseeded randomness breaks this);
- resume: state saved mid-run, written to a checkpoint and loaded into a fresh instance continues
  bit-identically (state kept outside `state`, such as a counter in an attribute, breaks this);
- quadratic, book: from its defaults it stays finite and lowers a convex quadratic and the lecture's
  2-D function from its start. Not lowering them is a warning (some rules need tuning), not finite
  a failure.

Each check gives one `CheckResult`: pass, fail or warn, with a one-line reason. A check that raises
fails with the exception as its reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

from optbench import checkpoints
from optbench.errors import OptbenchError
from optbench.functions import FUNCTIONS
from optbench.hparams import hyperparameters
from optbench.optim import Array, Optimizer

Outcome = Literal["pass", "fail", "warn"]
PASSED: Outcome = "pass"
FAILED: Outcome = "fail"
WARNED: Outcome = "warn"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, with the reason on one line."""

    name: str
    outcome: Outcome
    reason: str


class ContractError(Exception):
    """Raised inside a check: the optimizer breaks the contract, for the reason given."""


SIZE = 50
"""Parameters of the test problem: enough for every element-wise path, small enough to be instant."""
UPDATES = 20
"""Updates of the in-place, dtype, determinism and resume checks (resume saves half way)."""
DESCENT_UPDATES = 100
"""Updates on the quadratic and on the lecture's function."""
SEED = 0
DTYPES = (np.float32, np.float64)


@dataclass(frozen=True)
class Problem:
    """A convex quadratic ½·Σ a_i(θ_i − θ*_i)², whose gradient gets fixed noise in the short runs."""

    a: NDArray[np.float64]
    star: NDArray[np.float64]
    start: NDArray[np.float64]
    noise: NDArray[np.float64]

    @classmethod
    def make(cls) -> Problem:
        rng = np.random.default_rng(SEED)
        star = rng.uniform(-1.0, 1.0, SIZE)
        return cls(
            a=np.linspace(0.5, 2.0, SIZE),
            star=star,
            start=star + rng.choice([-1.0, 1.0], SIZE),
            noise=0.1 * rng.standard_normal((UPDATES, SIZE)),
        )

    def value(self, theta: NDArray[Any]) -> float:
        d = np.asarray(theta, dtype=np.float64) - self.star
        return float(0.5 * np.dot(self.a * d, d))

    def gradient(self, theta: NDArray[Any], k: int | None = None) -> NDArray[np.float64]:
        g = self.a * (np.asarray(theta, dtype=np.float64) - self.star)
        return g if k is None else g + self.noise[k]


PROBLEM = Problem.make()


def check_optimizer(cls: type[Optimizer]) -> list[CheckResult]:
    """Every check of `cls`, in the order of the module's docstring."""
    with np.errstate(all="ignore"):  # a diverging rule is reported as a result, not as warnings
        return [_run(name, check, cls) for name, check in CHECKS]


def _run(
    name: str, check: Callable[[type[Optimizer]], tuple[Outcome, str]], cls: type[Optimizer]
) -> CheckResult:
    try:
        outcome, reason = check(cls)
    except ContractError as failure:
        return CheckResult(name, FAILED, str(failure))
    except Exception as exc:  # the optimizer's own error is the reason its check fails
        return CheckResult(name, FAILED, f"raised {type(exc).__name__}: {_one_line(str(exc))}")
    return CheckResult(name, outcome, reason)


def _from_defaults(cls: type[Optimizer]) -> Optimizer:
    """An instance with every hyperparameter at its default (the base class's lr has none: each
    optimizer declares its own, and the declaration check says when one does not)."""
    make = cast(Callable[[], Optimizer], cls)
    return make()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _steps(opt: Optimizer, params: Array, first: int, last: int) -> None:
    """Updates first..last-1 on the noisy quadratic, one gradient buffer reused as the training loop does."""
    grads = np.empty_like(params)
    for k in range(first, last):
        np.copyto(grads, PROBLEM.gradient(params, k), casting="same_kind")
        opt.step(params, grads)


def _start(dtype: type[np.floating[Any]]) -> Array:
    return PROBLEM.start.astype(dtype)


# --------------------------------------------------------------------------------------------------
# The checks: each returns (outcome, reason) or raises ContractError
# --------------------------------------------------------------------------------------------------


def check_declaration(cls: type[Optimizer]) -> tuple[Outcome, str]:
    for attribute in ("name", "summary"):
        value = getattr(cls, attribute, None)
        if not isinstance(value, str) or not value.strip():
            raise ContractError(f"the class has no {attribute} (a non-empty string class attribute)")
    if not dataclasses.is_dataclass(cls):
        raise ContractError("the class is not a @dataclass, so its hyperparameters are not fields")
    declared = hyperparameters(cls)
    names = {p.name for p in declared}
    base = {f.name for f in dataclasses.fields(Optimizer)} - {"lr"}
    for f in dataclasses.fields(cls):
        if f.init and f.name not in base and f.name not in names:
            raise ContractError(
                f"field {f.name!r} is not declared with hyper(default, doc): no config can set it"
            )
    for p in declared:
        if p.default is dataclasses.MISSING:
            raise ContractError(f"hyperparameter {p.name!r} has no default")
        if not p.doc.strip():
            raise ContractError(f"hyperparameter {p.name!r} has no meaning (the doc of hyper(default, doc))")
        problem = _outside(p.default, p.bounds)
        if problem:
            raise ContractError(f"the default of {p.name!r} is outside its declared range: {problem}")
    _from_defaults(cls)
    return (
        PASSED,
        f"{len(declared)} hyperparameters, each with a default, a meaning and a default in its range",
    )


def _outside(default: Any, bounds: Any) -> str | None:
    if bounds is None:
        return None
    values = default if isinstance(default, tuple) else (default,)
    for value in values:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            problem: str | None = bounds.problem(float(value))
            if problem:
                return problem
    return None


def check_in_place(cls: type[Optimizer]) -> tuple[Outcome, str]:
    for dtype in DTYPES:
        params = _start(dtype)
        before = params.copy()
        opt = _from_defaults(cls)
        _steps(opt, params, 0, UPDATES)
        if np.array_equal(params, before):
            raise ContractError(
                f"{UPDATES} updates left the {np.dtype(dtype)} parameter buffer as it was: "
                "update must change params in place (params -= ..., not params = ...)"
            )
        if not isinstance(opt.last_lr, (int, float)) or isinstance(opt.last_lr, bool):
            raise ContractError(f"update returned {opt.last_lr!r}, not the step size it applied (a float)")
    return PASSED, f"{UPDATES} updates change the parameter buffer in place (float32 and float64)"


def check_dtype(cls: type[Optimizer]) -> tuple[Outcome, str]:
    for dtype in DTYPES:
        params = _start(dtype)
        opt = _from_defaults(cls)
        _steps(opt, params, 0, UPDATES)
        for key, value in opt.state_dict()["state"].items():
            array = np.asarray(value)
            if array.shape == params.shape and array.dtype != params.dtype:
                raise ContractError(f"keeps state {key!r} in {array.dtype} for {np.dtype(dtype)} parameters")
    return PASSED, "state shaped like the parameters keeps their dtype (float32 and float64)"


def check_deterministic(cls: type[Optimizer]) -> tuple[Outcome, str]:
    runs = []
    for _ in range(2):
        params = _start(np.float64)
        _steps(_from_defaults(cls), params, 0, UPDATES)
        runs.append(params)
    if runs[0].tobytes() != runs[1].tobytes():
        differ = int(np.count_nonzero(runs[0] != runs[1]))
        raise ContractError(
            f"two identical runs of {UPDATES} updates differ in {differ} of {SIZE} parameters: "
            "draw randomness from a seeded generator, never the global np.random"
        )
    return PASSED, f"two identical runs of {UPDATES} updates give identical bits"


def check_resume(cls: type[Optimizer]) -> tuple[Outcome, str]:
    half = UPDATES // 2
    for dtype in DTYPES:
        whole = _start(dtype)
        _steps(_from_defaults(cls), whole, 0, UPDATES)
        params = _start(dtype)
        first = _from_defaults(cls)
        _steps(first, params, 0, half)
        resumed = _from_defaults(cls)
        resumed.load_state_dict(_through_checkpoint(first.state_dict()))
        _steps(resumed, params, half, UPDATES)
        if params.tobytes() != whole.tobytes():
            raise ContractError(
                f"saved after {half} updates and loaded into a fresh instance, the run differs from an "
                f"uninterrupted one ({np.dtype(dtype)}): state kept outside self.state and self.t "
                "(an attribute, say) is lost on resume"
            )
    return (
        PASSED,
        f"state saved after {half} updates and loaded into a fresh instance continues bit-identically",
    )


def _through_checkpoint(saved: dict[str, Any]) -> dict[str, Any]:
    """`saved` written into checkpoint bytes and read back, as a stopped run's is."""
    arrays = {"optimizer": np.array(saved["name"]), "optimizer_t": np.array(saved["t"])}
    arrays.update({f"state.{key}": value for key, value in saved["state"].items()})
    try:
        read = checkpoints.unpack(checkpoints.pack(arrays))
    except (OptbenchError, TypeError, ValueError) as exc:
        raise ContractError(
            f"its state_dict cannot be written to a checkpoint (plain arrays only): {exc}"
        ) from None
    state = {key.removeprefix("state."): value for key, value in read.items() if key.startswith("state.")}
    return {"name": str(read["optimizer"]), "t": int(read["optimizer_t"]), "state": state}


def _descent(
    cls: type[Optimizer],
    what: str,
    start: NDArray[np.float64],
    value: Callable[[NDArray[np.float64]], float],
    grad: Callable[[NDArray[np.float64]], NDArray[np.float64]],
) -> tuple[Outcome, str]:
    params = start.copy()
    opt = _from_defaults(cls)
    before = value(params)
    for k in range(1, DESCENT_UPDATES + 1):
        opt.step(params, grad(params))
        if not np.all(np.isfinite(params)):
            raise ContractError(
                f"from its defaults, {what} has parameters that are not finite after update {k}"
            )
    after = value(params)
    if not math.isfinite(after):
        raise ContractError(f"from its defaults, {what} reaches a value that is not finite: {after}")
    if after < before:
        return (
            PASSED,
            f"from its defaults, lowers {what} from {before:.4g} to {after:.4g} in {DESCENT_UPDATES} updates",
        )
    return WARNED, (
        f"from its defaults, does not lower {what} ({before:.4g} to {after:.4g} in {DESCENT_UPDATES} "
        "updates): it may need other hyperparameters"
    )


def check_quadratic(cls: type[Optimizer]) -> tuple[Outcome, str]:
    return _descent(cls, "a convex quadratic", PROBLEM.start.copy(), PROBLEM.value, PROBLEM.gradient)


def check_book(cls: type[Optimizer]) -> tuple[Outcome, str]:
    book = FUNCTIONS["book"]
    return _descent(
        cls,
        f"the lecture's function {book.formula}",
        np.array(book.start, dtype=np.float64),
        lambda p: book.value(float(p[0]), float(p[1])),
        book.grad,
    )


CHECKS: tuple[tuple[str, Callable[[type[Optimizer]], tuple[Outcome, str]]], ...] = (
    ("declaration", check_declaration),
    ("in place", check_in_place),
    ("dtype", check_dtype),
    ("deterministic", check_deterministic),
    ("resume", check_resume),
    ("quadratic", check_quadratic),
    ("book", check_book),
)
"""Each check's name and function, in the order they run."""

MARKS: dict[Outcome, str] = {PASSED: "PASS", FAILED: "FAIL", WARNED: "WARN"}


def render(results: Sequence[CheckResult]) -> list[str]:
    """One line per result: PASS, FAIL or WARN, the check's name, the reason."""
    width = max((len(r.name) for r in results), default=0)
    return [f"{MARKS[r.outcome]}  {r.name.ljust(width)}  {r.reason}" for r in results]


def any_failed(results: Sequence[CheckResult]) -> bool:
    """Whether any check failed (warnings do not count)."""
    return any(r.outcome == FAILED for r in results)
