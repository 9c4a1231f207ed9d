"""The conformance check of an optimizer: what an author should know before benchmarking it.

`check_optimizer(cls)` makes the class from its defaults (or from the values given) and runs it on
small problems, checking that it follows the contract of `Optimizer` that the rest of optbench
relies on:

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
fails with the exception as its reason. `optimizer_named` and `hyper_values` find the class and its
values as `optbench check SPEC --hyper NAME=VALUE` names them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

from optbench import checkpoints
from optbench.config.fields import Problems, convert_fields, did_you_mean
from optbench.errors import ConfigError, OptbenchError, UsageError
from optbench.functions import FUNCTIONS
from optbench.hparams import hyperparameters
from optbench.optim import OPTIMIZERS, Array, Optimizer
from optbench.text import plural

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
DType = type[np.floating[Any]]
DTYPES: tuple[DType, ...] = (np.float32, np.float64)


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


@dataclass(frozen=True)
class Subject:
    """What is checked: the class, the hyperparameter values it is made with (its defaults for the
    rest) and the parameter dtypes it is run in."""

    cls: type[Optimizer]
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    dtypes: tuple[DType, ...] = DTYPES

    def make(self) -> Optimizer:
        """A fresh instance (the base class's lr has no default: each optimizer declares its own,
        and the declaration check says when one does not)."""
        make = cast(Callable[..., Optimizer], self.cls)
        return make(**self.values)

    @property
    def dtype(self) -> DType:
        """The dtype of the checks that need one: float64 unless only float32 is checked."""
        return self.dtypes[-1]

    @property
    def in_dtypes(self) -> str:
        return " and ".join(str(np.dtype(d)) for d in self.dtypes)

    @property
    def setting(self) -> str:
        """How the instance is made, in words: `from its defaults`, or `with beta=0.95`."""
        if not self.values:
            return "from its defaults"
        return "with " + ", ".join(f"{k}={v!r}" for k, v in self.values.items())


Check = Callable[[Subject], tuple[Outcome, str]]


def check_optimizer(
    cls: type[Optimizer], values: Mapping[str, Any] | None = None, dtypes: Sequence[DType] = DTYPES
) -> list[CheckResult]:
    """Every check of `cls`, in the order of the module's docstring, made with `values` (converted
    hyperparameter values, the defaults for the others) and run in `dtypes`."""
    subject = Subject(cls, dict(values or {}), tuple(dtypes))
    with np.errstate(all="ignore"):  # a diverging rule is reported as a result, not as warnings
        return [_run(name, check, subject) for name, check in CHECKS]


def optimizer_named(spec: str, folder: Path | None = None) -> type[Optimizer]:
    """The optimizer class `spec` names as a config would: a built-in name, `file.py:Name` (relative
    to `folder`, default the current one), `module:Name` or an installed entry point's name; a torch
    class comes through the adapter.

    UsageError, one line, for a spec that cannot be loaded or names no optimizer.
    """
    from optbench import plugins

    try:
        code = plugins.resolve(spec, "optimizers", folder)
        if code is not None:
            plugins.install(code, "optimizers")
    except plugins.PluginError as exc:
        raise UsageError(str(exc)) from None
    cls = OPTIMIZERS.get(spec)
    if cls is None:
        known = [*OPTIMIZERS, *plugins.entry_points("optimizers")]
        hint = did_you_mean(spec, known) or (
            "; name a built-in (optbench list optimizers), an entry point, file.py:Name or module:Name"
        )
        raise UsageError(f"unknown optimizer {spec!r}{hint}")
    return cls


def hyper_values(cls: type[Optimizer], raw: Mapping[str, Any]) -> dict[str, Any]:
    """`raw` (hyperparameter name -> value as YAML reads it) converted to what `cls` declares.

    ConfigError with one `--hyper NAME: ...` line for each unknown name (with a did-you-mean), value
    of the wrong type or outside its range, or values the class refuses together.
    """
    declared = hyperparameters(cls)
    names = [p.name for p in declared]
    problems = Problems()
    for key in raw:
        if key not in names:
            hint = did_you_mean(key, names) or f" (it has: {', '.join(names) or 'none'})"
            problems.add(key, f"optimizer {cls.name!r} has no hyperparameter {key!r}{hint}")
    values = convert_fields(dict(raw), "", problems, declared)
    if not problems.items:
        try:
            Subject(cls, values).make()
        except (ValueError, TypeError) as exc:
            problems.add(", ".join(raw), _one_line(str(exc)))
    if problems.items:
        raise ConfigError([f"--hyper {key}: {message}" for key, message in problems.items])
    return values


def _run(name: str, check: Check, subject: Subject) -> CheckResult:
    try:
        outcome, reason = check(subject)
    except ContractError as failure:
        return CheckResult(name, FAILED, str(failure))
    except Exception as exc:  # the optimizer's own error is the reason its check fails
        return CheckResult(name, FAILED, f"raised {type(exc).__name__}: {_one_line(str(exc))}")
    return CheckResult(name, outcome, reason)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _steps(opt: Optimizer, params: Array, first: int, last: int) -> None:
    """Updates first..last-1 on the noisy quadratic, one gradient buffer reused as the training loop does."""
    grads = np.empty_like(params)
    for k in range(first, last):
        np.copyto(grads, PROBLEM.gradient(params, k), casting="same_kind")
        opt.step(params, grads)


def _start(dtype: DType) -> Array:
    return PROBLEM.start.astype(dtype)


# --------------------------------------------------------------------------------------------------
# The checks: each returns (outcome, reason) or raises ContractError
# --------------------------------------------------------------------------------------------------


def check_declaration(subject: Subject) -> tuple[Outcome, str]:
    cls = subject.cls
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
    subject.make()
    declared_text = plural(len(declared), "hyperparameter")
    return PASSED, f"{declared_text} declared, with defaults and meanings, each default in its range"


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


def check_in_place(subject: Subject) -> tuple[Outcome, str]:
    for dtype in subject.dtypes:
        params = _start(dtype)
        before = params.copy()
        opt = subject.make()
        _steps(opt, params, 0, UPDATES)
        if np.array_equal(params, before):
            raise ContractError(
                f"{UPDATES} updates left the {np.dtype(dtype)} parameter buffer as it was: "
                "update must change params in place (params -= ..., not params = ...)"
            )
        if not isinstance(opt.last_lr, (int, float)) or isinstance(opt.last_lr, bool):
            raise ContractError(f"update returned {opt.last_lr!r}, not the step size it applied (a float)")
    return PASSED, f"{UPDATES} updates change the parameter buffer in place ({subject.in_dtypes})"


def check_dtype(subject: Subject) -> tuple[Outcome, str]:
    for dtype in subject.dtypes:
        params = _start(dtype)
        opt = subject.make()
        _steps(opt, params, 0, UPDATES)
        for key, value in opt.state_dict()["state"].items():
            array = np.asarray(value)
            if array.shape == params.shape and array.dtype != params.dtype:
                raise ContractError(f"keeps state {key!r} in {array.dtype} for {np.dtype(dtype)} parameters")
    return PASSED, f"state shaped like the parameters keeps their dtype ({subject.in_dtypes})"


def check_deterministic(subject: Subject) -> tuple[Outcome, str]:
    runs = []
    for _ in range(2):
        params = _start(subject.dtype)
        _steps(subject.make(), params, 0, UPDATES)
        runs.append(params)
    if runs[0].tobytes() != runs[1].tobytes():
        differ = int(np.count_nonzero(runs[0] != runs[1]))
        raise ContractError(
            f"two identical runs of {UPDATES} updates differ in {differ} of {SIZE} parameters: "
            "draw randomness from a seeded generator, never the global np.random"
        )
    return PASSED, f"two identical runs of {UPDATES} updates give identical bits"


def check_resume(subject: Subject) -> tuple[Outcome, str]:
    half = UPDATES // 2
    for dtype in subject.dtypes:
        whole = _start(dtype)
        _steps(subject.make(), whole, 0, UPDATES)
        params = _start(dtype)
        first = subject.make()
        _steps(first, params, 0, half)
        resumed = subject.make()
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
    subject: Subject,
    what: str,
    start: NDArray[np.float64],
    value: Callable[[NDArray[Any]], float],
    grad: Callable[[NDArray[Any]], NDArray[np.float64]],
) -> tuple[Outcome, str]:
    params = start.astype(subject.dtype)
    grads = np.empty_like(params)
    opt = subject.make()
    setting = subject.setting
    before = value(params)
    for k in range(1, DESCENT_UPDATES + 1):
        np.copyto(grads, grad(params), casting="same_kind")
        opt.step(params, grads)
        if not np.all(np.isfinite(params)):
            raise ContractError(f"{setting}, {what} has parameters that are not finite after update {k}")
    after = value(params)
    if not math.isfinite(after):
        raise ContractError(f"{setting}, {what} reaches a value that is not finite: {after}")
    if after < before:
        return (
            PASSED,
            f"{setting}, lowers {what} from {before:.4g} to {after:.4g} in {DESCENT_UPDATES} updates",
        )
    return WARNED, (
        f"{setting}, does not lower {what} ({before:.4g} to {after:.4g} in {DESCENT_UPDATES} "
        "updates): it may need other hyperparameters"
    )


def check_quadratic(subject: Subject) -> tuple[Outcome, str]:
    return _descent(subject, "a convex quadratic", PROBLEM.start, PROBLEM.value, PROBLEM.gradient)


def check_book(subject: Subject) -> tuple[Outcome, str]:
    book = FUNCTIONS["book"]
    return _descent(
        subject,
        f"the lecture's function {book.formula}",
        np.array(book.start, dtype=np.float64),
        lambda p: book.value(float(p[0]), float(p[1])),
        book.grad,
    )


CHECKS: tuple[tuple[str, Check], ...] = (
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
