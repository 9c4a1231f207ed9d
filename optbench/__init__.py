"""optbench: experiments on neural-network optimizers and weight initialisation.

The public API: what users extend, importable from `optbench` itself. Everything else (every module
and name below the package) is internal and may change between versions.

- `Optimizer`: an update rule over one flat parameter buffer. A subclass is a `@dataclass` with a
  `name`, a one-line `summary`, the names of its state buffers in `state_names`, its hyperparameters
  as `hyper(...)` fields, and `update(self, params, grads, lr) -> float`, applied in place.
- `hyper(default, doc, bounds)`: a hyperparameter field; `Bounds` its allowed interval, with the
  common ones `POSITIVE`, `NON_NEGATIVE`, `UNIT_INTERVAL` and `UNIT_INTERVAL_OPEN_TOP`.
- `Schedule`: a learning-rate schedule (`decay(k, lr)`), declared the same way.
- `Initializer`: how an affine layer's first weights are drawn (`scale(n_in, n_out)`).
- `Objective`: a 2-D test function with its gradient, minima, start and plot box.
- `Layer`: a kind of network layer (`forward`, `backward`, parameters as views of one flat buffer).

The names load on first use, so `import optbench` stays light (it imports no NumPy: the BLAS setting
below must come first).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# One BLAS thread per process: matrix products then sum in the same order whether a run executes in
# the main process or in one of N workers, so results do not depend on --jobs. The variables only take
# effect if they are set before NumPy is first imported; a user who sets them keeps their choice. Runs
# also hold BLAS to one thread where they execute (optbench/threads.py), for scripts that imported
# NumPy first.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"

_HOMES = {
    "Optimizer": "optbench.optim",
    "Schedule": "optbench.optim",
    "hyper": "optbench.hparams",
    "Bounds": "optbench.hparams",
    "POSITIVE": "optbench.hparams",
    "NON_NEGATIVE": "optbench.hparams",
    "UNIT_INTERVAL": "optbench.hparams",
    "UNIT_INTERVAL_OPEN_TOP": "optbench.hparams",
    "Initializer": "optbench.init",
    "Objective": "optbench.functions",
    "Layer": "optbench.nn",
}
"""Each public name and the module it lives in."""

__all__ = [
    "NON_NEGATIVE",
    "POSITIVE",
    "UNIT_INTERVAL",
    "UNIT_INTERVAL_OPEN_TOP",
    "Bounds",
    "Initializer",
    "Layer",
    "Objective",
    "Optimizer",
    "Schedule",
    "__version__",
    "hyper",
]

if TYPE_CHECKING:
    from optbench.functions import Objective
    from optbench.hparams import NON_NEGATIVE, POSITIVE, UNIT_INTERVAL, UNIT_INTERVAL_OPEN_TOP, Bounds, hyper
    from optbench.init import Initializer
    from optbench.nn import Layer
    from optbench.optim import Optimizer, Schedule


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'optbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
