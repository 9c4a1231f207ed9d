"""The multilayer perceptron: affine layers, activations, softmax cross-entropy, forward and backward.

All parameters live in one contiguous 1-D buffer and all gradients in a second one of the same
layout, [W1, b1, W2, b2, ...]; each layer's weight matrix (n_in × n_out) and bias are views into
them. An optimizer therefore updates the whole network with a few whole-array operations, and the
backward pass writes every gradient straight into its place in the flat buffer.

Intermediate arrays are allocated once per batch size and reused, so a training step allocates
almost nothing: matrix products write with `out=`, activations run in place.
"""

from __future__ import annotations

import copy
import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike, NDArray

from optbench.init import Initializer
from optbench.registry import Registry
from optbench.signals import Helper

Array = NDArray[Any]

# --------------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------------


class Activation(ABC):
    """An elementwise nonlinearity applied in place, with its derivative expressed through its output.

    Expressing f'(z) through y = f(z) means the backward pass needs only the stored outputs; the MLP
    computes the derivative of every hidden layer at once, over its outputs stored end to end.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    bounds: ClassVar[tuple[float, float] | None] = None
    """The values the output saturates at, if any (for the fraction-saturated diagnostic)."""

    @abstractmethod
    def forward(self, z: Array) -> None:
        """Overwrite the pre-activation z with f(z)."""

    @abstractmethod
    def derivative(self, y: Array, out: Array) -> None:
        """Write f'(z), computed from y = f(z), into `out` (shaped like y)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """σ(z) = 1 / (1 + e^(−z)), σ' = y(1 − y)."""

    name = "sigmoid"
    summary = "1/(1+exp(-z)), outputs in (0, 1)"
    bounds = (0.0, 1.0)

    def forward(self, z: Array) -> None:
        np.negative(z, out=z)
        with np.errstate(over="ignore"):  # e^(−z) = inf for very negative z gives σ = 0 exactly
            np.exp(z, out=z)
        z += 1
        np.reciprocal(z, out=z)

    def derivative(self, y: Array, out: Array) -> None:
        np.subtract(1, y, out=out)
        out *= y


class Tanh(Activation):
    """tanh(z), tanh' = 1 − y²."""

    name = "tanh"
    summary = "tanh(z), outputs in (-1, 1)"
    bounds = (-1.0, 1.0)

    def forward(self, z: Array) -> None:
        np.tanh(z, out=z)

    def derivative(self, y: Array, out: Array) -> None:
        np.multiply(y, y, out=out)
        np.subtract(1, out, out=out)


@functools.lru_cache(maxsize=16)
def _zeros(shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
    """A read-only array of zeros, one per shape and dtype, shared by every caller."""
    zeros = np.zeros(shape, dtype)
    zeros.flags.writeable = False
    return zeros


class ReLU(Activation):
    """max(z, 0), with derivative 1 where y > 0 and 0 elsewhere (0 at z = 0, as PyTorch)."""

    name = "relu"
    summary = "max(z, 0)"

    def forward(self, z: Array) -> None:
        # Against an array of zeros rather than the scalar 0: NumPy vectorises maximum only for two
        # arrays, which makes it about 3× faster here.
        np.maximum(z, _zeros(z.shape, z.dtype), out=z)

    def derivative(self, y: Array, out: Array) -> None:
        np.greater(y, 0, out=out)


LEAKY_RELU_SLOPE = 0.01
"""The slope of leaky_relu for z < 0, as torch.nn.LeakyReLU's default."""


class LeakyReLU(Activation):
    """z for z > 0, a·z otherwise (a = LEAKY_RELU_SLOPE); derivative 1 or a."""

    name = "leaky_relu"
    summary = f"z if z > 0 else {LEAKY_RELU_SLOPE}*z"

    def forward(self, z: Array) -> None:
        np.maximum(z, LEAKY_RELU_SLOPE * z, out=z)

    def derivative(self, y: Array, out: Array) -> None:
        np.greater(y, 0, out=out)
        out *= 1 - LEAKY_RELU_SLOPE
        out += LEAKY_RELU_SLOPE


class Identity(Activation):
    """f(z) = z: a deep linear network."""

    name = "identity"
    summary = "z (no nonlinearity)"

    def forward(self, z: Array) -> None:
        pass

    def derivative(self, y: Array, out: Array) -> None:
        out.fill(1)


ACTIVATIONS: Registry[Activation] = Registry("activation")
for _activation in (Sigmoid(), Tanh(), ReLU(), LeakyReLU(), Identity()):
    ACTIVATIONS.register(_activation)

# --------------------------------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------------------------------


def softmax_cross_entropy(logits: Array, labels: NDArray[np.intp]) -> tuple[Array, Array]:
    """Per-sample losses −log softmax(z)_y and the gradient of their mean with respect to z.

    Stable for any logits: the row maximum is subtracted before exponentiating. This allocating form
    is the reference the in-place version inside `MLP` is tested against.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(len(labels))
    losses = log_norm - shifted[rows, labels]
    grad = np.exp(shifted - log_norm[:, None])
    grad[rows, labels] -= 1
    grad /= len(labels)
    return losses, grad


# --------------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """Where one affine layer's weights and bias sit in the flat buffers."""

    n_in: int
    n_out: int
    w_offset: int
    b_offset: int | None


class _Workspace:
    """The buffers of one batch size: each hidden layer's output, its backward signal and its
    activation's derivative; the logits and the loss head's per-example values.

    The hidden outputs are views of one buffer, one layer after the other, and so are the derivatives:
    the backward pass computes every layer's derivative in one call.

    The logits are stored class-major, (n_classes × batch): every reduction over the classes (max,
    sum) then runs along contiguous rows of the batch, which NumPy vectorises, instead of along rows
    n_classes values long (ten), where its per-row overhead makes them several times slower.
    """

    def __init__(self, sizes: Sequence[int], batch: int, dtype: np.dtype[Any]) -> None:
        hidden = sizes[1:-1]
        self.all_outputs = np.empty(batch * sum(hidden), dtype)
        self.all_slopes = np.empty_like(self.all_outputs)
        starts = [batch * sum(hidden[:i]) for i in range(len(hidden))]
        self.outputs = [self.all_outputs[s : s + batch * n].reshape(batch, n) for s, n in zip(starts, hidden)]
        self.slopes = [self.all_slopes[s : s + batch * n].reshape(batch, n) for s, n in zip(starts, hidden)]
        """f'(z) of each hidden layer, from `derivative`."""
        self.deltas = [np.empty((batch, n), dtype) for n in hidden]
        self.logits_t = np.empty((sizes[-1], batch), dtype)
        self.ones = np.ones(batch, dtype)
        self.rows = np.arange(batch)
        self.row_max = np.empty(batch, dtype)
        self.row_sum = np.empty(batch, dtype)
        self.label_pos = np.empty(batch, np.intp)
        """Where each example's label logit sits in logits_t, flattened."""
        self.picked = np.empty(batch, dtype)
        self.losses = np.empty(batch, np.float64)


class MLP:
    """Affine layers with one activation between them, a linear last layer and softmax cross-entropy.

    `sizes` = (n_inputs, hidden..., n_classes). Weights are drawn by `init` (the last layer by
    `output_init` if given), biases start at zero; `bias=False` builds layers without bias, as the
    lecture's activation-distribution experiment does.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: Activation,
        init: Initializer,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
        output_init: Initializer | None = None,
        bias: bool = True,
    ) -> None:
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"an MLP needs at least an input and an output size, all >= 1; got {sizes}")
        self.sizes = tuple(int(n) for n in sizes)
        self.activation = activation
        self.dtype = np.dtype(dtype)
        self.helper: Helper | None = None
        """A thread for the weight gradients of every layer but the first, computed while it is
        active and this thread computes the signal to the layer below (set by a run with a spare
        core)."""
        self.layers: list[Layer] = []
        offset = 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            w_offset, offset = offset, offset + n_in * n_out
            b_offset = None
            if bias:
                b_offset, offset = offset, offset + n_out
            self.layers.append(Layer(n_in, n_out, w_offset, b_offset))
        self._bind(np.zeros(offset, self.dtype))
        last = len(self.layers) - 1
        for i, (layer, w) in enumerate(zip(self.layers, self.weights)):
            draw = output_init if (i == last and output_init is not None) else init
            w[...] = draw(rng, layer.n_in, layer.n_out, self.dtype)

    def _bind(self, params: Array) -> None:
        """Take `params` as the parameter buffer, with a fresh gradient buffer and fresh workspaces."""
        self.params: Array = params
        self.grads: Array = np.zeros_like(params)
        self.weights = [self._view(self.params, layer) for layer in self.layers]
        self.weight_grads = [self._view(self.grads, layer) for layer in self.layers]
        self.biases = [self._bias_view(self.params, layer) for layer in self.layers]
        self.bias_grads = [self._bias_view(self.grads, layer) for layer in self.layers]
        last_bias = self.biases[-1]
        self._output_bias_column = None if last_bias is None else last_bias.reshape(-1, 1)
        """The last layer's bias as a column, to add to the class-major logits."""
        self._workspaces: dict[int, _Workspace] = {}
        self._last: _Workspace | None = None
        self._backward: _Workspace | None = None

    def replica(self) -> MLP:
        """A network of the same shape and activation holding a copy of these parameters, with buffers
        of its own: it can evaluate in another thread while this one trains."""
        twin = copy.copy(self)
        twin._bind(self.params.copy())
        twin.helper = None
        return twin

    @staticmethod
    def _view(buffer: Array, layer: Layer) -> Array:
        return buffer[layer.w_offset : layer.w_offset + layer.n_in * layer.n_out].reshape(
            layer.n_in, layer.n_out
        )

    @staticmethod
    def _bias_view(buffer: Array, layer: Layer) -> Array | None:
        if layer.b_offset is None:
            return None
        return buffer[layer.b_offset : layer.b_offset + layer.n_out]

    def __repr__(self) -> str:
        shape = "-".join(map(str, self.sizes))
        return f"MLP({shape}, {self.activation.name}, {self.dtype}, {self.params.size} parameters)"

    def _workspace(self, batch: int) -> _Workspace:
        ws = self._workspaces.get(batch)
        if ws is None:
            ws = self._workspaces[batch] = _Workspace(self.sizes, batch, self.dtype)
        return ws

    def forward(self, x: Array) -> Array:
        """The logits for inputs x (batch × n_inputs), a view of a buffer reused by the next call of
        this batch size. Inputs of another dtype are converted to the network's first."""
        ws = self._workspace(len(x))
        h = self._input(x)
        # np.dot, not np.matmul: the same BLAS call (checked bit for bit in the tests) for less
        # Python overhead, which adds up over the nineteen products and sums of a training step.
        for w, b, z in zip(self.weights, self.biases, ws.outputs):
            np.dot(h, w, out=z)
            if b is not None:
                z += b
            self.activation.forward(z)
            h = z
        logits_t = ws.logits_t
        np.dot(self.weights[-1].T, h.T, out=logits_t)
        if self._output_bias_column is not None:
            logits_t += self._output_bias_column
        self._last = ws
        logits: Array = logits_t.T
        return logits

    @property
    def hidden_outputs(self) -> list[Array]:
        """The activation outputs of each hidden layer in the last forward pass."""
        if self._last is None:
            raise RuntimeError("no forward pass yet")
        return list(self._last.outputs)

    @property
    def hidden_deltas(self) -> list[Array]:
        """∂L/∂a for each hidden layer's pre-activation a, from the last `loss_and_grad`."""
        if self._backward is None:
            raise RuntimeError("no backward pass yet")
        return list(self._backward.deltas)

    def _loss_terms(self, ws: _Workspace, labels: NDArray[np.intp]) -> Array:
        """Softmax of the logits in place in ws.logits_t; returns the per-example losses (float64).

        z − max(z) is formed in place; log Σ exp then gives the loss before the exponentials are
        normalised into probabilities, the buffer backward starts from. Each label's logit is read at
        its flat position, label·batch + row, with one `take` into a buffer instead of a fancy index
        that allocates; a label ≥ n_classes lands past the end and raises IndexError, as before.
        """
        z = ws.logits_t
        batch = z.shape[1]
        z.max(axis=0, out=ws.row_max)  # the methods: np.max and np.sum add a Python layer per call
        z -= ws.row_max
        np.multiply(labels, batch, out=ws.label_pos, dtype=np.intp)
        ws.label_pos += ws.rows
        np.take(z.reshape(-1), ws.label_pos, out=ws.picked)
        np.exp(z, out=z)
        z.sum(axis=0, out=ws.row_sum)
        np.log(ws.row_sum, out=ws.losses, dtype=np.float64)
        ws.losses -= ws.picked
        z /= ws.row_sum
        return ws.losses

    def _input(self, x: Array) -> Array:
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    def loss_and_grad(self, x: Array, labels: NDArray[np.intp]) -> float:
        """Mean cross-entropy of the batch; fills `self.grads` with its gradient."""
        x = self._input(x)
        self.forward(x)
        ws = self._workspace(len(x))
        batch = len(x)
        # The sum divided by the count is what .mean() computes, bit for bit, without its Python layer.
        loss = float(self._loss_terms(ws, labels).sum()) / batch
        # The softmax probabilities become dL/dz of the last layer, (batch × n_classes) as a view.
        ws.logits_t.reshape(-1)[ws.label_pos] -= 1
        ws.logits_t /= batch
        delta = ws.logits_t.T
        self.activation.derivative(ws.all_outputs, ws.all_slopes)
        helper = self.helper if self.helper is not None and self.helper.active else None
        for i in range(len(self.layers) - 1, -1, -1):
            h_in = x if i == 0 else ws.outputs[i - 1]
            if helper is not None and i > 0:
                # Its own product, in its own thread: the same bits (one BLAS thread each), sooner.
                helper.submit(functools.partial(self._layer_grads, i, h_in, delta, ws.ones))
            else:
                self._layer_grads(i, h_in, delta, ws.ones)
            if i > 0:
                below = ws.deltas[i - 1]
                np.dot(delta, self.weights[i].T, out=below)
                below *= ws.slopes[i - 1]
                delta = below
        self._backward = ws
        if helper is not None and (error := helper.wait()) is not None:
            raise error
        return loss

    def _layer_grads(self, i: int, h_in: Array, delta: Array, ones: Array) -> None:
        """The gradient of layer i's weights and bias from its input and its dL/dz."""
        np.dot(h_in.T, delta, out=self.weight_grads[i])
        bias_grad = self.bias_grads[i]
        if bias_grad is not None:
            # The sum over the batch as a product with ones: BLAS's gemv is 3× faster than np.sum.
            np.dot(ones, delta, out=bias_grad)

    def evaluate(self, x: Array, labels: NDArray[np.intp]) -> tuple[float, int]:
        """The summed cross-entropy over the rows of x and how many are classified correctly."""
        logits = self.forward(x)
        correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
        ws = self._workspace(len(x))
        return float(self._loss_terms(ws, labels).sum()), correct
