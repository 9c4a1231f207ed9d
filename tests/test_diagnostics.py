"""Per-layer diagnostics: distinct units, dead and saturated fractions, one row per layer."""

from __future__ import annotations

import numpy as np
import pytest

from optbench.diagnostics import DIAGNOSTIC_COLUMNS, distinct_units, inactive_fraction, layer_diagnostics
from optbench.init import build_initializer
from optbench.nn import ACTIVATIONS, MLP


def test_an_all_zero_layer_has_one_distinct_unit() -> None:
    assert distinct_units(np.zeros((30, 12))) == 1


def test_random_columns_are_all_distinct() -> None:
    assert distinct_units(np.random.default_rng(0).standard_normal((30, 12))) == 12


def test_copies_within_tolerance_count_once_and_beyond_it_count_apart() -> None:
    w = np.random.default_rng(1).standard_normal((30, 12))
    w[:, 4] = w[:, 2]
    w[:, 9] = w[:, 2] + 1e-9  # within 1e-6 of the largest weight
    w[:, 7] = w[:, 1] + 1e-3  # far beyond it
    assert distinct_units(w) == 10


def test_columns_equal_up_to_a_constant_shift_are_told_apart() -> None:
    """Equal projections alone do not merge units: the exact comparison decides."""
    w = np.zeros((4, 3))
    w[:, 1] = [1.0, -1.0, 1.0, -1.0]
    w[:, 2] = [-1.0, 1.0, -1.0, 1.0]
    assert distinct_units(w) == 3


def test_two_groups_of_identical_units_count_two() -> None:
    w = np.tile(np.array([[1.0, 2.0]]).T, (1, 50))
    w[:, 25:] = 3.0
    assert distinct_units(w) == 2


def test_dead_relu_units_are_those_zero_on_every_example() -> None:
    h = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert inactive_fraction(h, ACTIVATIONS["relu"]) == pytest.approx(1 / 3)


def test_saturated_sigmoid_outputs_are_within_the_margin_of_a_bound() -> None:
    h = np.array([0.001, 0.5, 0.995, 0.98])
    assert inactive_fraction(h, ACTIVATIONS["sigmoid"]) == pytest.approx(0.5)
    assert inactive_fraction(np.array([-0.995, 0.0]), ACTIVATIONS["tanh"]) == pytest.approx(0.5)


def test_layer_diagnostics_give_one_row_per_layer_with_the_norms() -> None:
    rng = np.random.default_rng(0)
    net = MLP((6, 5, 4, 3), ACTIVATIONS["relu"], build_initializer("he"), rng, dtype=np.float64)
    net.loss_and_grad(rng.standard_normal((8, 6)), rng.integers(0, 3, size=8))
    rows = layer_diagnostics(net, 7)
    assert len(rows) == 3 and all(len(r) == len(DIAGNOSTIC_COLUMNS) for r in rows)
    assert [r[1] for r in rows] == [1, 2, 3] and all(r[0] == 7 for r in rows)
    assert rows[0][2] == pytest.approx(np.linalg.norm(net.weights[0]))
    assert rows[1][3] == pytest.approx(np.linalg.norm(net.weight_grads[1]))
    assert rows[0][5] == pytest.approx(net.hidden_outputs[0].std())
    assert rows[2][4:7] == (None, None, None)  # the linear output layer has no activation
