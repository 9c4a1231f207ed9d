"""Tests for optbench.plugins.torch_adapter: torch.optim classes run over optbench's buffers, following
optbench's own optimizers on MNIST, with the torch class's hyperparameters, schedules, clipping, dtype,
and state that resumes bit for bit."""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from conftest import need

from optbench import checkpoints
from optbench.config import validate_run
from optbench.data import BatchSampler, Dataset
from optbench.hparams import hyperparameters
from optbench.optim import OPTIMIZERS, ExponentialDecay, Optimizer, Schedule, StepDecay
from optbench.train import build_model, seeded_generators

SWITCHES = {"foreach", "fused", "capturable", "differentiable", "maximize"}


def adapted(name: str) -> type[Optimizer]:
    """torch.optim.<name> through the adapter."""
    torch = need("torch")
    from optbench.plugins import adapt

    return adapt(getattr(torch.optim, name), f"torch.optim:{name}")


def test_optbench_imports_no_torch() -> None:
    code = (
        "import sys, optbench.plugins, optbench.check, optbench.optim, optbench.train; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_nothing_is_a_torch_optimizer_while_torch_is_not_loaded() -> None:
    from optbench.plugins import is_torch_optimizer

    code = "import sys, optbench.plugins as p; print(p.is_torch_optimizer(object), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert not is_torch_optimizer(OPTIMIZERS["adam"])


# --------------------------------------------------------------------------------------------------
# Following optbench's own optimizers over 200 MNIST updates of the lecture's MLP, in float64
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MnistCase:
    torch_name: str
    ours: str
    hyper: dict[str, Any] = field(default_factory=dict)


MNIST_CASES = [
    MnistCase("Adam", "adam", {"lr": 1e-3}),
    MnistCase("SGD", "sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    MnistCase("RMSprop", "rmsprop", {"lr": 1e-3, "centered": True, "momentum": 0.5}),
]
MNIST_STEPS = 200
RELATIVE = 1e-10


def train_mnist(opt: Optimizer, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """200 updates of optbench's lecture MLP (float64) on optbench's batches; the losses and the weights."""
    run, problems = validate_run(
        {"experiment": "x", "task": {"dataset": "mnist"}, "model": {"dtype": "float64"}, "train": {"seed": 0}}
    )
    assert run is not None and run.model is not None, problems
    assert run.model.hidden == (100, 100, 100, 100) and run.model.activation == "relu"
    rng_init, rng_data = seeded_generators(*run.train.seeds)
    net = build_model(run, data.n_features, data.n_classes, rng_init)
    sampler = BatchSampler(
        data.train_images, data.train_labels, run.train.batch_size, rng_data, dtype=net.dtype
    )
    losses = []
    for _ in range(MNIST_STEPS):
        x, y = sampler.next()
        losses.append(net.loss_and_grad(x, y))
        opt.step(net.params, net.grads)
    return np.array(losses), net.params.copy()


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("case", MNIST_CASES, ids=lambda c: c.torch_name)
def test_a_torch_class_through_the_adapter_follows_optbench_over_200_mnist_updates(
    case: MnistCase, mnist: Dataset
) -> None:
    theirs_losses, theirs = train_mnist(adapted(case.torch_name)(**case.hyper), mnist)
    ours_losses, ours = train_mnist(OPTIMIZERS[case.ours](**case.hyper), mnist)
    assert theirs_losses[-1] < 0.7 * theirs_losses[0]  # it learns: the comparison is not of two stalls
    np.testing.assert_allclose(theirs_losses, ours_losses, rtol=RELATIVE, atol=0)
    assert np.linalg.norm(theirs - ours) <= RELATIVE * np.linalg.norm(ours)


# --------------------------------------------------------------------------------------------------
# Hyperparameters from the signature and the docstring
# --------------------------------------------------------------------------------------------------

ADAPTABLE = [
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "NAdam",
    "RAdam",
    "ASGD",
    "Rprop",
]


@pytest.mark.torch
@pytest.mark.parametrize("name", ADAPTABLE)
def test_the_hyperparameters_are_the_signatures_arguments_and_defaults_without_the_switches(
    name: str,
) -> None:
    torch = need("torch")
    cls = adapted(name)
    signature = inspect.signature(getattr(torch.optim, name)).parameters
    theirs = {k: p.default for k, p in signature.items() if k != "params" and k not in SWITCHES}
    declared = hyperparameters(cls)
    assert {p.name: p.default for p in declared} == theirs
    for p in declared:
        assert f"argument of torch.optim.{name}" in p.doc
        assert isinstance(p.default, typing.get_origin(p.type) or p.type)
    assert cls.name == f"torch.optim:{name}"
    assert (
        cls.summary
        == f"{inspect.getdoc(getattr(torch.optim, name)).splitlines()[0].rstrip('.')} (torch.optim.{name})"
    )


@pytest.mark.torch
def test_meanings_come_from_the_docstring_and_types_from_annotations_or_defaults() -> None:
    declared = {p.name: p for p in hyperparameters(adapted("Adam"))}
    assert declared["lr"].doc == "learning rate (argument of torch.optim.Adam)"
    assert (
        declared["eps"].doc
        == "term added to the denominator to improve numerical stability (argument of torch.optim.Adam)"
    )
    assert (
        declared["weight_decay"].type is float and declared["weight_decay"].default == 0.0
    )  # torch: `float = 0`
    assert declared["betas"].type == tuple[float, float]
    assert declared["amsgrad"].type is bool
    rprop = {p.name: p for p in hyperparameters(adapted("Rprop"))}
    assert rprop["step_sizes"].default == (1e-6, 50.0)


def custom_classes(torch: Any) -> dict[str, type]:
    """torch optimizers written as a paper's repository might write them."""

    class Plain(torch.optim.Optimizer):
        """Gradient descent with a warm-up, written without annotations.

        Args:
            params: the parameters
            lr: the step size
            warmup: updates before the full step
        """

        def __init__(self, params, lr=0.1, warmup=0, weight_decay=0, scale=None, hook=print):
            super().__init__(params, {"lr": lr, "warmup": warmup, "weight_decay": weight_decay})
            self.seen = (warmup, weight_decay)

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    p.add_(p.grad, alpha=-group["lr"])

    class Required(torch.optim.Optimizer):
        def __init__(self, params: Any, lr: float, beta: float) -> None:
            super().__init__(params, {"lr": lr, "beta": beta})

    class NoLr(torch.optim.Optimizer):
        def __init__(self, params: Any, beta: float = 0.9) -> None:
            super().__init__(params, {"beta": beta})

    class Clash(torch.optim.Optimizer):
        def __init__(self, params: Any, lr: float = 0.1, schedule: float = 1.0) -> None:
            super().__init__(params, {"lr": lr})

    from torch.optim.optimizer import required

    class LrRequired(torch.optim.Optimizer):
        def __init__(self, params: Any, lr: float = required) -> None:
            super().__init__(params, {"lr": lr})

        def step(self, closure: Any = None) -> None:
            for p in self.param_groups[0]["params"]:
                p.add_(p.grad, alpha=-self.param_groups[0]["lr"])

    return {"Plain": Plain, "Required": Required, "NoLr": NoLr, "Clash": Clash, "LrRequired": LrRequired}


@pytest.mark.torch
def test_an_unannotated_class_gets_types_from_its_defaults_and_whole_numbers_go_to_it_as_ints() -> None:
    torch = need("torch")
    from optbench.plugins import adapt

    cls = adapt(custom_classes(torch)["Plain"], "plain.py:Plain")
    declared = {p.name: p for p in hyperparameters(cls)}
    assert list(declared) == ["lr", "warmup", "weight_decay"]  # scale (None, no type) and hook left out
    assert declared["warmup"].type is float and declared["lr"].doc == "the step size (argument of " + (
        f"{cls.torch_class.__module__}.{cls.torch_class.__qualname__})"
    )
    opt = cls(warmup=3.0, weight_decay=0.5)
    opt.step(np.ones(2), np.ones(2))
    arguments = opt.torch_arguments()
    assert arguments["warmup"] == 3 and type(arguments["warmup"]) is int
    assert type(arguments["weight_decay"]) is float


@pytest.mark.torch
def test_an_lr_without_default_gets_optbenchs_and_says_so() -> None:
    torch = need("torch")
    from optbench.plugins import adapt

    cls = adapt(custom_classes(torch)["LrRequired"], "x.py:LrRequired")
    (lr,) = hyperparameters(cls)
    assert lr.default == 1e-3 and "has no default (optbench's: 0.001)" in lr.doc


@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("LBFGS", r"torch.optim.LBFGS needs a closure in step\(\)"),
        (
            "SparseAdam",
            "torch.optim.SparseAdam cannot step on optbench's flat parameter buffer: SparseAdam does not",
        ),
        ("Muon", "torch.optim.Muon cannot step on optbench's flat parameter buffer: Muon only supports 2D"),
    ],
)
def test_a_torch_class_that_cannot_run_on_a_flat_buffer_is_refused_with_the_reason(
    name: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        adapted(name)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Required", "argument 'beta' has no default, which optbench needs"),
        ("NoLr", "takes no lr, which optbench's schedules set through param_groups"),
        ("Clash", "argument 'schedule' has the name of an attribute of Optimizer"),
    ],
)
def test_a_class_optbench_cannot_declare_is_refused(name: str, message: str) -> None:
    torch = need("torch")
    from optbench.plugins import adapt

    with pytest.raises(ValueError, match=message):
        adapt(custom_classes(torch)[name], f"x.py:{name}")


@pytest.mark.torch
def test_what_is_not_a_torch_optimizer_is_refused() -> None:
    need("torch")
    from optbench.plugins import adapt, is_torch_optimizer

    with pytest.raises(ValueError, match=r"x.py:Adam is not a subclass of torch.optim.Optimizer"):
        adapt(OPTIMIZERS["adam"], "x.py:Adam")
    assert is_torch_optimizer(adapted("Adam").torch_class)


@pytest.mark.torch
def test_a_value_torch_refuses_is_a_value_error_when_the_optimizer_is_made() -> None:
    cls = adapted("Adam")
    with pytest.raises(ValueError, match=r"torch.optim.Adam: Invalid learning rate: -1.0"):
        cls(lr=-1.0)


# --------------------------------------------------------------------------------------------------
# Views, threads, schedules, clipping, dtype
# --------------------------------------------------------------------------------------------------


def recording_sgd(torch: Any) -> type:
    """torch.optim.SGD that records, at each step, where its parameter and gradient live and its lr."""

    class Recording(torch.optim.SGD):
        seen: typing.ClassVar[list[tuple[int, int, float, bool]]] = []

        def step(self, closure: Any = None) -> Any:
            (p,) = self.param_groups[0]["params"]
            Recording.seen.append(
                (p.data_ptr(), p.grad.data_ptr(), self.param_groups[0]["lr"], torch.is_grad_enabled())
            )
            return super().step(closure)

    return Recording


@pytest.mark.torch
def test_the_torch_optimizer_steps_on_views_of_the_buffers_made_once_under_no_grad() -> None:
    torch = need("torch")
    from optbench.plugins import adapt

    recording = recording_sgd(torch)
    opt = adapt(recording, "x.py:Recording")(lr=0.5)
    recording.seen.clear()  # adapt's own trial update
    params, grads = np.ones(5), np.zeros(5)
    for k in range(3):
        grads[:] = k + 1  # the same buffer, refilled: the view sees the new gradient
        opt.step(params, grads)
    assert params.tolist() == [1 - 0.5 * (1 + 2 + 3)] * 5
    assert recording.seen == [(params.ctypes.data, grads.ctypes.data, 0.5, False)] * 3
    fresh = np.full(5, 2.0)  # a new gradient array (as a function task gives): a new view, same optimizer
    opt.step(params, fresh)
    assert recording.seen[-1][:2] == (params.ctypes.data, fresh.ctypes.data)
    assert params.tolist() == [-2.0 - 0.5 * 2.0] * 5


@pytest.mark.torch
def test_the_first_update_sets_torch_to_one_thread() -> None:
    torch = need("torch")
    cls = adapted("Adam")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        opt = cls()
        torch.set_num_threads(2)
        opt.step(np.ones(3), np.ones(3))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


QUADRATIC_A = np.linspace(0.5, 2.0, 11)


def quadratic_run(
    opt: Optimizer, steps: int, dtype: Any = np.float64, params: np.ndarray | None = None
) -> np.ndarray:
    theta = np.linspace(-3.0, 3.0, 11).astype(dtype) if params is None else params
    grads = np.empty_like(theta)
    for _ in range(steps):
        np.multiply(QUADRATIC_A, theta, out=grads, casting="same_kind")
        grads += 0.25
        opt.step(theta, grads)
    return theta


@pytest.mark.torch
@pytest.mark.parametrize(
    "schedule", [ExponentialDecay(gamma=0.9, warmup_steps=3), StepDecay(step_size=4, gamma=0.5)], ids=repr
)
@pytest.mark.parametrize("clip_norm", [None, 0.5])
def test_optbenchs_schedules_and_clipping_apply_as_for_its_own_sgd(
    schedule: Schedule, clip_norm: float | None
) -> None:
    torch = need("torch")
    from optbench.plugins import adapt

    recording = recording_sgd(torch)
    hyper = {"lr": 0.3, "momentum": 0.9}
    theirs = adapt(recording, "x.py:Recording")(**hyper, schedule=schedule, clip_norm=clip_norm)
    ours = OPTIMIZERS["sgd"](**hyper, schedule=schedule, clip_norm=clip_norm)
    np.testing.assert_allclose(quadratic_run(theirs, 12), quadratic_run(ours, 12), rtol=1e-13, atol=0)
    assert [lr for _, _, lr, _ in recording.seen[-12:]] == [schedule(k, 0.3) for k in range(12)]
    assert theirs.last_lr == schedule(11, 0.3)


@pytest.mark.torch
def test_float32_buffers_stay_float32_and_so_does_the_state() -> None:
    opt = adapted("Adam")(lr=0.01)
    theta = quadratic_run(opt, 5, np.float32)
    assert theta.dtype == np.float32
    state = opt.state_dict()["state"]
    assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == np.float32
    assert (
        state["step"].dtype == np.float32 and state["step"].shape == ()
    )  # torch's own choice for its counter


# --------------------------------------------------------------------------------------------------
# State in checkpoints: a stopped run resumes bit for bit
# --------------------------------------------------------------------------------------------------

RESUME_CASES = [
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9}),
    ("NAdam", {"lr": 0.05}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("ASGD", {"lr": 0.05, "t0": 3.0}),
    ("Rprop", {}),
    ("Adamax", {}),
]


def through_checkpoint(saved: dict[str, Any]) -> dict[str, Any]:
    """A state dict written as checkpoint bytes (plain arrays, no pickle) and read back."""
    data = checkpoints.pack(
        {"optimizer_t": np.array(saved["t"]), **{f"state.{k}": v for k, v in saved["state"].items()}}
    )
    read = checkpoints.unpack(data)
    state = {k.removeprefix("state."): v for k, v in read.items() if k.startswith("state.")}
    return {"name": saved["name"], "t": int(read["optimizer_t"]), "state": state}


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "hyper"), RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_a_run_stopped_and_resumed_in_a_fresh_instance_equals_an_uninterrupted_one(
    name: str, hyper: dict[str, Any], dtype: Any
) -> None:
    cls = adapted(name)
    whole = quadratic_run(cls(**hyper), 20, dtype)
    first = cls(**hyper)
    theta = quadratic_run(first, 7, dtype)
    saved = through_checkpoint(first.state_dict())
    assert saved["t"] == 7 and all(isinstance(v, np.ndarray) for v in saved["state"].values())
    resumed = cls(**hyper)
    resumed.load_state_dict(saved)
    loaded = resumed.state_dict()  # before any update: what was loaded, unchanged
    assert loaded["t"] == 7 and {k: v.tobytes() for k, v in loaded["state"].items()} == {
        k: v.tobytes() for k, v in saved["state"].items()
    }
    quadratic_run(resumed, 13, dtype, theta)
    assert theta.tobytes() == whole.tobytes()


@pytest.mark.torch
def test_state_loaded_into_a_stepping_optimizer_replaces_its_own() -> None:
    cls = adapted("Adam")
    reference = cls(lr=0.05)
    theta_ref = quadratic_run(reference, 4)
    saved = reference.state_dict()
    other = cls(lr=0.05)
    theta = quadratic_run(other, 9)
    np.copyto(theta, theta_ref)
    other.load_state_dict(saved)
    quadratic_run(other, 5, params=theta)
    quadratic_run(reference, 5, params=theta_ref)
    assert theta.tobytes() == theta_ref.tobytes()


def group_state_class(torch: Any) -> type:
    """An optimizer keeping a Python counter in its parameter group and a number and a None per parameter."""

    class Counting(torch.optim.Optimizer):
        def __init__(self, params: Any, lr: float = 0.1) -> None:
            super().__init__(params, {"lr": lr})
            self.param_groups[0]["calls"] = 0

        def step(self, closure: Any = None) -> None:
            group = self.param_groups[0]
            group["calls"] += 1
            for p in group["params"]:
                state = self.state[p]
                state["scale"] = state.get("scale", 1.0) * 0.9
                state["unused"] = None
                p.add_(p.grad, alpha=-group["lr"] * state["scale"] / group["calls"])

    return Counting


@pytest.mark.torch
def test_numbers_nones_and_values_kept_in_the_parameter_group_are_saved_and_restored() -> None:
    torch = need("torch")
    from optbench.plugins import adapt

    cls = adapt(group_state_class(torch), "x.py:Counting")
    whole = quadratic_run(cls(), 10)
    first = cls()
    theta = quadratic_run(first, 4)
    saved = through_checkpoint(first.state_dict())
    assert set(saved["state"]) == {"number.scale", "none.unused", "group.number.calls"}
    assert (
        saved["state"]["group.number.calls"].dtype == np.int64
        and int(saved["state"]["group.number.calls"]) == 4
    )
    resumed = cls()
    resumed.load_state_dict(saved)
    quadratic_run(resumed, 6, params=theta)
    assert theta.tobytes() == whole.tobytes()


@pytest.mark.torch
def test_state_a_checkpoint_cannot_hold_is_a_clear_error() -> None:
    torch = need("torch")
    from optbench.plugins import adapt

    class Listing(torch.optim.SGD):
        def step(self, closure: Any = None) -> Any:
            for p in self.param_groups[0]["params"]:
                self.state[p]["history"] = [1.0]
            return super().step(closure)

    opt = adapt(Listing, "x.py:Listing")()
    opt.step(np.ones(2), np.ones(2))
    with pytest.raises(
        ValueError, match=r"keeps 'history' in its state as list, which a checkpoint cannot hold"
    ):
        opt.state_dict()
