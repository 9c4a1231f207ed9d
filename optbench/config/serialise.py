"""Resolved configs as plain data: what config.yaml holds, and run ids."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from optbench.hparams import hyperparameters

if TYPE_CHECKING:
    from optbench.config.schema import RunConfig


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _plain_entry(value: Any) -> Any:
    """A config value as plain data: a built registry entry (an initialiser) as `named_dict` gives it."""
    if dataclasses.is_dataclass(value) and hasattr(value, "name"):
        return named_dict(value)
    return _plain(value)


def named_dict(obj: Any) -> dict[str, Any]:
    """A built registry entry (an initialiser, a schedule) as a config names it: its name, then every
    hyperparameter, defaults included, as plain data."""
    return {"name": obj.name, **{p.name: _plain(getattr(obj, p.name)) for p in hyperparameters(type(obj))}}


def to_dict(run: RunConfig) -> dict[str, Any]:
    """The resolved run as plain data, every default spelled out: what config.yaml holds."""
    task = (
        {"function": run.task.function, "start": _plain(run.task.start)}
        if run.task.kind == "function"
        else {
            "dataset": run.task.dataset,
            "data_dir": run.task.data_dir,
            "validation": run.task.validation,
            "split_seed": run.task.split_seed,
            "train_size": run.task.train_size,
        }
    )
    out: dict[str, Any] = {"experiment": run.experiment, "task": task}
    if run.model is not None:
        # Every declared key of the model section, in declaration order: a new key is written too.
        out["model"] = {
            p.name: _plain_entry(getattr(run.model, p.name)) for p in hyperparameters(type(run.model))
        }
        batch_norm = run.model.batch_norm
        out["model"]["batch_norm"] = False if batch_norm is None else dataclasses.asdict(batch_norm)
    opt = run.optimizer
    out["optimizer"] = {
        "name": opt.name,
        **{k: _plain(v) for k, v in opt.hyper.items()},
        "schedule": named_dict(opt.schedule),
        "clip_norm": opt.clip_norm,
    }
    train = dataclasses.asdict(run.train)
    if run.task.kind == "function":
        train = {"steps": run.train.steps, "seed": run.train.seed}
    out["train"] = train
    return out


def to_yaml(run: RunConfig) -> str:
    return yaml.safe_dump(to_dict(run), sort_keys=False, default_flow_style=None, width=110)


UNHASHED = ("checkpoint_every", "keep_checkpoint")
"""Train settings that change no number of the run: left out of its id, so changing them reruns nothing."""

OFF = {
    ("task", "train_size"): None,
    ("model", "batch_norm"): False,
    ("model", "dropout"): 0.0,
    ("model", "inverted_dropout"): True,
    ("model", "l2"): 0.0,
    ("train", "epochs"): None,
}
"""Settings added after runs were first recorded, at the value that turns them off: left out of the
id then, so that a run that does not use them keeps the id (and the results folder) it always had."""


def run_id(run: RunConfig) -> str:
    """A readable, stable id: the main choices, then a hash of the whole resolved config.

    The hash covers every value that can change the numbers (not the experiment's name), so the same
    resolved config always gets the same id, and two runs that differ anywhere never share one.
    """
    data = to_dict(run)
    del data["experiment"]
    for key in UNHASHED:
        data["train"].pop(key, None)
    for (section, key), off in OFF.items():
        if section in data and key in data[section] and data[section][key] == off:
            del data[section][key]
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]
    parts = [run.optimizer.name, f"lr{run.optimizer.lr:g}"]
    if run.model is not None:
        init = run.model.init
        std = getattr(init, "std", None)
        parts += [f"{init.name}{std:g}" if isinstance(std, float) else init.name, run.model.activation]
    parts.append(f"s{run.train.seed}")
    if run.model is not None and (run.train.init_seed, run.train.data_seed) != (run.train.seed,) * 2:
        parts.append(f"i{run.train.init_seed}d{run.train.data_seed}")
    return "-".join(parts) + "-" + digest
