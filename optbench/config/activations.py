"""The config of the activation-distribution experiment (`optbench activations`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from optbench.config.fields import (
    Problems,
    build_named,
    check_keys,
    convert_fields,
    describe_value,
    unknown_name,
)
from optbench.config.kinds import refuse_other_kind
from optbench.config.overrides import COMMAND_LINE, merge, nested_patch
from optbench.config.reading import Origin, Where, read_config
from optbench.config.serialise import named_dict
from optbench.data import DATASETS
from optbench.errors import ConfigError
from optbench.files import is_safe_name
from optbench.hparams import AT_LEAST_ONE, NON_NEGATIVE, hyper, hyperparameters
from optbench.init import INITIALIZERS, Initializer
from optbench.nn import ACTIVATIONS

INPUTS = ("normal", "mnist")


@dataclass(frozen=True)
class ActivationCase:
    """One network of the experiment: an initialiser and an activation, and whether batch
    normalisation (the book's defaults, in training mode: over the case's N inputs) comes between
    each layer's product and its activation."""

    init: Initializer
    activation: str
    batch_norm: bool = False

    @property
    def label(self) -> str:
        std = getattr(self.init, "std", None)
        init = f"std={std:g}" if isinstance(std, float) else self.init.name
        return f"{init} + {'batch norm + ' if self.batch_norm else ''}{self.activation}"


@dataclass(frozen=True)
class ActivationsConfig:
    """`optbench activations`: histograms of each layer's outputs for several (init, activation) cases."""

    experiment: str
    description: str = hyper("", "what the experiment shows, for the report")
    input: str = hyper("normal", "normal: N×D standard normal input; mnist: N MNIST training images")
    samples: int = hyper(1000, "rows of input N", AT_LEAST_ONE)
    features: int = hyper(100, "input dimension D of the normal input (MNIST has 784)", AT_LEAST_ONE)
    layers: int = hyper(5, "hidden layers L", AT_LEAST_ONE)
    nodes: int = hyper(100, "units per hidden layer H", AT_LEAST_ONE)
    bins: int = hyper(30, "histogram bins per layer", AT_LEAST_ONE)
    readout_classes: int = hyper(
        10, "classes of the linear read-out whose cross-entropy gives the gradients", AT_LEAST_ONE
    )
    seed: int = hyper(0, "seed of the input and the weights", NON_NEGATIVE)
    data_dir: str | None = hyper(None, "folder of MNIST-layout files for input: mnist (default: the cache)")
    cases: tuple[ActivationCase, ...] = ()


ACTIVATIONS_KEYS = ("experiment", *(p.name for p in hyperparameters(ActivationsConfig)), "cases")


def load_activations(path: Path, overrides: Sequence[str] = ()) -> ActivationsConfig:
    """Read and validate an activations config (with overrides); raise ConfigError listing every problem."""
    raw, pairs, found = read_config(path, overrides)
    refuse_other_kind(raw, path, overrides, "activations", "an activations config")
    source = str(path)
    lines = list(found)
    origin = Origin(source, raw)
    for key, value in pairs:
        raw = merge(raw, nested_patch([(key, value)]))
        origin.mark({key: value}, Where(f"{COMMAND_LINE}: {key}", inline=False))
    problems = Problems()
    check_keys(raw, ACTIVATIONS_KEYS, "", problems)
    experiment = raw.get("experiment")
    if not isinstance(experiment, str) or not is_safe_name(experiment):
        problems.add("experiment", f"must be a simple folder name, got {describe_value(experiment)}")
    values = convert_fields(raw, "", problems, hyperparameters(ActivationsConfig))
    if values.get("input") is not None and values["input"] not in INPUTS:
        problems.add("input", unknown_name(values["input"], INPUTS, "input"))
    classes = DATASETS["mnist"].classes
    if values.get("input") == "mnist" and values.get("readout_classes", classes) != classes:
        problems.add("readout_classes", f"MNIST input has {classes} classes, got {values['readout_classes']}")
    cases = []
    raw_cases = raw.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        problems.add(
            "cases",
            f"must be a non-empty list of {{init: ..., activation: ...}}, got {describe_value(raw_cases)}",
        )
        raw_cases = []
    for i, case in enumerate(raw_cases):
        path_i = f"cases[{i}]"
        if not isinstance(case, dict):
            problems.add(path_i, f"must be a mapping with init and activation, got {describe_value(case)}")
            continue
        check_keys(case, ("init", "activation", "batch_norm"), path_i, problems)
        batch_norm = case.get("batch_norm", False)
        if not isinstance(batch_norm, bool):
            problems.add(f"{path_i}.batch_norm", f"must be true or false, got {describe_value(batch_norm)}")
        init, _ = build_named(case.get("init"), f"{path_i}.init", INITIALIZERS, "initialiser", problems)
        activation = case.get("activation")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            what = (
                unknown_name(activation, list(ACTIVATIONS), "activation")
                if isinstance(activation, str)
                else (f"must name an activation, got {describe_value(activation)}")
            )
            problems.add(f"{path_i}.activation", what)
        elif init is not None:
            cases.append(ActivationCase(init, activation, batch_norm is True))
    for key_path, message in problems.items:
        lines.append(f"{origin.locate(key_path)}: {message}")
    if lines:
        raise ConfigError(lines)
    assert isinstance(experiment, str)
    return ActivationsConfig(experiment=experiment, cases=tuple(cases), **values)


def activations_to_yaml(cfg: ActivationsConfig) -> str:
    """The resolved activations config, every default spelled out."""
    data: dict[str, Any] = {"experiment": cfg.experiment}
    data.update({p.name: getattr(cfg, p.name) for p in hyperparameters(ActivationsConfig)})
    # batch_norm is written only where it is on, so that the configs of cases without it read as before
    data["cases"] = [
        {
            "init": named_dict(c.init),
            "activation": c.activation,
            **({"batch_norm": True} if c.batch_norm else {}),
        }
        for c in cfg.cases
    ]
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)
