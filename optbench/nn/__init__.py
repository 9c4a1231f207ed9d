"""Neural networks as lists of layers: the layers, the loss, and the network over one flat buffer.

Modules: `layers` (the `Layer` interface, `Affine`, the activations and their registry), `loss`
(softmax cross-entropy), `network` (`Network`, and `MLP`, the lecture's multilayer perceptron).
Callers import from `optbench.nn`.
"""

from optbench.nn.layers import (
    ACTIVATIONS,
    LEAKY_RELU_SLOPE,
    Activation,
    Affine,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
)
from optbench.nn.loss import SoftmaxCrossEntropy, softmax_cross_entropy
from optbench.nn.network import MLP, LayerKind, Network

__all__ = [
    "ACTIVATIONS",
    "LEAKY_RELU_SLOPE",
    "MLP",
    "Activation",
    "Affine",
    "Identity",
    "Layer",
    "LayerKind",
    "LeakyReLU",
    "Network",
    "ReLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "softmax_cross_entropy",
]
