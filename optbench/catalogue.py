"""What a config can name, read from the registries: the text of `optbench list`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optbench.data import DATASETS
from optbench.functions import FUNCTIONS
from optbench.hparams import HyperParam, describe_default, hyperparameters
from optbench.init import INITIALIZERS
from optbench.nn import ACTIVATIONS
from optbench.optim import OPTIMIZERS, SCHEDULES


def _hyper_lines(params: Sequence[HyperParam], indent: str) -> list[str]:
    width = max((len(p.name) + len(describe_default(p.default)) for p in params), default=0) + 1
    return [f"{indent}{(p.name + '=' + describe_default(p.default)).ljust(width)}  {p.doc}" for p in params]


def _entries(title: str, registry: Mapping[str, Any], with_hyper: bool) -> str:
    width = max(len(name) for name in registry)
    lines = [f"{title}:"]
    for name, entry in registry.items():
        lines.append(f"  {name.ljust(width)}  {entry.summary}")
        if with_hyper:
            lines += _hyper_lines(
                hyperparameters(entry if isinstance(entry, type) else type(entry)), " " * (width + 6)
            )
    return "\n".join(lines) + "\n"


def describe(family: str) -> str:
    """The `optbench list FAMILY` text: every name, a one-line summary, hyperparameters and defaults."""
    if family == "optimizers":
        return _entries("optimizers (optimizer.name; hyperparameters as in torch.optim)", OPTIMIZERS, True)
    if family == "schedules":
        return _entries("schedules (optimizer.schedule)", SCHEDULES, True)
    if family == "inits":
        return _entries("initialisers (model.init)", INITIALIZERS, True)
    if family == "activations":
        return _entries("activations (model.activation)", ACTIVATIONS, False)
    if family == "functions":
        width = max(len(name) for name in FUNCTIONS)
        lines = ["functions (task.function):"]
        for name, f in FUNCTIONS.items():
            start = f"start ({f.start[0]:g}, {f.start[1]:g})"
            lines.append(f"  {name.ljust(width)}  {f.formula}  [{start}]")
        return "\n".join(lines) + "\n"
    if family == "datasets":
        return _entries(
            "datasets (task.dataset; task.data_dir for any folder in MNIST layout)", DATASETS, False
        )
    raise ValueError(f"unknown family {family!r}")
