"""The MLP against independent truth: finite differences, a plain reference forward pass, closed forms."""

from __future__ import annotations

import itertools
import math
import threading
from typing import Any

import numpy as np
import pytest

from optbench.init import INITIALIZERS, build_initializer
from optbench.nn import ACTIVATIONS, MLP, softmax_cross_entropy
from optbench.signals import Helper

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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_a_helper_thread_gives_the_gradients_bit_for_bit(dtype: type, bias: bool) -> None:
    x, y = batch(n=16)
    helper = Helper("test-products")
    try:
        for activation in ACTIVATIONS:
            alone, helped = (make_net(activation, dtype, bias=bias) for _ in range(2))
            helped.helper = helper
            for _ in range(3):  # the gradients of a step depend on no earlier step's
                loss = alone.loss_and_grad(x.astype(dtype), y)
                assert helped.loss_and_grad(x.astype(dtype), y) == loss
                assert helped.grads.tobytes() == alone.grads.tobytes()
                alone.params -= 0.1 * alone.grads
                helped.params -= 0.1 * helped.grads
            assert helped.replica().helper is None  # a replica evaluates in another thread, alone
    finally:
        helper.close()
    # A closed helper is given nothing (a job given to it would never be done).
    assert not helper.active
    assert helped.loss_and_grad(x.astype(dtype), y) == alone.loss_and_grad(x.astype(dtype), y)


def test_an_error_in_the_helper_thread_is_raised_by_loss_and_grad() -> None:
    class Failing(MLP):
        def _layer_grads(self, i: int, *args: Any) -> None:
            if threading.current_thread() is not threading.main_thread():
                raise FloatingPointError(f"layer {i}")
            super()._layer_grads(i, *args)

    net = Failing(SIZES, ACTIVATIONS["relu"], build_initializer("he"), np.random.default_rng(0))
    net.helper = Helper("test-products")
    try:
        with pytest.raises(FloatingPointError, match="layer 2"):  # the first one given
            net.loss_and_grad(*batch())
        net.helper.close()
        net.helper = None
        assert math.isfinite(net.loss_and_grad(*batch()))  # nothing left in flight
    finally:
        if net.helper is not None:
            net.helper.close()


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
