"""Tests for optbench.check: every built-in optimizer conforms, and each deliberately wrong optimizer
fails the check meant for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from conftest import need

from optbench import UNIT_INTERVAL, Optimizer, hyper
from optbench.check import (
    CHECKS,
    FAILED,
    PASSED,
    WARNED,
    CheckResult,
    any_failed,
    check_optimizer,
    hyper_values,
    render,
)
from optbench.errors import ConfigError
from optbench.optim import OPTIMIZERS

CHECK_NAMES = [name for name, _ in CHECKS]


def outcomes(cls: type[Optimizer]) -> dict[str, str]:
    return {r.name: r.outcome for r in check_optimizer(cls)}


def result(cls: type[Optimizer], name: str) -> CheckResult:
    (found,) = [r for r in check_optimizer(cls) if r.name == name]
    return found


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_built_in_optimizer_passes_every_check(name: str) -> None:
    results = check_optimizer(OPTIMIZERS[name])
    assert [r.name for r in results] == CHECK_NAMES
    assert {r.name: r.reason for r in results if r.outcome != PASSED} == {}
    assert not any_failed(results)


# --------------------------------------------------------------------------------------------------
# Deliberately wrong optimizers, each with the one fault its name says
# --------------------------------------------------------------------------------------------------


@dataclass
class GlobalRandom(Optimizer):
    """Gradient descent with noise from the global np.random: two runs differ."""

    name = "global_random"
    summary = "noisy gradient descent"

    lr: float = hyper(0.01, "learning rate")

    def update(self, params: Any, grads: Any, lr: float) -> float:
        params -= lr * (grads + 0.01 * np.random.standard_normal(params.shape))
        return lr


@dataclass
class AttributeCounter(Optimizer):
    """A decaying rate whose update count lives in an attribute, outside the state: lost on resume."""

    name = "attribute_counter"
    summary = "gradient descent with 1/k decay"

    lr: float = hyper(0.1, "learning rate")

    def __post_init__(self) -> None:
        self.count = 0

    def update(self, params: Any, grads: Any, lr: float) -> float:
        self.count += 1
        params -= lr / self.count * grads
        return lr / self.count


@dataclass
class NewArrays(Optimizer):
    """Rebinds the name params to a new array: the caller's buffer never moves."""

    name = "new_arrays"
    summary = "gradient descent that forgets to write back"

    lr: float = hyper(0.1, "learning rate")

    def update(self, params: Any, grads: Any, lr: float) -> float:
        params = params - lr * grads
        return lr


@dataclass
class Float64State(Optimizer):
    """Momentum whose buffer is made in float64 whatever the parameters' dtype."""

    name = "float64_state"
    summary = "momentum with a float64 buffer"
    state_names = ("momentum_buffer",)

    lr: float = hyper(0.01, "learning rate")

    def init_state(self, params: Any) -> dict[str, Any]:
        return {"momentum_buffer": np.zeros(params.shape)}

    def update(self, params: Any, grads: Any, lr: float) -> float:
        buf = self.state["momentum_buffer"]
        buf *= 0.9
        buf += grads
        params -= (lr * buf).astype(params.dtype)
        return lr


@dataclass
class Diverging(Optimizer):
    """Divides by a second moment it never accumulates: infinities, then NaN."""

    name = "diverging"
    summary = "an RMS step without the RMS"
    state_names = ("square_avg",)

    lr: float = hyper(0.01, "learning rate")

    def update(self, params: Any, grads: Any, lr: float) -> float:
        params -= lr * grads / np.sqrt(self.state["square_avg"])
        return lr


@dataclass
class BadDefault(Optimizer):
    """A momentum default outside the range it declares."""

    name = "bad_default"
    summary = "momentum of 1.5"

    lr: float = hyper(0.01, "learning rate")
    momentum: float = hyper(1.5, "momentum factor", UNIT_INTERVAL)

    def update(self, params: Any, grads: Any, lr: float) -> float:
        params -= lr * grads
        return lr


@dataclass
class Undocumented(Optimizer):
    """A hyperparameter declared as a plain field: no config can set it, no listing explains it."""

    name = "undocumented"
    summary = "gradient descent"

    lr: float = hyper(0.01, "learning rate")
    scale: float = 1.0

    def update(self, params: Any, grads: Any, lr: float) -> float:
        params -= lr * self.scale * grads
        return lr


@dataclass
class Climbing(Optimizer):
    """Steps up the gradient, slowly: finite but never lower."""

    name = "climbing"
    summary = "gradient ascent"

    lr: float = hyper(1e-3, "learning rate")

    def update(self, params: Any, grads: Any, lr: float) -> float:
        params += lr * grads
        return lr


@pytest.mark.parametrize(
    ("cls", "check", "reason"),
    [
        (GlobalRandom, "deterministic", "two identical runs of 20 updates differ in 50 of 50 parameters"),
        (
            AttributeCounter,
            "resume",
            "saved after 10 updates and loaded into a fresh instance, the run differs",
        ),
        (NewArrays, "in place", "20 updates left the float32 parameter buffer as it was"),
        (Float64State, "dtype", "keeps state 'momentum_buffer' in float64 for float32 parameters"),
        (Diverging, "quadratic", "has parameters that are not finite after update 1"),
        (Diverging, "book", "has parameters that are not finite after update 1"),
        (BadDefault, "declaration", "the default of 'momentum' is outside its declared range: must be >= 0"),
        (Undocumented, "declaration", "field 'scale' is not declared with hyper(default, doc)"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_wrong_optimizer_fails_the_check_meant_for_it(
    cls: type[Optimizer], check: str, reason: str
) -> None:
    found = result(cls, check)
    assert found.outcome == FAILED
    assert reason in found.reason
    assert any_failed(check_optimizer(cls))


def test_each_wrong_optimizer_passes_the_checks_its_fault_does_not_touch() -> None:
    # So that a failure above is the check doing its job, not the optimizer failing everything.
    assert outcomes(AttributeCounter) == {**dict.fromkeys(CHECK_NAMES, PASSED), "resume": FAILED}
    assert outcomes(Float64State) == {**dict.fromkeys(CHECK_NAMES, PASSED), "dtype": FAILED}
    assert outcomes(BadDefault) == {**dict.fromkeys(CHECK_NAMES, PASSED), "declaration": FAILED}
    assert outcomes(NewArrays)["declaration"] == outcomes(NewArrays)["deterministic"] == PASSED


def test_a_rule_that_does_not_lower_the_functions_is_warned_about_not_failed() -> None:
    results = check_optimizer(Climbing)
    assert {r.name: r.outcome for r in results if r.outcome != PASSED} == {
        "quadratic": WARNED,
        "book": WARNED,
    }
    assert not any_failed(results)
    assert "it may need other hyperparameters" in result(Climbing, "book").reason


def test_an_optimizer_that_raises_fails_each_check_with_its_error() -> None:
    @dataclass
    class Raising(Optimizer):
        name = "raising"
        summary = "raises"

        lr: float = hyper(0.01, "learning rate")

        def update(self, params: Any, grads: Any, lr: float) -> float:
            raise RuntimeError("the rule is\nnot written yet")

    found = result(Raising, "resume")
    assert (found.outcome, found.reason) == (FAILED, "raised RuntimeError: the rule is not written yet")


def test_results_render_as_one_aligned_line_each() -> None:
    results = [
        CheckResult("in place", PASSED, "fine"),
        CheckResult("resume", FAILED, "lost"),
        CheckResult("book", WARNED, "flat"),
    ]
    assert render(results) == ["PASS  in place  fine", "FAIL  resume    lost", "WARN  book      flat"]
    assert any_failed(results) and not any_failed([results[0], results[2]])


@pytest.mark.torch
@pytest.mark.parametrize("name", ["Adam", "SGD", "RMSprop", "NAdam", "Rprop"])
def test_a_torch_class_through_the_adapter_passes_every_check(name: str) -> None:
    torch = need("torch")
    from optbench.plugins import adapt

    results = check_optimizer(adapt(getattr(torch.optim, name), f"torch.optim:{name}"))
    assert {r.name: r.reason for r in results if r.outcome != PASSED} == {}


@dataclass
class NoMeaning(Optimizer):
    """A hyperparameter declared with hyper() but an empty meaning: `optbench list` could not explain it."""

    name = "no_meaning"
    summary = "gradient descent"

    lr: float = hyper(0.01, "learning rate")
    scale: float = hyper(1.0, " ")

    def update(self, params: Any, grads: Any, lr: float) -> float:
        params -= lr * self.scale * grads
        return lr


def test_a_hyperparameter_without_a_meaning_fails_the_declaration() -> None:
    assert outcomes(NoMeaning) == {**dict.fromkeys(CHECK_NAMES, PASSED), "declaration": FAILED}
    assert result(NoMeaning, "declaration").reason == (
        "hyperparameter 'scale' has no meaning (the doc of hyper(default, doc))"
    )


def test_the_checks_run_in_the_dtypes_asked_for() -> None:
    # Float64State keeps a float64 buffer: wrong for float32 parameters only.
    assert not any_failed(check_optimizer(Float64State, dtypes=(np.float64,)))
    only32 = {r.name: r for r in check_optimizer(Float64State, dtypes=(np.float32,))}
    assert only32["dtype"].outcome == FAILED
    assert only32["in place"].reason.endswith("(float32)")
    assert "(float32 and float64)" in result(Float64State, "in place").reason


def test_the_checks_make_the_optimizer_with_the_values_given() -> None:
    # With a tenth of the rate, Climbing still climbs; with a negative rate (no bounds) it descends.
    climbing = {r.name: r for r in check_optimizer(Climbing, {"lr": -0.1})}
    assert climbing["quadratic"].outcome == climbing["book"].outcome == PASSED
    assert climbing["book"].reason.startswith("with lr=-0.1, lowers the lecture's function")
    # BadDefault's momentum is only declared, so its declaration still fails on the default.
    assert result(BadDefault, "declaration").outcome == FAILED
    assert any_failed(check_optimizer(BadDefault, {"momentum": 0.5}))


def test_hyper_values_are_converted_as_a_config_converts_them() -> None:
    assert hyper_values(OPTIMIZERS["adam"], {"lr": 1, "betas": [0.8, 0.9]}) == {
        "lr": 1.0,
        "betas": (0.8, 0.9),
    }
    assert hyper_values(OPTIMIZERS["sgd"], {}) == {}


@pytest.mark.parametrize(
    ("raw", "lines"),
    [
        (
            {"beta": 0.5},
            ["--hyper beta: optimizer 'adam' has no hyperparameter 'beta'; did you mean 'betas'?"],
        ),
        ({"lr": "fast"}, ["--hyper lr: must be a number, got 'fast'"]),
        (
            {"lr": -1, "eps": -1},
            ["--hyper lr: must be > 0, got -1.0", "--hyper eps: must be >= 0, got -1.0"],
        ),
    ],
)
def test_hyper_values_report_each_problem_on_a_line(raw: dict[str, Any], lines: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        hyper_values(OPTIMIZERS["adam"], raw)
    assert info.value.problems == lines


def test_hyper_values_the_class_refuses_together_are_one_problem() -> None:
    with pytest.raises(ConfigError) as info:
        hyper_values(OPTIMIZERS["sgd"], {"nesterov": True})
    (line,) = info.value.problems
    assert line.startswith("--hyper nesterov: ") and "momentum" in line
