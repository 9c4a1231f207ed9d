"""Fuzzing the config loader and override parser: any input is a config or a ConfigError, never a crash."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optbench.config import expand, load_experiment, parse_overrides
from optbench.errors import ConfigError

KNOWN_KEYS = [
    "experiment",
    "description",
    "task",
    "model",
    "optimizer",
    "train",
    "runs",
    "grid",
    "dataset",
    "function",
    "data_dir",
    "start",
    "hidden",
    "activation",
    "init",
    "output_init",
    "dtype",
    "name",
    "lr",
    "momentum",
    "betas",
    "eps",
    "nesterov",
    "dampening",
    "weight_decay",
    "schedule",
    "warmup_steps",
    "t_max",
    "gamma",
    "step_size",
    "clip_norm",
    "steps",
    "batch_size",
    "eval_every",
    "seed",
    "sampling",
    "std",
    "optimizer.lr",
    "train.seed",
    "optimizer.name",
    "model.init",
    "task.function",
]
KNOWN_NAMES = [
    "mnist",
    "book",
    "rosenbrock",
    "sgd",
    "adam",
    "adagrad",
    "relu",
    "sigmoid",
    "he",
    "normal",
    "cosine",
    "step",
    "float32",
    "float64",
    "epoch",
    "replacement",
    "zeros",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(KNOWN_NAMES),
    st.text(max_size=12),
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=8))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)
configs = st.dictionaries(keys, trees, max_size=7)


def check(raw: Any, overrides: list[tuple[str, Any]] | None = None) -> None:
    try:
        experiment = expand(raw, "fuzz.yaml", overrides or [])
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
    else:
        assert experiment.runs
        for run in experiment.runs:
            assert math.isfinite(run.optimizer.lr) and run.optimizer.lr > 0
            assert run.train.steps >= 1


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_any_tree_of_values_is_a_config_or_a_config_error(raw: dict[Any, Any]) -> None:
    check(raw)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=30),
            st.builds(
                lambda k, v: f"{k}={v}",
                st.sampled_from([*KNOWN_KEYS, "grid.train.seed", "grid.optimizer.lr"]),
                st.text(max_size=15),
            ),
        ),
        max_size=4,
    )
)
def test_any_override_strings_are_a_config_or_a_config_error(items: list[str]) -> None:
    base = {"experiment": "f", "task": {"function": "book"}, "optimizer": {"name": "sgd", "lr": 0.1}}
    pairs, problems = parse_overrides(items)
    try:
        expand(base, "fuzz.yaml", pairs, problems)
    except ConfigError as exc:
        assert exc.problems


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_any_file_text_is_a_config_or_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_experiment(path)
    except ConfigError as exc:
        assert exc.problems


@settings(max_examples=300, deadline=None)
@given(configs)
def test_any_tree_dumped_as_yaml_reads_back_the_same_way(raw: dict[Any, Any]) -> None:
    try:
        text = yaml.safe_dump(raw)
    except yaml.YAMLError:
        return
    check(yaml.safe_load(text))
