"""Layers and networks against independent truth: finite differences, a plain reference forward pass,
closed forms."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from conftest import need

from optbench.init import INITIALIZERS, build_initializer
from optbench.nn import (
    ACTIVATIONS,
    MLP,
    Affine,
    BatchNorm,
    Dropout,
    Layer,
    Network,
    ReLU,
    softmax_cross_entropy,
)

SIZES = (7, 6, 5, 4)


def make_net(activation: str = "tanh", dtype: type = np.float64, seed: int = 0, bias: bool = True) -> MLP:
    rng = np.random.default_rng(seed)
    net = MLP(SIZES, ACTIVATIONS[activation], build_initializer("xavier"), rng, dtype=dtype, bias=bias)
    # Non-zero biases, so that their gradients are checked at a generic point.
    for b in net.biases:
        if b is not None:
            b[...] = rng.standard_normal(b.shape) * 0.3
    return net


def batch(n: int = 9, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, SIZES[0])), rng.integers(0, SIZES[-1], size=n)


def reference_loss(net: MLP, x: np.ndarray, y: np.ndarray) -> float:
    """A plain forward pass written from the definitions, sharing nothing with MLP.forward."""
    formulas = {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.where(z > 0, z, 0.0),
        "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
        "identity": lambda z: z,
    }
    f = formulas[net.activation.name]
    h = x
    for i, (w, b) in enumerate(zip(net.weights, net.biases)):
        z = h @ w + (0 if b is None else b)
        h = f(z) if i < len(net.weights) - 1 else z
    log_probs = h - np.log(np.sum(np.exp(h), axis=1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(y)), y]))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_backward_matches_central_finite_differences(activation: str) -> None:
    net = make_net(activation)
    x, y = batch()
    net.loss_and_grad(x, y)
    analytic = net.grads.copy()
    numeric = np.empty_like(analytic)
    h = 1e-6
    for k in range(net.params.size):
        saved = net.params[k]
        net.params[k] = saved + h
        up = reference_loss(net, x, y)
        net.params[k] = saved - h
        down = reference_loss(net, x, y)
        net.params[k] = saved
        numeric[k] = (up - down) / (2 * h)
    rel = np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric)
    assert rel < 1e-6


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_loss_equals_plain_reference_forward(activation: str) -> None:
    net = make_net(activation)
    x, y = batch()
    assert net.loss_and_grad(x, y) == pytest.approx(reference_loss(net, x, y), rel=1e-13)


@pytest.mark.parametrize("bias", [True, False])
def test_forward_returns_the_logits_of_a_plain_forward_pass(bias: bool) -> None:
    net = make_net("relu", bias=bias)
    x, _ = batch()
    h = x
    for i, (w, b) in enumerate(zip(net.weights, net.biases)):
        z = h @ w + (0 if b is None else b)
        h = np.maximum(z, 0) if i < len(net.weights) - 1 else z
    logits = net.forward(x)
    assert logits.shape == (len(x), SIZES[-1])
    np.testing.assert_allclose(logits, h, rtol=1e-13, atol=1e-15)


def test_a_label_outside_the_classes_raises() -> None:
    net = make_net()
    x, y = batch()
    y[0] = SIZES[-1]
    with pytest.raises(IndexError):
        net.loss_and_grad(x, y)


def test_softmax_cross_entropy_is_stable_for_huge_logits() -> None:
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    losses, grad = softmax_cross_entropy(logits, np.array([0, 2]))
    assert losses[0] == 0.0
    assert losses[1] == pytest.approx(math.log(3))
    assert np.all(np.isfinite(grad))
    # d/dz of mean(-log softmax_y): (softmax - onehot) / batch.
    np.testing.assert_allclose(grad[1], [1 / 6, 1 / 6, -1 / 3])


def test_softmax_cross_entropy_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 5)) * 3
    y = np.array([0, 4, 2, 2])
    _, grad = softmax_cross_entropy(z, y)
    h = 1e-6
    numeric = np.empty_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += h
        zm[idx] -= h
        numeric[idx] = (softmax_cross_entropy(zp, y)[0].mean() - softmax_cross_entropy(zm, y)[0].mean()) / (
            2 * h
        )
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-10)


def test_mlp_gradient_equals_reference_softmax_backprop() -> None:
    """The in-place loss head of the MLP agrees with the allocating reference on the last layer."""
    net = make_net("relu")
    x, y = batch()
    loss = net.loss_and_grad(x, y)
    hidden = net.hidden_outputs[-1]
    logits = hidden @ net.weights[-1] + net.biases[-1]
    losses, dlogits = softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(losses.mean(), rel=1e-14)
    np.testing.assert_allclose(net.weight_grads[-1], hidden.T @ dlogits, rtol=1e-12, atol=1e-15)


def test_huge_logits_give_finite_loss_and_gradient() -> None:
    net = make_net("identity")
    x, y = batch()
    net.weights[-1][...] *= 1e4
    loss = net.loss_and_grad(x, y)
    assert math.isfinite(loss) and np.all(np.isfinite(net.grads))


def test_weights_and_biases_are_views_into_the_flat_buffers() -> None:
    net = make_net()
    net.params[:] = np.arange(net.params.size)
    assert net.weights[0][0, 1] == 1.0
    assert net.biases[0] is not None and net.biases[0][0] == SIZES[0] * SIZES[1]
    assert net.weights[1][0, 0] == SIZES[0] * SIZES[1] + SIZES[1]
    assert net.params.size == sum(a * b + b for a, b in itertools.pairwise(SIZES))
    for w, gw in zip(net.weights, net.weight_grads):
        assert np.shares_memory(w, net.params) and np.shares_memory(gw, net.grads)


def test_without_bias_the_buffer_holds_only_weights() -> None:
    net = make_net(bias=False)
    assert net.params.size == sum(a * b for a, b in itertools.pairwise(SIZES))
    assert all(b is None for b in net.biases)
    x, y = batch()
    assert net.loss_and_grad(x, y) == pytest.approx(reference_loss(net, x, y), rel=1e-13)


def test_float32_network_computes_in_float32() -> None:
    net = make_net(dtype=np.float32)
    x, y = batch()
    net.loss_and_grad(x.astype(np.float32), y)
    assert net.params.dtype == np.float32 and net.grads.dtype == np.float32
    assert net.forward(x.astype(np.float32)).dtype == np.float32


def test_inputs_of_another_dtype_are_converted_to_the_networks_first() -> None:
    net = make_net(dtype=np.float32)
    x, y = batch()  # float64
    loss = net.loss_and_grad(x, y)
    grads = net.grads.copy()
    assert net.loss_and_grad(x.astype(np.float32), y) == loss
    assert net.grads.tobytes() == grads.tobytes()
    assert net.forward(x).tobytes() == net.forward(x.astype(np.float32)).tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_np_dot_makes_the_products_of_np_matmul_bit_for_bit(dtype: type) -> None:
    # The network calls np.dot for its lower overhead; np.matmul is what its products were first
    # written with. Every product of a step of the lecture's MLP, transposed views included.
    rng = np.random.default_rng(0)
    sizes, batch_size = (784, 100, 100, 100, 100, 10), 128

    def filled(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.1).astype(dtype)

    x = rng.random((batch_size, 784)).astype(dtype)
    products = []
    for n_in, n_out in itertools.pairwise(sizes):
        h, w, delta = (
            (x if n_in == 784 else filled(batch_size, n_in)),
            filled(n_in, n_out),
            filled(batch_size, n_out),
        )
        products += [(h, w), (h.T, delta), (np.ones(batch_size, dtype), delta), (delta, w.T)]
    products.append((filled(100, 10).T, filled(batch_size, 100).T))  # the class-major logits
    for a, b in products:
        expected = np.matmul(a, b)
        out = np.empty_like(expected)
        np.dot(a, b, out=out)
        assert out.tobytes() == expected.tobytes()


def test_float32_and_float64_nets_start_from_the_same_draws() -> None:
    a = make_net(dtype=np.float32, seed=5)
    b = make_net(dtype=np.float64, seed=5)
    np.testing.assert_array_equal(a.params, b.params.astype(np.float32))


def test_biases_start_at_zero_and_output_init_applies_to_last_layer_only() -> None:
    rng = np.random.default_rng(0)
    net = MLP(
        (5, 4, 3), ACTIVATIONS["relu"], build_initializer("zeros"), rng, output_init=build_initializer("he")
    )
    assert np.all(net.weights[0] == 0)
    assert np.any(net.weights[1] != 0)
    assert all(np.all(b == 0) for b in net.biases if b is not None)


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initialisers_draw_with_their_documented_std(name: str) -> None:
    n_in, n_out = 400, 300
    init = build_initializer(name)
    w = init(np.random.default_rng(0), n_in, n_out, np.float64)
    expected = {
        "normal": 0.01,
        "uniform": 0.01,
        "zeros": 0.0,
        "xavier": math.sqrt(1 / n_in),
        "xavier_uniform": math.sqrt(1 / n_in),
        "glorot": math.sqrt(2 / (n_in + n_out)),
        "glorot_uniform": math.sqrt(2 / (n_in + n_out)),
        "he": math.sqrt(2 / n_in),
        "he_uniform": math.sqrt(2 / n_in),
    }[name]
    assert w.shape == (n_in, n_out)
    assert w.std() == pytest.approx(expected, rel=0.01, abs=1e-12)
    assert abs(w.mean()) <= 0.02 * expected
    if name.endswith("uniform"):
        # A uniform draw never leaves [-√3·std, √3·std]; a normal one of 120,000 draws would.
        assert np.abs(w).max() <= math.sqrt(3) * expected


def test_normal_initialiser_takes_its_std_from_the_config() -> None:
    w = build_initializer("normal", {"std": 1.0})(np.random.default_rng(0), 300, 300, np.float64)
    assert w.std() == pytest.approx(1.0, rel=0.01)


def test_eval_counts_correct_predictions() -> None:
    net = make_net("relu")
    x, _ = batch(20)
    predicted = net.forward(x).argmax(axis=1)
    total, correct = net.evaluate(x, predicted)
    assert correct == 20
    total_wrong, correct_wrong = net.evaluate(x, (predicted + 1) % SIZES[-1])
    assert correct_wrong == 0 and total_wrong > total


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_hidden_deltas_are_the_loss_gradient_with_respect_to_pre_activations(activation: str) -> None:
    """Perturbing a pre-activation a_ij by h changes the loss by about h·δ_ij."""
    net = make_net(activation)
    x, y = batch()
    net.loss_and_grad(x, y)
    deltas = [d.copy() for d in net.hidden_deltas]
    formulas = {
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0),
    }
    f = formulas[activation]

    def loss_with_shift(layer: int, i: int, j: int, shift: float) -> float:
        h = x
        for k, (w, b) in enumerate(zip(net.weights, net.biases)):
            a = h @ w + b
            if k == layer:
                a[i, j] += shift
            h = f(a) if k < len(net.weights) - 1 else a
        log_probs = h - np.log(np.sum(np.exp(h), axis=1, keepdims=True))
        return float(-np.mean(log_probs[np.arange(len(y)), y]))

    for layer, delta in enumerate(deltas):
        for i, j in [(0, 0), (3, 2), (8, 4)]:
            numeric = (loss_with_shift(layer, i, j, 1e-6) - loss_with_shift(layer, i, j, -1e-6)) / 2e-6
            assert numeric == pytest.approx(delta[i, j], rel=1e-5, abs=1e-10)


# --------------------------------------------------------------------------------------------------
# Each layer on its own, and a network made of layers
# --------------------------------------------------------------------------------------------------


def numeric_gradient(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar f() with respect to every entry of x, changed in place."""
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        up = f()
        x[index] = saved - h
        down = f()
        x[index] = saved
        grad[index] = (up - down) / (2 * h)
    return grad


def bound(layer: Layer, rng: np.random.Generator) -> Layer:
    """The layer bound to buffers of its own, parameters drawn at random."""
    params = {k: rng.standard_normal(s) for k, s in layer.param_shapes().items()}
    grads = {k: np.zeros(s) for k, s in layer.param_shapes().items()}
    layer.bind(params, grads, {})
    return layer


LAYERS = [
    Affine(5, 3),
    Affine(5, 3, bias=False),
    Affine(5, 3, class_major=True),
    *(ACTIVATIONS[name]() for name in sorted(ACTIVATIONS)),
]


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_each_layer_backward_is_the_gradient_of_its_forward(layer: Layer) -> None:
    # L = Σ forward(x) ⊙ R for a fixed R: ∂L/∂output = R, and backward must give ∂L/∂x and ∂L/∂params.
    rng = np.random.default_rng(0)
    bound(layer, rng)
    x = rng.standard_normal((4, 5)) + 0.3  # away from ReLU's kink at 0
    weight = rng.standard_normal(layer.forward(x.copy(), train=True).shape)

    def loss() -> float:
        return float(np.sum(layer.forward(x.copy(), train=True) * weight))

    layer.forward(x.copy(), train=True)
    dx = layer.backward(weight.copy())
    assert dx is not None
    np.testing.assert_allclose(dx, numeric_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for name, value in layer.params.items():
        layer.forward(x.copy(), train=True)
        layer.backward(weight.copy())
        np.testing.assert_allclose(layer.grads[name], numeric_gradient(loss, value), rtol=1e-6, atol=1e-8)


def test_a_class_major_affine_layer_gives_the_outputs_of_a_plain_one() -> None:
    rng = np.random.default_rng(1)
    plain, major = Affine(6, 4), Affine(6, 4, class_major=True)
    bound(plain, rng)
    major.bind(plain.params, {k: np.zeros_like(v) for k, v in plain.params.items()}, {})
    x = rng.standard_normal((9, 6))
    out = major.forward(x, train=False)
    assert out.shape == (9, 4) and out.T.flags.c_contiguous
    np.testing.assert_allclose(out, plain.forward(x, train=False), rtol=1e-15)


@dataclass(eq=False)
class Scale(Layer):
    """y = x ⊙ s, one learned factor per unit, and a count of the passes kept as state: a layer kind
    written as the layers module says one is, to show a network takes it as it is."""

    n: int

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"s": (self.n,)}

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"passes": (1,)}

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self.x = x
        if train:
            self.state["passes"] += 1
        return x * self.params["s"]

    def backward_params(self, dout: np.ndarray) -> None:
        self.grads["s"][...] = np.sum(dout * self.x, axis=0)

    def backward_input(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.params["s"]


def scaled_network(seed: int = 0) -> Network:
    net = Network([Affine(7, 6), Scale(6), ReLU(), Affine(6, 4, class_major=True)], np.float64)
    net.params[...] = np.random.default_rng(seed).standard_normal(net.params.size)
    return net


def test_a_new_layer_kind_is_one_class_and_the_network_backpropagates_through_it() -> None:
    net = scaled_network()
    x, y = batch()
    net.loss_and_grad(x, y)
    analytic = net.grads.copy()
    numeric = numeric_gradient(
        lambda: float(np.mean(softmax_cross_entropy(net.forward(x), y)[0])), net.params
    )
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
    # Its parameters sit in the flat buffer in layer order, after the first affine layer's.
    scale = net.layers[1]
    assert np.shares_memory(scale.params["s"], net.params)
    assert net.params.size == 7 * 6 + 6 + 6 + 6 * 4 + 4
    assert net.state.size == 1 and np.shares_memory(scale.state["passes"], net.state)


def test_state_counts_training_passes_only_and_a_replica_starts_from_a_copy() -> None:
    net = scaled_network()
    x, y = batch()
    net.loss_and_grad(x, y)
    net.evaluate(x, y)
    assert net.state.tolist() == [1.0]
    twin = net.replica()
    assert twin.params.tobytes() == net.params.tobytes() and twin.state.tolist() == [1.0]
    assert not np.shares_memory(twin.params, net.params) and not np.shares_memory(twin.state, net.state)
    assert twin.evaluate(x, y) == net.evaluate(x, y)
    net.loss_and_grad(x, y)
    net.params += 0.5
    assert twin.state.tolist() == [1.0]
    twin.copy_from(net)
    assert twin.params.tobytes() == net.params.tobytes() and twin.state.tolist() == [2.0]


def test_a_replica_keeps_its_own_work_arrays() -> None:
    net = make_net("relu")
    x, _ = batch()
    twin = net.replica()
    logits = net.forward(x)
    expected = logits.copy()
    twin.forward(x + 1.0)
    assert logits.tobytes() == expected.tobytes()


# --------------------------------------------------------------------------------------------------
# Batch normalisation and dropout
# --------------------------------------------------------------------------------------------------


def bn_layer(n: int = 4, seed: int = 0, **settings: Any) -> BatchNorm:
    layer = BatchNorm(n, **settings)
    rng = np.random.default_rng(seed)
    layer.bind(
        {"gamma": 1 + rng.random(n), "beta": rng.standard_normal(n)},
        {"gamma": np.zeros(n), "beta": np.zeros(n)},
        {"running_mean": np.zeros(n), "running_var": np.ones(n)},
    )
    return layer


def test_batch_norm_standardises_each_unit_over_the_batch_then_scales_and_shifts() -> None:
    layer = bn_layer()
    x = np.random.default_rng(1).standard_normal((8, 4)) * 3 + 5
    expected = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-6) * layer.params["gamma"] + layer.params[
        "beta"
    ]
    np.testing.assert_allclose(layer.forward(x.copy(), train=True), expected, rtol=1e-12)


def test_batch_norm_running_statistics_move_a_tenth_of_the_way_and_serve_evaluation() -> None:
    layer, x = bn_layer(), np.random.default_rng(2).standard_normal((8, 4)) + 2
    layer.forward(x.copy(), train=True)
    np.testing.assert_allclose(layer.state["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.state["running_var"], 0.9 + 0.1 * x.var(axis=0), rtol=1e-12)
    mean, var = layer.state["running_mean"].copy(), layer.state["running_var"].copy()
    expected = (x - mean) / np.sqrt(var + 1e-6) * layer.params["gamma"] + layer.params["beta"]
    np.testing.assert_allclose(layer.forward(x.copy(), train=False), expected, rtol=1e-12)
    assert layer.state["running_mean"].tolist() == mean.tolist()  # an evaluation changes nothing
    unbiased = bn_layer(unbiased=True)
    unbiased.forward(x.copy(), train=True)
    np.testing.assert_allclose(unbiased.state["running_var"], 0.9 + 0.1 * x.var(axis=0, ddof=1), rtol=1e-12)


def test_batch_norm_starts_at_gamma_one_beta_zero_and_unit_running_variance() -> None:
    net = Network([Affine(3, 2), BatchNorm(2), ReLU(), Affine(2, 2, class_major=True)], np.float64)
    norm = net.layers[1]
    assert norm.params["gamma"].tolist() == [1.0, 1.0] and norm.params["beta"].tolist() == [0.0, 0.0]
    assert norm.state["running_mean"].tolist() == [0.0, 0.0] and norm.state["running_var"].tolist() == [
        1.0,
        1.0,
    ]
    with pytest.raises(ValueError, match="at least 2 examples"):
        net.forward(np.ones((1, 3)), train=True)


def test_batch_norm_backward_is_the_gradient_of_its_training_forward() -> None:
    layer, rng = bn_layer(5), np.random.default_rng(3)
    x, weight = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))

    def loss() -> float:
        saved = {k: v.copy() for k, v in layer.state.items()}
        value = float(np.sum(layer.forward(x.copy(), train=True) * weight))
        for k, v in saved.items():
            layer.state[k][...] = v
        return value

    layer.forward(x.copy(), train=True)
    dx = layer.backward(weight.copy())
    np.testing.assert_allclose(dx, numeric_gradient(loss, x), rtol=1e-6, atol=1e-8)
    for name, value in layer.params.items():
        np.testing.assert_allclose(layer.grads[name], numeric_gradient(loss, value), rtol=1e-6, atol=1e-8)


def test_dropout_keeps_units_with_probability_one_minus_p_scaled_up_and_evaluates_the_plain_network() -> None:
    layer = Dropout(0.25, np.random.default_rng(0))
    x = np.ones((400, 50))
    y = layer.forward(x, train=True)
    assert set(np.unique(y).tolist()) == {0.0, 1 / 0.75}
    assert np.mean(y == 0) == pytest.approx(0.25, abs=0.01)
    dout = np.full_like(y, 2.0)
    assert np.array_equal(layer.backward(dout), 2.0 * (y > 0) / 0.75)
    assert layer.forward(x, train=False) is x
    expected = np.random.default_rng(0).random((400, 50)) >= 0.25
    assert np.array_equal(y > 0, expected)  # one uniform draw per output, from the layer's generator


def test_the_books_dropout_keeps_units_unscaled_and_scales_the_evaluation_by_one_minus_p() -> None:
    layer = Dropout(0.25, np.random.default_rng(0), inverted=False)
    x = np.full((400, 50), 3.0)
    y = layer.forward(x, train=True)
    assert set(np.unique(y).tolist()) == {0.0, 3.0}
    expected = np.random.default_rng(0).random((400, 50)) >= 0.25
    assert np.array_equal(y > 0, expected)  # the same masks as the inverted form draws
    assert np.array_equal(layer.backward(np.full_like(y, 2.0)), 2.0 * expected)
    evaluated = layer.forward(x.copy(), train=False)
    assert np.array_equal(evaluated, np.full((400, 50), 3.0 * 0.75))
    # Both forms give each unit the same expected output in training as in evaluation.
    assert np.mean(y) == pytest.approx(np.mean(evaluated), rel=0.02)


def test_dropout_holds_its_mask_on_request_and_a_fresh_copy_draws_from_its_own_generator() -> None:
    layer = Dropout(0.5, np.random.default_rng(1), hold_mask=True)
    x = np.ones((20, 10))
    first = layer.forward(x, train=True).copy()
    assert np.array_equal(layer.forward(x, train=True), first)
    twin = layer.fresh()
    assert isinstance(twin, Dropout) and twin.rng is not layer.rng
    state = layer.rng.bit_generator.state
    twin.hold_mask = False
    twin.forward(x, train=True)
    assert layer.rng.bit_generator.state == state
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        Dropout(1.0, np.random.default_rng(0))


def test_a_network_with_dropout_saves_and_restores_where_its_masks_stand() -> None:
    rng = np.random.default_rng(4)
    net = MLP(
        SIZES,
        ACTIVATIONS["relu"],
        build_initializer("he"),
        np.random.default_rng(0),
        np.float64,
        after_activation=[lambda n: Dropout(0.3, rng)],
    )
    x, y = batch()
    net.loss_and_grad(x, y)
    saved = net.random_state()
    assert len(saved) == 1  # one generator, shared by the layers
    first = [net.loss_and_grad(x, y) for _ in range(3)]
    net.set_random_state(saved)
    assert [net.loss_and_grad(x, y) for _ in range(3)] == first


@pytest.mark.torch
def test_batch_norm_matches_torch_batchnorm1d_in_training_with_torchs_running_statistics() -> None:
    torch = need("torch")
    rng = np.random.default_rng(5)
    layer = bn_layer(7, eps=1e-5, unbiased=True)
    theirs = torch.nn.BatchNorm1d(7, eps=1e-5, momentum=0.1, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(layer.params["gamma"]))
        theirs.bias.copy_(torch.from_numpy(layer.params["beta"]))
    for _ in range(3):
        x, dout = rng.standard_normal((16, 7)) * 2 + 1, rng.standard_normal((16, 7))
        x_t = torch.tensor(x, requires_grad=True)
        theirs.weight.grad = theirs.bias.grad = None
        y_t = theirs(x_t)
        y_t.backward(torch.from_numpy(dout))
        y = layer.forward(x.copy(), train=True)
        dx = layer.backward(dout.copy())
        for ours, their in (
            (y, y_t.detach()),
            (dx, x_t.grad),
            (layer.grads["gamma"], theirs.weight.grad),
            (layer.grads["beta"], theirs.bias.grad),
            (layer.state["running_mean"], theirs.running_mean),
            (layer.state["running_var"], theirs.running_var),
        ):
            np.testing.assert_allclose(ours, their.numpy(), rtol=1e-10, atol=1e-12)


def test_the_l2_penalty_adds_half_lambda_sum_of_squared_weights_and_its_gradient_to_the_weights_only() -> (
    None
):
    rng = np.random.default_rng(6)
    plain, penalised = (
        MLP(SIZES, ACTIVATIONS["tanh"], build_initializer("he"), np.random.default_rng(0), np.float64, l2=l2)
        for l2 in (0.0, 0.1)
    )
    for net in (plain, penalised):
        net.params[...] = rng.standard_normal(net.params.size) if net is plain else plain.params
    x, y = batch()
    loss = penalised.loss_and_grad(x, y)
    squares = sum(float(np.sum(w * w)) for w in penalised.weights)
    assert loss == pytest.approx(plain.loss_and_grad(x, y) + 0.5 * 0.1 * squares, rel=1e-14)
    for w, gw, gw_plain in zip(penalised.weights, penalised.weight_grads, plain.weight_grads):
        np.testing.assert_allclose(gw, gw_plain + 0.1 * w, rtol=1e-14)
    for b, b_plain in zip(penalised.bias_grads, plain.bias_grads):
        assert b is not None and b_plain is not None and np.array_equal(b, b_plain)
    numeric = numeric_gradient(lambda: penalised.forward_loss(x, y), penalised.params)
    np.testing.assert_allclose(penalised.grads, numeric, rtol=1e-6, atol=1e-9)
