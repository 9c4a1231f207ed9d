"""Weight initialisers: how the first weights of an affine layer are drawn.

Each initialiser gives a standard deviation for a layer of n_in inputs and n_out outputs, and draws
from a normal distribution or, for the `_uniform` variants, from the uniform distribution with the
same variance, U(−a, a) with a = √3·std. Draws are made in float64 and then rounded to the model's
dtype, so a float32 and a float64 model built from the same seed start from the same weights.
Biases always start at zero (see nn.py).

The lecture's "Xavier" is std = √(1/n_in); Glorot & Bengio (2010)'s original is √(2/(n_in + n_out)).
Both are offered, under the names `xavier` and `glorot`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import DTypeLike, NDArray

from optbench.hparams import NON_NEGATIVE, hyper
from optbench.registry import Registry

UNIFORM_HALF_WIDTH = math.sqrt(3.0)
"""U(−a, a) has variance a²/3, so a = √3·std gives the variance of N(0, std²)."""


@dataclass(frozen=True)
class Initializer(ABC):
    """Draws an (n_in, n_out) weight matrix."""

    name: ClassVar[str]
    summary: ClassVar[str]
    uniform: ClassVar[bool] = False

    @abstractmethod
    def scale(self, n_in: int, n_out: int) -> float:
        """The standard deviation of each weight."""

    def __call__(self, rng: np.random.Generator, n_in: int, n_out: int, dtype: DTypeLike) -> NDArray[Any]:
        std = self.scale(n_in, n_out)
        if self.uniform:
            a = UNIFORM_HALF_WIDTH * std
            w = rng.uniform(-a, a, size=(n_in, n_out))
        else:
            w = rng.standard_normal((n_in, n_out)) * std
        return w.astype(dtype)


INITIALIZERS: Registry[type[Initializer]] = Registry("initialiser")


@INITIALIZERS.register
@dataclass(frozen=True)
class Normal(Initializer):
    """N(0, std²) with a fixed std, as the lecture's std=1 and std=0.01 experiments."""

    name = "normal"
    summary = "normal with a fixed std"

    std: float = hyper(0.01, "standard deviation of each weight", NON_NEGATIVE)

    def scale(self, n_in: int, n_out: int) -> float:
        return self.std


@INITIALIZERS.register
@dataclass(frozen=True)
class Uniform(Normal):
    """U(−√3·std, √3·std): a fixed std, uniformly distributed."""

    name = "uniform"
    summary = "uniform with a fixed std"
    uniform = True


@INITIALIZERS.register
@dataclass(frozen=True)
class Zeros(Initializer):
    """All weights zero: every unit of a layer starts identical (the zero-init study)."""

    name = "zeros"
    summary = "all weights zero"

    def scale(self, n_in: int, n_out: int) -> float:
        return 0.0

    def __call__(self, rng: np.random.Generator, n_in: int, n_out: int, dtype: DTypeLike) -> NDArray[Any]:
        return np.zeros((n_in, n_out), dtype=dtype)


@dataclass(frozen=True)
class Xavier(Initializer):
    """std = √(1/n_in): the lecture's "Xavier", keeping the variance of a linear layer's output."""

    name = "xavier"
    std_text: ClassVar[str] = "std sqrt(1/n_in)"
    summary = f"{std_text} (the lecture's Xavier)"

    def scale(self, n_in: int, n_out: int) -> float:
        return math.sqrt(1.0 / n_in)


@dataclass(frozen=True)
class Glorot(Initializer):
    """std = √(2/(n_in + n_out)): Glorot & Bengio (2010), "Understanding the difficulty of training
    deep feedforward neural networks", eq. 16, averaging the forward and backward conditions; its
    uniform variant has their bound √(6/(n_in + n_out))."""

    name = "glorot"
    std_text: ClassVar[str] = "std sqrt(2/(n_in+n_out))"
    summary = f"{std_text} (Glorot & Bengio 2010)"

    def scale(self, n_in: int, n_out: int) -> float:
        return math.sqrt(2.0 / (n_in + n_out))


@dataclass(frozen=True)
class He(Initializer):
    """std = √(2/n_in): He et al. (2015), "Delving Deep into Rectifiers", for ReLU layers."""

    name = "he"
    std_text: ClassVar[str] = "std sqrt(2/n_in)"
    summary = f"{std_text} (He et al. 2015)"

    def scale(self, n_in: int, n_out: int) -> float:
        return math.sqrt(2.0 / n_in)


def uniform_variant(base: type[Xavier | Glorot | He]) -> type[Initializer]:
    """`<name>_uniform`: the std of `base`, drawn from the uniform distribution of that variance."""
    namespace = {
        "name": f"{base.name}_uniform",
        "summary": f"uniform, {base.std_text}",
        "uniform": True,
        "__doc__": f"Uniform with the std of `{base.name}`.",
    }
    variant: type[Initializer] = dataclass(frozen=True)(type(f"{base.__name__}Uniform", (base,), namespace))
    return variant


for _entry in (Xavier, uniform_variant(Xavier), Glorot, uniform_variant(Glorot), He, uniform_variant(He)):
    INITIALIZERS.register(_entry)
del _entry


def build_initializer(name: str, values: dict[str, Any] | None = None) -> Initializer:
    """The initialiser `name` with the given hyperparameters (`std` for normal and uniform)."""
    cls = INITIALIZERS[name]
    return cls(**(values or {}))
