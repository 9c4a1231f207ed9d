"""The gradient check: backpropagation against central differences, per parameter group."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from optbench.cli import main
from optbench.gradcheck import check_gradients, parameter_groups
from optbench.init import build_initializer
from optbench.nn import ACTIVATIONS, MLP, Affine, BatchNorm, Dropout, Network, ReLU


def small_mlp(rng: np.random.Generator, inverted: bool = True, **keys: Any) -> MLP:
    masks = np.random.default_rng(5)
    return MLP(
        (6, 5, 4, 3),
        ACTIVATIONS["tanh"],
        build_initializer("xavier"),
        rng,
        np.float64,
        before_activation=[BatchNorm],
        after_activation=[lambda n: Dropout(0.3, masks, inverted=inverted)],
        **keys,
    )


def batch(rng: np.random.Generator, rows: int = 7) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(size=(rows, 6)), rng.integers(0, 3, size=rows).astype(np.intp)


def test_the_groups_are_named_as_the_book_names_them() -> None:
    net = small_mlp(np.random.default_rng(0))
    names = [name for name, _, _ in parameter_groups(net)]
    assert names == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]


@pytest.mark.parametrize("inverted", [True, False])
def test_an_mlp_with_batch_norm_dropout_and_the_weight_penalty_passes_entry_by_entry(inverted: bool) -> None:
    rng = np.random.default_rng(1)
    net = small_mlp(rng, inverted, l2=0.1)
    net.layers[1].params["gamma"][...] = rng.uniform(0.5, 2, size=5)  # away from the starting values
    net.layers[1].params["beta"][...] = rng.normal(size=5)
    before = net.params.copy()
    checks = check_gradients(net, *batch(rng), entries=None)
    assert all(c.ok for c in checks), [c.line() for c in checks]
    assert all(c.checked == c.size for c in checks)
    assert max(c.mean_abs_diff for c in checks) < 1e-9
    assert np.array_equal(net.params, before)  # every entry put back


def test_the_check_holds_the_dropout_mask_so_that_the_loss_is_one_function() -> None:
    rng = np.random.default_rng(2)
    net = small_mlp(rng)
    x, y = batch(rng)
    check_gradients(net, x, y, entries=3)
    assert net.forward_loss(x, y) == net.forward_loss(x, y)


@dataclass(eq=False)
class ForgetfulAffine(Affine):
    """An affine layer whose backward pass forgets the weight penalty's gradient."""

    def backward_params(self, dout: Any) -> None:
        l2, self.l2 = self.l2, 0.0
        try:
            super().backward_params(dout)
        finally:
            self.l2 = l2


RIGHT_BACKWARD = BatchNorm.backward_input


def backward_without_the_mean_term(self: BatchNorm, dout: Any) -> Any:
    """Batch normalisation's input gradient with the term of the batch's mean dropped."""
    dx = RIGHT_BACKWARD(self, dout)
    dx += dout.sum(axis=0) * self.params["gamma"] / (len(dout) * self._std)  # type: ignore[operator]
    return dx


@dataclass(eq=False)
class WrongBatchNorm(BatchNorm):
    backward_input = backward_without_the_mean_term


def test_a_layer_that_forgets_the_penalty_fails_in_its_weights_alone() -> None:
    rng = np.random.default_rng(3)
    layers = [ForgetfulAffine(6, 5, l2=0.5), ReLU(), Affine(5, 3, class_major=True, l2=0.5)]
    net = Network(layers, np.float64)
    for layer in net.affine_layers:
        layer.params["W"][...] = rng.normal(size=layer.params["W"].shape)
    checks = {c.name: c for c in check_gradients(net, *batch(rng), entries=None)}
    assert not checks["W1"].ok and checks["b1"].ok and checks["W2"].ok and checks["b2"].ok


def test_a_wrong_batch_norm_backward_fails_the_groups_below_it() -> None:
    rng = np.random.default_rng(4)
    layers = [Affine(6, 5), WrongBatchNorm(5), ReLU(), Affine(5, 3, class_major=True)]
    net = Network(layers, np.float64)
    for layer in net.affine_layers:
        layer.params["W"][...] = rng.normal(size=layer.params["W"].shape)
    checks = {c.name: c for c in check_gradients(net, *batch(rng), entries=None)}
    assert not checks["W1"].ok
    assert checks["gamma1"].ok and checks["beta1"].ok and checks["W2"].ok


CONFIG = """experiment: g
task: {dataset: mnist, validation: 0, train_size: 200}
model: {hidden: [12, 12], batch_norm: true, dropout: 0.2, l2: 0.1}
"""


def test_the_command_prints_each_group_and_exits_0(tmp_path: Path, mnist: object) -> None:
    config = tmp_path / "g.yaml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(main, ["gradcheck", str(config), "--entries", "20"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("MLP(784-12-12-10, relu, float64")
    assert [line.split()[0] for line in lines[1:-1]] == [
        "W1",
        "b1",
        "gamma1",
        "beta1",
        "W2",
        "b2",
        "gamma2",
        "beta2",
        "W3",
        "b3",
    ]
    assert all(line.endswith(" ok") for line in lines[1:-1])
    assert lines[-1].startswith("all 10 groups within the tolerance")
    assert not (tmp_path / "results").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["g.yaml"]


def test_the_command_exits_1_naming_the_groups_a_broken_layer_fails(
    tmp_path: Path, mnist: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BatchNorm, "backward_input", backward_without_the_mean_term)
    config = tmp_path / "g.yaml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(main, ["gradcheck", str(config), "--entries", "20"])
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and "W1" in line and "gamma1" in line and "gamma2" not in line
    assert "W1" in [row.split()[0] for row in result.stdout.splitlines() if row.endswith("FAILED")]


@pytest.mark.parametrize("override", ["model.dropout=1", "model.l2=-1", "train.epochs=2"])
def test_the_command_exits_2_on_a_bad_config(tmp_path: Path, override: str) -> None:
    config = tmp_path / "g.yaml"
    config.write_text(CONFIG.replace("train_size: 200}", "train_size: 200}\ntrain: {steps: 10}"))
    result = CliRunner().invoke(main, ["gradcheck", str(config), override])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: command line: ")
