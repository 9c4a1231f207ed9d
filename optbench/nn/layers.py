"""The layers a network is made of, each with its forward and backward pass and its equations.

As in the book's `common/layers.py`, a layer is a small class: `forward` takes a batch (one example
per row) and gives the layer's output, `backward` takes ∂L/∂output and gives ∂L/∂input, writing the
gradients of the layer's parameters on the way. Two things differ, both for speed:

- A layer owns no parameter arrays. It declares their shapes (`param_shapes`, and `state_shapes` for
  what it keeps but does not train, such as running statistics); the network lays every layer's
  parameters end to end in one flat buffer, and their gradients in a second one, and hands each
  layer views of its part (`bind`). An optimizer then updates the whole network at once.
- A layer allocates its work arrays once per batch size and writes into them with `out=`, so a
  training step allocates almost nothing. What `forward` and `backward` return are those arrays:
  valid until the next call with a batch of the same size.

A new kind of layer is one subclass: its `forward`, its `backward_input` and, if it has parameters,
`param_shapes` and `backward_params`. `backward` is the two halves, parameters first; they are kept
apart so that the engine (`optbench.engine`) can compute a layer's parameter gradients on a second
core while this one passes the signal further down.
"""

from __future__ import annotations

import dataclasses
import functools
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from optbench.registry import Registry

Array = NDArray[Any]
Shapes = dict[str, tuple[int, ...]]
Views = Mapping[str, Array]


class Layer(ABC):
    """One stage of a network: `forward`, `backward`, and views of its parameters once bound.

    Subclasses are dataclasses whose fields are what the layer is (its sizes, its settings); work
    arrays and bound views are set up in `__post_init__`.
    """

    def __post_init__(self) -> None:
        self.params: dict[str, Array] = {}
        """This layer's parameters by name: views of the network's flat parameter buffer."""
        self.grads: dict[str, Array] = {}
        """Their gradients, views of the flat gradient buffer, written by `backward`."""
        self.state: dict[str, Array] = {}
        """What the layer keeps but does not train, views of the network's flat state buffer."""

    def param_shapes(self) -> Shapes:
        """The shapes of the trainable parameters, by name, in the order they sit in the buffer."""
        return {}

    def state_shapes(self) -> Shapes:
        """The shapes of the non-trainable state (carried in checkpoints), by name."""
        return {}

    def initialise(self) -> None:  # noqa: B027 (most layers start from zeros, as the buffers do)
        """Give the bound parameters and state their starting values (the buffers start at zero).
        Drawn weights are not set here: the network draws them from its generator, in layer order."""

    @property
    def penalised(self) -> bool:
        """Whether the layer adds a penalty to the training loss (`penalty`)."""
        return False

    def penalty(self) -> float:
        """What the layer adds to the training loss (a weight penalty); 0 by default."""
        return 0.0

    def generators(self) -> list[np.random.Generator]:
        """The random generators the layer draws from in training (dropout's masks): their states are
        part of a checkpoint, so that a resumed run draws what it would have drawn."""
        return []

    def bind(self, params: Views, grads: Views, state: Views) -> None:
        """Take views of the network's buffers, shaped as declared."""
        self.params, self.grads, self.state = dict(params), dict(grads), dict(state)

    @abstractmethod
    def forward(self, x: Array, train: bool) -> Array:
        """The output for the batch x; `train` tells a training pass from an evaluation."""

    def backward(self, dout: Array) -> Array:
        """From ∂L/∂output, write the parameters' gradients and return ∂L/∂input."""
        self.backward_params(dout)
        return self.backward_input(dout)

    def backward_params(self, dout: Array) -> None:  # noqa: B027 (a layer without parameters writes none)
        """Write the gradients of this layer's parameters from ∂L/∂output (none by default)."""

    @abstractmethod
    def backward_input(self, dout: Array) -> Array:
        """∂L/∂input from ∂L/∂output, for the layer below. May overwrite `dout`."""

    def fresh(self) -> Layer:
        """A layer of the same kind and shape, unbound and with work arrays of its own."""
        return dataclasses.replace(self)  # type: ignore[type-var]


@dataclass(eq=False)
class Affine(Layer):
    """A fully connected layer, y = x·W + b (without bias, y = x·W).

    W is n_in × n_out, b has n_out entries. From δ = ∂L/∂y:

        ∂L/∂W = xᵀ·δ        ∂L/∂b = Σ over the batch of δ = 1ᵀ·δ        ∂L/∂x = δ·Wᵀ

    `class_major`: the output is computed as yᵀ = Wᵀ·xᵀ + b into an (n_out × batch) array, and the
    (batch × n_out) view of it is returned. A network's last layer is built so: its loss then reduces
    over the classes along contiguous rows (`SoftmaxCrossEntropy`).

    `l2` = λ > 0 adds the book's weight penalty ½·λ·ΣW² (its `weight_decay_lambda`, chapter 6.4.2) to
    the training loss, and λW to ∂L/∂W: on the weights only, not the bias. (An optimizer's
    `weight_decay` is torch's instead, on every parameter.)
    """

    n_in: int
    n_out: int
    bias: bool = True
    class_major: bool = False
    l2: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self._outputs: dict[int, Array] = {}
        self._input_grads: dict[int, Array] = {}
        self._ones: dict[int, Array] = {}
        self._x: Array | None = None

    def param_shapes(self) -> Shapes:
        shapes: Shapes = {"W": (self.n_in, self.n_out)}
        if self.bias:
            shapes["b"] = (self.n_out,)
        return shapes

    def bind(self, params: Views, grads: Views, state: Views) -> None:
        super().bind(params, grads, state)
        # The views the passes use, as attributes: a step reads them a few dozen times.
        self.W, self.dW = self.params["W"], self.grads["W"]
        self.b, self.db = self.params.get("b"), self.grads.get("b")
        self._W_T = self.W.T
        self._b_column = None if self.b is None else self.b.reshape(-1, 1)
        """The bias as a column, added to a class-major output."""

    def forward(self, x: Array, train: bool) -> Array:
        self._x = x
        out = self._outputs.get(len(x))
        if out is None:
            shape = (self.n_out, len(x)) if self.class_major else (len(x), self.n_out)
            out = self._outputs[len(x)] = np.empty(shape, self.W.dtype)
        # np.dot, not np.matmul: the same BLAS call (checked bit for bit in the tests) for less
        # Python overhead, which adds up over the products of a training step.
        if self.class_major:
            np.dot(self._W_T, x.T, out=out)
            if self._b_column is not None:
                out += self._b_column
            out_t: Array = out.T
            return out_t
        np.dot(x, self.W, out=out)
        if self.b is not None:
            out += self.b
        return out

    @property
    def penalised(self) -> bool:
        return self.l2 != 0

    def penalty(self) -> float:
        w = self.W.reshape(-1)
        return 0.5 * self.l2 * float(np.dot(w, w))

    def backward_params(self, dout: Array) -> None:
        assert self._x is not None, "backward before forward"
        np.dot(self._x.T, dout, out=self.dW)
        if self.l2 != 0:
            self.dW += self.l2 * self.W
        if self.db is not None:
            # The sum over the batch as a product with ones: BLAS's gemv is 3× faster than np.sum.
            ones = self._ones.get(len(dout))
            if ones is None:
                ones = self._ones[len(dout)] = np.ones(len(dout), dout.dtype)
            np.dot(ones, dout, out=self.db)

    def backward_input(self, dout: Array) -> Array:
        dx = self._input_grads.get(len(dout))
        if dx is None:
            dx = self._input_grads[len(dout)] = np.empty((len(dout), self.n_in), dout.dtype)
        np.dot(dout, self._W_T, out=dx)
        return dx


# --------------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Activation(Layer):
    """An elementwise nonlinearity y = f(z), applied in place, its derivative taken from y.

    Backward: ∂L/∂z = ∂L/∂y ⊙ f'(z), with f'(z) expressed through y = f(z), so that only the output
    needs keeping. The output is the input's own array, overwritten. A training pass takes the
    derivative as soon as the output is written, while it is in cache and before the backward pass,
    which then only multiplies.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    bounds: ClassVar[tuple[float, float] | None] = None
    """The values the output saturates at, if any (for the fraction-saturated diagnostic)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.y: Array | None = None
        """The output of the last forward pass."""
        self.dz: Array | None = None
        """∂L/∂z of the last backward pass."""
        self._slope: Array | None = None
        """f'(z) of the last training pass (None after an evaluation)."""
        self._slopes: dict[int, Array] = {}

    def forward(self, x: Array, train: bool) -> Array:
        self.apply(x)
        self.y = x
        self._slope = None
        if train:
            slope = self._slopes.get(len(x))
            if slope is None:
                slope = self._slopes[len(x)] = np.empty_like(x)
            self.derivative(x, slope)
            self._slope = slope
        return x

    def backward(self, dout: Array) -> Array:
        return self.backward_input(dout)  # no parameters

    def backward_input(self, dout: Array) -> Array:
        assert self._slope is not None, "backward needs a training forward pass"
        dout *= self._slope
        self.dz = dout
        return dout

    @abstractmethod
    def apply(self, z: Array) -> None:
        """Overwrite z with f(z)."""

    @abstractmethod
    def derivative(self, y: Array, out: Array) -> None:
        """Write f'(z), computed from y = f(z), into `out` (shaped like y)."""


@dataclass(eq=False)
class Sigmoid(Activation):
    """σ(z) = 1 / (1 + e^(−z)), σ' = y(1 − y)."""

    name = "sigmoid"
    summary = "1/(1+exp(-z)), outputs in (0, 1)"
    bounds = (0.0, 1.0)

    def apply(self, z: Array) -> None:
        np.negative(z, out=z)
        with np.errstate(over="ignore"):  # e^(−z) = inf for very negative z gives σ = 0 exactly
            np.exp(z, out=z)
        z += 1
        np.reciprocal(z, out=z)

    def derivative(self, y: Array, out: Array) -> None:
        np.subtract(1, y, out=out)
        out *= y


@dataclass(eq=False)
class Tanh(Activation):
    """tanh(z), tanh' = 1 − y²."""

    name = "tanh"
    summary = "tanh(z), outputs in (-1, 1)"
    bounds = (-1.0, 1.0)

    def apply(self, z: Array) -> None:
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


@dataclass(eq=False)
class ReLU(Activation):
    """max(z, 0), with derivative 1 where y > 0 and 0 elsewhere (0 at z = 0, as PyTorch)."""

    name = "relu"
    summary = "max(z, 0)"

    def apply(self, z: Array) -> None:
        # Against an array of zeros rather than the scalar 0: NumPy vectorises maximum only for two
        # arrays, which makes it about 3× faster here.
        np.maximum(z, _zeros(z.shape, z.dtype), out=z)

    def derivative(self, y: Array, out: Array) -> None:
        np.greater(y, 0, out=out)


LEAKY_RELU_SLOPE = 0.01
"""The slope of leaky_relu for z < 0, as torch.nn.LeakyReLU's default."""


@dataclass(eq=False)
class LeakyReLU(Activation):
    """z for z > 0, a·z otherwise (a = LEAKY_RELU_SLOPE); derivative 1 or a."""

    name = "leaky_relu"
    summary = f"z if z > 0 else {LEAKY_RELU_SLOPE}*z"

    def apply(self, z: Array) -> None:
        np.maximum(z, LEAKY_RELU_SLOPE * z, out=z)

    def derivative(self, y: Array, out: Array) -> None:
        np.greater(y, 0, out=out)
        out *= 1 - LEAKY_RELU_SLOPE
        out += LEAKY_RELU_SLOPE


@dataclass(eq=False)
class Identity(Activation):
    """f(z) = z: a deep linear network."""

    name = "identity"
    summary = "z (no nonlinearity)"

    def apply(self, z: Array) -> None:
        pass

    def derivative(self, y: Array, out: Array) -> None:
        out.fill(1)


ACTIVATIONS: Registry[type[Activation]] = Registry("activation")
for _activation in (Sigmoid, Tanh, ReLU, LeakyReLU, Identity):
    ACTIVATIONS.register(_activation)
