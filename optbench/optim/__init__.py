"""Optimizers and learning-rate schedules: pure NumPy, in place, no I/O.

Every optimizer updates one flat parameter buffer from one flat gradient buffer of the same shape,
with a few whole-array operations. Hyperparameters carry the names, defaults and meanings of the
`torch.optim` class of the same name, edge cases included, so a config written by a PyTorch user
means what they expect. Each class documents its update rule beside its code; in the equations g is
the gradient, θ the parameters, t the 1-based update count and η the learning rate the schedule
gives for update t.

The modules, one job each (callers import from this package, not from them):

- `base`: the `Optimizer` base class (clipping, schedule, update count, state), the `OPTIMIZERS`
  registry and gradient clipping;
- `schedules`: the learning-rate schedules and their registry, `SCHEDULES`;
- `inplace`: the in-place building blocks of the update rules, rounded as torch's primitives are;
- `sgd`: SGD, Momentum and Nesterov;
- `adaptive`: AdaGrad, RMSprop and Adadelta;
- `adam`: Adam, AdamW, NAdam, RAdam, Adamax and Lion.

A new optimizer is one class in the module of its family, registered in the list below.
"""

from optbench.optim.adam import Adam, Adamax, AdamW, Lion, NAdam, RAdam
from optbench.optim.adaptive import Adadelta, Adagrad, RMSprop
from optbench.optim.base import CLIP_EPS, OPTIMIZERS, Array, Optimizer, clip_by_global_norm
from optbench.optim.schedules import SCHEDULES, Constant, Cosine, ExponentialDecay, Schedule, StepDecay
from optbench.optim.sgd import SGD, Momentum, Nesterov

# Registered here, in one list, because this order is the order `optbench list` shows and every
# message naming the choices: the lecture's optimizers first.
for _optimizer in (
    SGD,
    Momentum,
    Nesterov,
    Adagrad,
    RMSprop,
    Adam,
    AdamW,
    NAdam,
    RAdam,
    Adadelta,
    Adamax,
    Lion,
):
    OPTIMIZERS.register(_optimizer)
del _optimizer

__all__ = [
    "CLIP_EPS",
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Array",
    "Constant",
    "Cosine",
    "ExponentialDecay",
    "Lion",
    "Momentum",
    "NAdam",
    "Nesterov",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Schedule",
    "StepDecay",
    "clip_by_global_norm",
]
