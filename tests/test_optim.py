"""Tests for optbench.optim: every update rule against its published formulas and against torch.optim,
state round-trips, schedules, clipping, and the in-place, no-allocation contract."""

from __future__ import annotations

import inspect
import json
import math
import os
import subprocess
import sys
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from conftest import need
from reference_optimizers import RULES

from optbench.hparams import hyperparameters
from optbench.optim import (
    OPTIMIZERS,
    Constant,
    Cosine,
    ExponentialDecay,
    Momentum,
    Nesterov,
    Optimizer,
    Schedule,
    StepDecay,
    clip_by_global_norm,
)

RTOL = 1e-12

# --------------------------------------------------------------------------------------------------
# The first updates against the published rules (reference_optimizers.py)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandCase:
    """One optimizer variant checked against its published rule for `steps` updates."""

    id: str
    name: str
    hyper: dict[str, Any]
    steps: int = 3
    schedule: Schedule = field(default_factory=Constant)
    lrs: tuple[float, ...] | None = None
    """The scheduled rate of each update, written out by hand; None: the constant hyper['lr']."""


THETA0 = np.array([1.0, -2.0, 0.5, 3.0])
GRADS = np.array(
    [
        [0.5, -1.0, 2.0, -0.1],
        [0.4, -0.7, 0.1, 0.2],
        [-0.3, 0.2, 0.1, -0.3],
        [0.6, -0.5, -0.4, 0.25],
        [0.2, 0.9, -0.6, -0.2],
        [-0.1, 0.3, 0.7, 0.15],
        [0.35, -0.8, 0.05, -0.45],
    ]
)
"""A fixed gradient sequence; element 2 falls from 2.0 to 0.1, so AMSGrad's maximum matters."""

HAND_CASES = [
    HandCase("sgd", "sgd", {"lr": 0.1}),
    HandCase("sgd-momentum", "sgd", {"lr": 0.1, "momentum": 0.9}),
    HandCase("sgd-dampening", "sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    HandCase("sgd-nesterov", "sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    HandCase("sgd-weight-decay", "sgd", {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}),
    HandCase("momentum", "momentum", {"lr": 0.1}),
    HandCase("nesterov", "nesterov", {"lr": 0.1}),
    HandCase("adagrad", "adagrad", {"lr": 0.5}),
    HandCase(
        "adagrad-decay-init-wd",
        "adagrad",
        {"lr": 0.5, "lr_decay": 0.1, "initial_accumulator_value": 0.2, "weight_decay": 0.1},
    ),
    HandCase("rmsprop", "rmsprop", {"lr": 0.1}),
    HandCase("rmsprop-centered", "rmsprop", {"lr": 0.1, "centered": True}),
    HandCase("rmsprop-momentum", "rmsprop", {"lr": 0.1, "momentum": 0.9}),
    HandCase(
        "rmsprop-centered-momentum-wd",
        "rmsprop",
        {"lr": 0.1, "alpha": 0.9, "centered": True, "momentum": 0.9, "weight_decay": 0.1},
    ),
    HandCase("adam", "adam", {"lr": 0.1}),
    HandCase("adam-amsgrad", "adam", {"lr": 0.1, "betas": (0.9, 0.5), "amsgrad": True}),
    HandCase("adam-weight-decay", "adam", {"lr": 0.1, "weight_decay": 0.1}),
    HandCase("adam-small-beta1", "adam", {"lr": 0.1, "betas": (0.3, 0.9)}),
    HandCase("adam-no-bias-correction", "adam", {"lr": 0.1, "bias_correction": False}),
    HandCase("adamw", "adamw", {"lr": 0.1, "weight_decay": 0.1}),
    HandCase("nadam", "nadam", {"lr": 0.1}),
    HandCase("nadam-l2", "nadam", {"lr": 0.1, "weight_decay": 0.1}),
    HandCase("nadam-decoupled", "nadam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    HandCase("radam", "radam", {"lr": 0.1}, steps=7),
    HandCase("radam-l2", "radam", {"lr": 0.1, "weight_decay": 0.1}, steps=7),
    HandCase(
        "radam-decoupled",
        "radam",
        {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True},
        steps=7,
    ),
    HandCase("adadelta", "adadelta", {"lr": 1.0}),
    HandCase("adadelta-rho-wd", "adadelta", {"lr": 0.5, "rho": 0.7, "weight_decay": 0.1}),
    HandCase("adamax", "adamax", {"lr": 0.1}),
    HandCase("adamax-weight-decay", "adamax", {"lr": 0.1, "weight_decay": 0.1}),
    HandCase("lion-weight-decay", "lion", {"lr": 0.1, "weight_decay": 0.1}),
    HandCase(
        "momentum-scheduled",
        "momentum",
        {"lr": 0.1},
        steps=4,
        schedule=ExponentialDecay(gamma=0.5, warmup_steps=2),
        lrs=(0.05, 0.1, 0.1, 0.05),
    ),
    HandCase(
        "adagrad-scheduled",
        "adagrad",
        {"lr": 0.5, "lr_decay": 0.1},
        steps=4,
        schedule=StepDecay(step_size=2, gamma=0.1),
        lrs=(0.5, 0.5, 0.05, 0.05),
    ),
]


def _reference_trajectory(case: HandCase) -> np.ndarray:
    """θ after each update of the published rule, from THETA0 and the first `steps` rows of GRADS."""
    lrs = list(case.lrs) if case.lrs is not None else [case.hyper["lr"]] * case.steps
    ref_hyper = {k: v for k, v in case.hyper.items() if k != "lr"}
    theta, state, out = THETA0.copy(), {}, []
    for t, (g, lr) in enumerate(zip(GRADS[: case.steps], lrs, strict=True), start=1):
        theta = RULES[case.name](theta, g, state, t, lr, **ref_hyper)
        out.append(theta)
    return np.array(out)


@pytest.mark.parametrize("case", HAND_CASES, ids=lambda c: c.id)
def test_first_updates_equal_the_published_formulas(case: HandCase) -> None:
    opt = OPTIMIZERS[case.name](**case.hyper, schedule=case.schedule)
    theta = THETA0.copy()
    got = []
    for k in range(case.steps):
        opt.step(theta, GRADS[k].copy())
        got.append(theta.copy())
    np.testing.assert_allclose(np.array(got), _reference_trajectory(case), rtol=RTOL, atol=0)


def test_every_optimizer_has_a_hand_computed_case() -> None:
    assert {case.name for case in HAND_CASES} == set(OPTIMIZERS)


def test_radam_case_covers_both_the_unrectified_and_the_rectified_updates() -> None:
    beta2 = 0.999
    rho_inf = 2 / (1 - beta2) - 1
    rho = [rho_inf - 2 * t * beta2**t / (1 - beta2**t) for t in range(1, 8)]
    assert all(r <= 5 for r in rho[:5]) and all(r > 5 for r in rho[5:])


def test_adagrad_reports_its_decayed_rate_as_last_lr() -> None:
    opt = OPTIMIZERS["adagrad"](lr=0.5, lr_decay=0.1, schedule=StepDecay(step_size=2, gamma=0.1))
    theta = THETA0.copy()
    seen = []
    for k in range(4):
        opt.step(theta, GRADS[k].copy())
        seen.append(opt.last_lr)
    assert seen == pytest.approx([0.5, 0.5 / 1.1, 0.05 / 1.2, 0.05 / 1.3], rel=RTOL)


def test_nesterov_without_momentum_is_rejected() -> None:
    with pytest.raises(ValueError, match="nesterov needs momentum"):
        OPTIMIZERS["nesterov"](momentum=0.0)
    with pytest.raises(ValueError, match="dampening"):
        OPTIMIZERS["sgd"](momentum=0.9, nesterov=True, dampening=0.1)


def test_adamw_always_decouples_its_weight_decay() -> None:
    assert "decoupled_weight_decay" not in {p.name for p in hyperparameters(OPTIMIZERS["adamw"])}
    with pytest.raises(TypeError):
        OPTIMIZERS["adamw"](decoupled_weight_decay=False)  # type: ignore[call-arg]


# --------------------------------------------------------------------------------------------------
# torch.optim cross-check
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TorchCase:
    """One variant and its torch.optim twin, built with the same hyperparameters plus `torch_extra`."""

    id: str
    name: str
    hyper: dict[str, Any]
    torch_name: str
    torch_extra: dict[str, Any] = field(default_factory=dict)

    @property
    def torch_hyper(self) -> dict[str, Any]:
        return {**self.hyper, **self.torch_extra}


TORCH_CASES = [
    TorchCase("sgd", "sgd", {"lr": 0.05}, "SGD"),
    TorchCase("sgd-momentum", "sgd", {"lr": 0.05, "momentum": 0.9}, "SGD"),
    TorchCase("sgd-dampening", "sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}, "SGD"),
    TorchCase("sgd-weight-decay", "sgd", {"lr": 0.05, "weight_decay": 0.1}, "SGD"),
    TorchCase("momentum", "momentum", {"lr": 0.05}, "SGD", {"momentum": 0.9}),
    TorchCase("nesterov", "nesterov", {"lr": 0.05}, "SGD", {"momentum": 0.9, "nesterov": True}),
    TorchCase("adagrad", "adagrad", {"lr": 0.1}, "Adagrad"),
    TorchCase(
        "adagrad-decay-init-wd",
        "adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.05},
        "Adagrad",
    ),
    TorchCase("rmsprop", "rmsprop", {"lr": 0.01}, "RMSprop"),
    TorchCase("rmsprop-centered", "rmsprop", {"lr": 0.01, "centered": True}, "RMSprop"),
    TorchCase("rmsprop-momentum", "rmsprop", {"lr": 0.01, "momentum": 0.9}, "RMSprop"),
    TorchCase(
        "rmsprop-centered-momentum-wd",
        "rmsprop",
        {"lr": 0.01, "alpha": 0.9, "centered": True, "momentum": 0.9, "weight_decay": 0.1},
        "RMSprop",
    ),
    TorchCase("adam", "adam", {"lr": 0.05}, "Adam"),
    TorchCase("adam-amsgrad", "adam", {"lr": 0.05, "amsgrad": True}, "Adam"),
    TorchCase("adam-wd-small-beta1", "adam", {"lr": 0.05, "weight_decay": 0.1, "betas": (0.3, 0.9)}, "Adam"),
    TorchCase("adamw", "adamw", {"lr": 0.05, "weight_decay": 0.1}, "AdamW"),
    TorchCase("adamw-amsgrad", "adamw", {"lr": 0.05, "amsgrad": True}, "AdamW"),
    TorchCase("nadam", "nadam", {"lr": 0.05}, "NAdam"),
    TorchCase("nadam-l2", "nadam", {"lr": 0.05, "weight_decay": 0.1}, "NAdam"),
    TorchCase(
        "nadam-decoupled", "nadam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}, "NAdam"
    ),
    TorchCase("radam", "radam", {"lr": 0.05}, "RAdam"),
    TorchCase("radam-l2", "radam", {"lr": 0.05, "weight_decay": 0.1}, "RAdam"),
    TorchCase(
        "radam-decoupled", "radam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}, "RAdam"
    ),
    TorchCase("adadelta", "adadelta", {}, "Adadelta"),
    TorchCase("adadelta-rho-wd", "adadelta", {"lr": 0.5, "rho": 0.7, "weight_decay": 0.1}, "Adadelta"),
    TorchCase("adamax", "adamax", {"lr": 0.05}, "Adamax"),
    TorchCase("adamax-weight-decay", "adamax", {"lr": 0.05, "weight_decay": 0.1}, "Adamax"),
]
"""Every torch-backed variant (lion and bias_correction = false have no torch twin)."""

TORCH_STEPS = 50


@dataclass(frozen=True)
class Quadratic:
    """Gradient a·(θ − θ*) plus seeded noise: a deterministic, θ-dependent gradient sequence."""

    a: np.ndarray
    star: np.ndarray
    theta0: np.ndarray
    noise: np.ndarray

    @classmethod
    def make(cls, n: int = 23, steps: int = TORCH_STEPS, seed: int = 0) -> Quadratic:
        rng = np.random.default_rng(seed)
        star = rng.choice([-1.0, 1.0], n) * rng.uniform(1, 3, n)
        return cls(
            a=rng.uniform(0.5, 2.0, n),
            star=star,
            theta0=star + rng.uniform(-2, 2, n),
            noise=0.1 * rng.standard_normal((steps, n)),
        )

    def grad(self, theta: np.ndarray, k: int) -> np.ndarray:
        return np.asarray(self.a * (theta - self.star) + self.noise[k])


def _our_trajectory(name: str, hyper: dict[str, Any], problem: Quadratic) -> np.ndarray:
    opt = OPTIMIZERS[name](**hyper)
    theta = problem.theta0.copy()
    out = []
    for k in range(len(problem.noise)):
        opt.step(theta, problem.grad(theta, k))
        out.append(theta.copy())
    return np.array(out)


TORCH_SCHEDULES: list[tuple[Schedule, str, dict[str, Any]]] = [
    (StepDecay(step_size=30, gamma=0.5), "StepLR", {"step_size": 30, "gamma": 0.5}),
    (ExponentialDecay(gamma=0.995), "ExponentialLR", {"gamma": 0.995}),
    (Cosine(t_max=1000, eta_min=1e-3), "CosineAnnealingLR", {"T_max": 1000, "eta_min": 1e-3}),
]
SCHEDULE_LR, SCHEDULE_STEPS = 0.1, 1001

# torch.optim on the same problem, in a child process so that its CPU kernels can be chosen (and its
# import and first-step set-up, seconds each, run in parallel for the two kernel choices). Arguments:
# problem.npz, out.npz, and "native" or "scalar-exact-sqrt": torch's scalar kernels (no fused
# multiply-add) with Tensor.sqrt replaced by NumPy's correctly rounded one. Cases come on stdin.
TORCH_RUNNER = """
import json, sys, warnings
import numpy as np
import torch

torch.set_default_dtype(torch.float64)  # NAdam keeps mu_product in the default dtype
if sys.argv[3] == "scalar-exact-sqrt":
    def _sqrt(self):
        return torch.from_numpy(np.sqrt(self.detach().numpy()))
    def _sqrt_(self):
        return self.copy_(_sqrt(self))
    torch.Tensor.sqrt, torch.Tensor.sqrt_ = _sqrt, _sqrt_
request = json.load(sys.stdin)
data = np.load(sys.argv[1])
a, star, theta0, noise = data["a"], data["star"], data["theta0"], data["noise"]
results = {}
for case_id, torch_name, torch_hyper in request["cases"]:
    p = torch.tensor(theta0.copy(), requires_grad=True)
    opt = getattr(torch.optim, torch_name)([p], foreach=False, **torch_hyper)
    out = []
    for k in range(len(noise)):
        p.grad = torch.from_numpy(a * (p.detach().numpy() - star) + noise[k])
        opt.step()
        out.append(p.detach().numpy().copy())
    results[case_id] = np.array(out)
lr, steps = request["schedule_lr"], request["schedule_steps"]
for i, (torch_name, torch_hyper) in enumerate(request["schedules"]):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = getattr(torch.optim.lr_scheduler, torch_name)(opt, **torch_hyper)
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stepping the scheduler without the optimizer
        for _ in range(steps):
            values.append(sched.get_last_lr()[0])
            sched.step()
    results[f"schedule-{i}"] = np.array(values)
np.savez(sys.argv[2], **results)
"""

TORCH_MODES = ("native", "scalar-exact-sqrt")


@pytest.fixture(scope="module")
def torch_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, np.ndarray]]:
    """torch's results for every case, by kernel mode, from two child processes run at once."""
    need("torch")
    folder = tmp_path_factory.mktemp("torch")
    problem = Quadratic.make()
    np.savez(
        folder / "problem.npz", a=problem.a, star=problem.star, theta0=problem.theta0, noise=problem.noise
    )
    request = json.dumps(
        {
            "cases": [(case.id, case.torch_name, case.torch_hyper) for case in TORCH_CASES],
            "schedules": [(tname, thyper) for _, tname, thyper in TORCH_SCHEDULES],
            "schedule_lr": SCHEDULE_LR,
            "schedule_steps": SCHEDULE_STEPS,
        }
    )
    children = {}
    for mode in TORCH_MODES:
        env = dict(os.environ)
        if mode == "scalar-exact-sqrt":
            env["ATEN_CPU_CAPABILITY"] = "default"
        children[mode] = subprocess.Popen(
            [
                sys.executable,
                "-c",
                TORCH_RUNNER,
                str(folder / "problem.npz"),
                str(folder / f"{mode}.npz"),
                mode,
            ],
            stdin=subprocess.PIPE,
            text=True,
            env=env,
        )
    for child in children.values():  # hand both their cases before waiting, so they run at once
        assert child.stdin is not None
        child.stdin.write(request)
        child.stdin.close()
    assert [child.wait(timeout=120) for child in children.values()] == [0] * len(children)
    results = {}
    for mode in TORCH_MODES:
        with np.load(folder / f"{mode}.npz") as saved:
            results[mode] = {key: saved[key] for key in saved.files}
    return results


@pytest.mark.torch
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_fifty_float64_updates_match_torch_optim(
    torch_runs: dict[str, dict[str, np.ndarray]], case: TorchCase
) -> None:
    # torch's native kernels fuse multiply-adds (lerp_, add_ with alpha, addcmul_) and its float64 sqrt is
    # not always correctly rounded, so only a tolerance holds here; see the bit-for-bit test below.
    ours = _our_trajectory(case.name, case.hyper, Quadratic.make())
    np.testing.assert_allclose(ours, torch_runs["native"][case.id], rtol=RTOL, atol=0)


@pytest.mark.torch
@pytest.mark.parametrize("case", TORCH_CASES, ids=lambda c: c.id)
def test_every_update_follows_torchs_operation_order_bit_for_bit(
    torch_runs: dict[str, dict[str, np.ndarray]], case: TorchCase
) -> None:
    # With torch's scalar kernels and a correctly rounded sqrt, torch.optim's single-tensor code and
    # ours round every operation alike, so the trajectories are identical.
    ours = _our_trajectory(case.name, case.hyper, Quadratic.make())
    assert np.array_equal(ours, torch_runs["scalar-exact-sqrt"][case.id])


@pytest.mark.torch
@pytest.mark.parametrize("index", range(len(TORCH_SCHEDULES)), ids=[t for _, t, _ in TORCH_SCHEDULES])
def test_schedules_match_torch_lr_schedulers(
    torch_runs: dict[str, dict[str, np.ndarray]], index: int
) -> None:
    ours = TORCH_SCHEDULES[index][0]
    theirs = torch_runs["native"][f"schedule-{index}"]
    chosen = [0, 1, 29, 30, 31, 250, 500, 777, 999, 1000]
    assert [ours(k, SCHEDULE_LR) for k in chosen] == pytest.approx(
        [theirs[k] for k in chosen], rel=RTOL, abs=0
    )


def test_every_torch_backed_optimizer_has_a_torch_case() -> None:
    assert {case.name for case in TORCH_CASES} == set(OPTIMIZERS) - {"lion"}


TORCH_ONLY_SWITCHES = {"params", "maximize", "foreach", "fused", "capturable", "differentiable"}
OUR_ONLY = {"bias_correction"}
TORCH_CLASS = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
    "nadam": "NAdam",
    "radam": "RAdam",
    "adadelta": "Adadelta",
    "adamax": "Adamax",
}


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(TORCH_CLASS))
def test_hyperparameters_have_torchs_names_and_defaults(name: str) -> None:
    torch = need("torch")
    signature = inspect.signature(getattr(torch.optim, TORCH_CLASS[name]))
    theirs = {k: p.default for k, p in signature.parameters.items() if k not in TORCH_ONLY_SWITCHES}
    ours = {p.name: p.default for p in hyperparameters(OPTIMIZERS[name]) if p.name not in OUR_ONLY}
    assert ours == theirs


@pytest.mark.torch
def test_clipping_matches_torch_clip_grad_norm() -> None:
    torch = need("torch")
    g = np.random.default_rng(3).standard_normal(50)
    for max_norm in (0.5, 100.0):
        ours = g.copy()
        norm = clip_by_global_norm(ours, max_norm)
        grad = torch.tensor(g.copy(), requires_grad=True)
        grad.grad = torch.tensor(g.copy())
        their_norm = torch.nn.utils.clip_grad_norm_([grad], max_norm)
        assert norm == pytest.approx(float(their_norm), rel=RTOL)
        np.testing.assert_allclose(ours, grad.grad.numpy(), rtol=RTOL, atol=0)


# --------------------------------------------------------------------------------------------------
# State, schedules, clipping, convergence, the lecture's forms, dtype and allocation
# --------------------------------------------------------------------------------------------------

STATEFUL_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    *((name, {}) for name in sorted(OPTIMIZERS)),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("rmsprop", {"momentum": 0.9, "centered": True}),
    ("adam", {"amsgrad": True}),
    ("adagrad", {"lr_decay": 0.1}),
]


def _run(opt: Optimizer, theta: np.ndarray, ks: range) -> None:
    problem = Quadratic.make(n=7, steps=ks.stop)
    for k in ks:
        opt.step(theta, problem.grad(theta, k))


@pytest.mark.parametrize(("name", "hyper"), STATEFUL_VARIANTS, ids=str)
def test_state_round_trip_continues_identically(name: str, hyper: dict[str, Any]) -> None:
    whole = OPTIMIZERS[name](**hyper)
    theta_whole = Quadratic.make(n=7).theta0.copy()
    _run(whole, theta_whole, range(10))

    first = OPTIMIZERS[name](**hyper)
    theta = Quadratic.make(n=7).theta0.copy()
    _run(first, theta, range(5))
    saved = first.state_dict()
    resumed = OPTIMIZERS[name](**hyper)
    resumed.load_state_dict(saved)
    _run(resumed, theta, range(5, 10))

    assert np.array_equal(theta, theta_whole)
    assert resumed.t == whole.t == 10
    assert all(np.array_equal(resumed.state[k], whole.state[k]) for k in whole.state)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_is_a_copy(name: str) -> None:
    opt = OPTIMIZERS[name](**({"momentum": 0.9} if name == "sgd" else {}))
    theta = Quadratic.make(n=7).theta0.copy()
    _run(opt, theta, range(3))
    saved = opt.state_dict()
    snapshot = {k: v.copy() for k, v in saved["state"].items()}
    assert snapshot
    _run(opt, theta, range(3, 6))
    theta += 1.0
    assert saved["t"] == 3
    assert all(np.array_equal(saved["state"][k], snapshot[k]) for k in snapshot)


def test_loading_the_state_of_another_optimizer_is_refused() -> None:
    adam = OPTIMIZERS["adam"]()
    _run(adam, np.zeros(7), range(1))
    with pytest.raises(ValueError, match="adam"):
        OPTIMIZERS["nadam"]().load_state_dict(adam.state_dict())


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (Constant(), {0: 0.1, 5: 0.1, 1000: 0.1}),
        (Constant(warmup_steps=4), {0: 0.025, 1: 0.05, 3: 0.1, 4: 0.1, 100: 0.1}),
        (StepDecay(step_size=10, gamma=0.5), {0: 0.1, 9: 0.1, 10: 0.05, 25: 0.025}),
        (StepDecay(step_size=10, gamma=0.5, warmup_steps=2), {0: 0.05, 1: 0.1, 11: 0.1, 12: 0.05}),
        (ExponentialDecay(gamma=0.9), {0: 0.1, 1: 0.09, 3: 0.1 * 0.9**3}),
        (ExponentialDecay(gamma=0.9, warmup_steps=5), {0: 0.02, 4: 0.1, 5: 0.1, 6: 0.09}),
        (Cosine(t_max=100), {0: 0.1, 50: 0.05, 100: 0.0, 150: 0.0}),
        (Cosine(t_max=100, eta_min=0.02, warmup_steps=10), {0: 0.01, 9: 0.1, 10: 0.1, 60: 0.06, 200: 0.02}),
    ],
    ids=[
        "constant",
        "constant-warmup",
        "step",
        "step-warmup",
        "exp",
        "exp-warmup",
        "cosine",
        "cosine-warmup",
    ],
)
def test_schedule_values_at_chosen_updates(schedule: Schedule, expected: dict[int, float]) -> None:
    assert {k: schedule(k, 0.1) for k in expected} == pytest.approx(expected, rel=RTOL, abs=1e-17)


def test_cosine_without_t_max_is_an_error() -> None:
    with pytest.raises(ValueError, match="t_max"):
        Cosine()(0, 0.1)


def test_last_lr_reports_the_scheduled_rate_of_each_update() -> None:
    opt = OPTIMIZERS["momentum"](lr=0.1, schedule=StepDecay(step_size=2, gamma=0.1, warmup_steps=2))
    assert math.isnan(opt.last_lr)
    seen = []
    theta = np.zeros(3)
    for _ in range(6):
        opt.step(theta, np.ones(3))
        seen.append(opt.last_lr)
    assert seen == pytest.approx([0.05, 0.1, 0.1, 0.1, 0.01, 0.01], rel=RTOL)


def test_clip_by_global_norm_scales_a_large_gradient_to_max_norm() -> None:
    g = np.array([3.0, 4.0])
    norm = clip_by_global_norm(g, 1.0)
    assert norm == 5.0
    assert np.linalg.norm(g) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(g, [0.6, 0.8], rtol=1e-6)


def test_clip_by_global_norm_leaves_a_small_gradient_alone() -> None:
    g = np.array([0.3, -0.4])
    assert clip_by_global_norm(g, 1.0) == pytest.approx(0.5)
    assert np.array_equal(g, [0.3, -0.4])


def test_step_clips_before_the_update() -> None:
    opt = OPTIMIZERS["sgd"](lr=1.0, clip_norm=1.0)
    theta = np.zeros(2)
    opt.step(theta, np.array([30.0, 40.0]))
    np.testing.assert_allclose(theta, [-0.6, -0.8], rtol=1e-6)


def _book_f(p: np.ndarray) -> float:
    return float(p[0] ** 2 / 20 + p[1] ** 2)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_default_hyperparameters_lower_the_books_function(name: str) -> None:
    opt = OPTIMIZERS[name]()
    p = np.array([-7.0, 2.0])
    start = _book_f(p)
    for _ in range(100):
        opt.step(p, np.array([p[0] / 10, 2 * p[1]]))
    assert np.all(np.isfinite(p))
    assert _book_f(p) < start


def test_momentum_buffer_form_equals_the_lectures_velocity_form() -> None:
    lr, mu = 0.1, 0.9
    opt = Momentum(lr=lr)
    p, q, v = np.array([-7.0, 2.0]), np.array([-7.0, 2.0]), np.zeros(2)
    for _ in range(30):
        opt.step(p, np.array([p[0] / 10, 2 * p[1]]))
        v = mu * v - lr * np.array([q[0] / 10, 2 * q[1]])
        q = q + v
        np.testing.assert_allclose(p, q, rtol=RTOL, atol=1e-15)


def test_nesterov_equals_bengios_form_but_not_the_books_code() -> None:
    lr, mu = 0.1, 0.9
    opt = Nesterov(lr=lr)
    p = np.array([-7.0, 2.0])
    bengio, v_b = p.copy(), np.zeros(2)
    book, v_k = p.copy(), np.zeros(2)
    for _ in range(30):
        opt.step(p, np.array([p[0] / 10, 2 * p[1]]))
        g = np.array([bengio[0] / 10, 2 * bengio[1]])
        bengio = bengio + mu * mu * v_b - (1 + mu) * lr * g
        v_b = mu * v_b - lr * g
        g = np.array([book[0] / 10, 2 * book[1]])
        v_k = mu * v_k - lr * g
        book = book + mu * mu * v_k - (1 + mu) * lr * g
    np.testing.assert_allclose(p, bengio, rtol=RTOL, atol=1e-15)
    assert not np.allclose(p, book, rtol=1e-3)


@pytest.mark.parametrize(("name", "hyper"), STATEFUL_VARIANTS, ids=str)
def test_float32_parameters_stay_float32(name: str, hyper: dict[str, Any]) -> None:
    opt = OPTIMIZERS[name](**hyper)
    theta = np.linspace(-1, 1, 64, dtype=np.float32)
    for _ in range(3):
        opt.step(theta, (0.5 * theta + 0.1).astype(np.float32))
    assert theta.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state.values() if v.ndim)


@pytest.mark.parametrize(("name", "hyper"), STATEFUL_VARIANTS, ids=str)
def test_step_allocates_nothing_after_the_first_update(name: str, hyper: dict[str, Any]) -> None:
    n = 20_000
    opt = OPTIMIZERS[name](**hyper)
    theta = np.linspace(-1, 1, n, dtype=np.float32)
    grads = np.empty_like(theta)
    np.multiply(theta, 0.5, out=grads)
    opt.step(theta, grads)
    ids = {k: id(v) for k, v in opt.state.items()}
    tracemalloc.start()
    try:
        for _ in range(3):
            np.multiply(theta, 0.5, out=grads)
            opt.step(theta, grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert {k: id(v) for k, v in opt.state.items()} == ids
    assert peak < theta.nbytes // 4
