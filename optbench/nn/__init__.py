"""Neural networks as lists of layers: the layers, the loss, and the network over one flat buffer.

Modules: `layers` (the `Layer` interface, `Affine`, the activations and their registry),
`batchnorm` (`BatchNorm`), `dropout` (`Dropout`), `loss` (softmax cross-entropy), `network`
(`Network`, and `MLP`, the lecture's multilayer perceptron).
Callers import from `optbench.nn`.
"""

from optbench.nn.batchnorm import BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, BatchNorm
from optbench.nn.dropout import Dropout
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
    "BATCH_NORM_EPS",
    "BATCH_NORM_MOMENTUM",
    "LEAKY_RELU_SLOPE",
    "MLP",
    "Activation",
    "Affine",
    "BatchNorm",
    "Dropout",
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
