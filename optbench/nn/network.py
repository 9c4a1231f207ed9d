"""A network as a list of layers over one flat parameter buffer, and the MLP the experiments use.

`Network` lays the parameters of all its layers end to end in one contiguous 1-D buffer, in layer
order ([W1, b1, W2, b2, ...] for an MLP), their gradients in a second buffer of the same layout, and
what the layers keep without training it in a third, and binds each layer to its views. An optimizer
updates every parameter at once with a few whole-array operations; a checkpoint is the buffers.

The forward pass runs the layers in order and the loss after them; the backward pass runs the
loss's gradient back through the layers in reverse, each writing its parameters' gradients into the
flat gradient buffer. That loop is all there is: a new kind of layer is a new `Layer` class.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from optbench.init import Initializer
from optbench.nn.layers import Activation, Affine, Array, Layer, Shapes
from optbench.nn.loss import SoftmaxCrossEntropy


def _views(buffer: Array, offset: int, shapes: Shapes) -> tuple[dict[str, Array], int]:
    """Views of `buffer` from `offset` on, one per shape in order; and the offset after them."""
    views = {}
    for name, shape in shapes.items():
        size = math.prod(shape)
        views[name] = buffer[offset : offset + size].reshape(shape)
        offset += size
    return views, offset


class Network:
    """Layers applied in order, then softmax cross-entropy; parameters in one flat buffer.

    `params`, `grads` and `state` are the flat buffers; `layers[k].params` and friends are views of
    them. Inputs of another dtype are converted to the network's first.
    """

    def __init__(self, layers: Sequence[Layer], dtype: DTypeLike = np.float32) -> None:
        self.layers = list(layers)
        self.dtype = np.dtype(dtype)
        self.loss = SoftmaxCrossEntropy()
        sizes = [(layer.param_shapes(), layer.state_shapes()) for layer in self.layers]
        n_params = sum(math.prod(s) for params, _ in sizes for s in params.values())
        n_state = sum(math.prod(s) for _, state in sizes for s in state.values())
        self._bind(np.zeros(n_params, self.dtype), np.zeros(n_state, self.dtype))
        for layer in self.layers:
            layer.initialise()

    def _bind(self, params: Array, state: Array) -> None:
        """Take `params` and `state` as the buffers, with a fresh gradient buffer."""
        self.params: Array = params
        self.grads: Array = np.zeros_like(params)
        self.state: Array = state
        p = s = 0
        for layer in self.layers:
            shapes = layer.param_shapes()
            views, end = _views(self.params, p, shapes)
            grads, _ = _views(self.grads, p, shapes)
            state_views, s = _views(self.state, s, layer.state_shapes())
            layer.bind(views, grads, state_views)
            p = end
        self._penalised = [layer for layer in self.layers if layer.penalised]
        """The layers that add to the loss: none in the lecture's networks, so a step asks none."""

    def replica(self) -> Network:
        """A network of the same layers holding a copy of these buffers, with work arrays of its own:
        it can evaluate in another thread while this one trains."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        twin.layers = [layer.fresh() for layer in self.layers]
        twin.loss = SoftmaxCrossEntropy()
        twin._bind(self.params.copy(), self.state.copy())
        return twin

    def copy_from(self, other: Network) -> None:
        """Take the parameters and the state of `other`, a network of the same layers."""
        np.copyto(self.params, other.params)
        np.copyto(self.state, other.state)

    @property
    def generators(self) -> list[np.random.Generator]:
        """The generators the layers draw from in training, each once, in layer order."""
        found: list[np.random.Generator] = []
        for layer in self.layers:
            found += [g for g in layer.generators() if all(g is not seen for seen in found)]
        return found

    def random_state(self) -> list[dict[str, Any]]:
        """The states of `generators`: with the buffers, all a checkpoint needs of the network."""
        return [dict(g.bit_generator.state) for g in self.generators]

    def set_random_state(self, states: Sequence[Mapping[str, Any]]) -> None:
        generators = self.generators
        if len(states) != len(generators):
            raise ValueError(
                f"{len(states)} generator states for a network that draws from {len(generators)}"
            )
        for generator, state in zip(generators, states):
            generator.bit_generator.state = dict(state)

    def _input(self, x: Array) -> Array:
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    def forward(self, x: Array, train: bool = False) -> Array:
        """The logits for inputs x (batch × n_inputs), in an array reused by the next call of this
        batch size."""
        h = self._input(x)
        for layer in self.layers:
            h = layer.forward(h, train)
        return h

    def forward_loss(self, x: Array, labels: NDArray[np.intp]) -> float:
        """The training loss of the batch (the forward half of a step): its mean cross-entropy, plus
        what the layers add (a weight penalty)."""
        losses = self.loss.forward(self.forward(x, train=True), labels)
        # The sum divided by the count is what .mean() computes, bit for bit, without its Python layer.
        loss = float(losses.sum()) / len(x)
        if self._penalised:
            loss += sum(layer.penalty() for layer in self._penalised)
        return loss

    def backward(self) -> None:
        """Fill `grads` with the gradient of the loss of the last `forward_loss`.

        The first layer's input is the data: only its parameters' gradients are needed.
        """
        dout = self.loss.backward()
        for layer in reversed(self.layers[1:]):
            dout = layer.backward(dout)
        self.layers[0].backward_params(dout)

    def loss_and_grad(self, x: Array, labels: NDArray[np.intp]) -> float:
        """Mean cross-entropy of the batch; fills `grads` with its gradient."""
        loss = self.forward_loss(x, labels)
        self.backward()
        return loss

    def evaluate(self, x: Array, labels: NDArray[np.intp]) -> tuple[float, int]:
        """The summed cross-entropy over the rows of x and how many are classified correctly."""
        logits = self.forward(x)
        correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
        return float(self.loss.forward(logits, labels).sum()), correct

    @property
    def affine_layers(self) -> list[Affine]:
        return [layer for layer in self.layers if isinstance(layer, Affine)]

    @property
    def weights(self) -> list[Array]:
        """Each affine layer's weight matrix (n_in × n_out), a view of `params`."""
        return [layer.params["W"] for layer in self.affine_layers]

    @property
    def weight_grads(self) -> list[Array]:
        return [layer.grads["W"] for layer in self.affine_layers]

    @property
    def biases(self) -> list[Array | None]:
        return [layer.params.get("b") for layer in self.affine_layers]

    @property
    def bias_grads(self) -> list[Array | None]:
        return [layer.grads.get("b") for layer in self.affine_layers]

    @property
    def activations(self) -> list[Activation]:
        return [layer for layer in self.layers if isinstance(layer, Activation)]

    @property
    def hidden_outputs(self) -> list[Array]:
        """The output of each activation layer in the last forward pass."""
        outputs = [layer.y for layer in self.activations]
        if any(y is None for y in outputs):
            raise RuntimeError("no forward pass yet")
        return [y for y in outputs if y is not None]

    @property
    def hidden_deltas(self) -> list[Array]:
        """∂L/∂z for each activation layer's input z, from the last backward pass."""
        deltas = [layer.dz for layer in self.activations]
        if any(d is None for d in deltas):
            raise RuntimeError("no backward pass yet")
        return [d for d in deltas if d is not None]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.layers))}; {self.params.size} parameters)"


LayerKind = Callable[[int], Layer]
"""Makes a layer for a hidden layer of the given width (a `Layer` subclass itself, or a function)."""


class MLP(Network):
    """The lecture's multilayer perceptron: affine layers with one activation between them, a linear
    last layer and softmax cross-entropy.

    `sizes` = (n_inputs, hidden..., n_classes). Weights are drawn by `init` (the last layer by
    `output_init` if given), in layer order, biases start at zero; `bias=False` builds layers without
    bias, as the lecture's activation-distribution experiment does. Each hidden layer of width n is

        Affine → before_activation(n)... → activation → after_activation(n)...

    so that a layer kind (batch normalisation before the activation, dropout after it) is added to
    every hidden layer by naming it in one of the two lists. `l2` is the book's weight penalty λ on
    every affine layer's weights (`Affine`).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: type[Activation],
        init: Initializer,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
        output_init: Initializer | None = None,
        bias: bool = True,
        before_activation: Sequence[LayerKind] = (),
        after_activation: Sequence[LayerKind] = (),
        l2: float = 0.0,
    ) -> None:
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"an MLP needs at least an input and an output size, all >= 1; got {sizes}")
        self.sizes = tuple(int(n) for n in sizes)
        self.activation = activation
        last = len(self.sizes) - 2
        layers: list[Layer] = []
        for k, (n_in, n_out) in enumerate(itertools.pairwise(self.sizes)):
            layers.append(Affine(n_in, n_out, bias, class_major=k == last, l2=l2))
            if k < last:
                layers += [kind(n_out) for kind in before_activation]
                layers.append(activation())
                layers += [kind(n_out) for kind in after_activation]
        super().__init__(layers, dtype)
        for k, affine in enumerate(self.affine_layers):
            draw = output_init if (k == last and output_init is not None) else init
            affine.params["W"][...] = draw(rng, affine.n_in, affine.n_out, self.dtype)

    def __repr__(self) -> str:
        shape = "-".join(map(str, self.sizes))
        return f"MLP({shape}, {self.activation.name}, {self.dtype}, {self.params.size} parameters)"
