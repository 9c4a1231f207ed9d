"""Configs: strict YAML loading, KEY=VALUE overrides, runs/grid expansion, and validation.

A config file describes one experiment; loading it gives fully resolved, validated runs or a
`ConfigError` listing every problem, one `FILE: key.path: message` line each.

The public face, imported from `optbench.config` (never from its modules):
- loading: `load_experiment`, `expand`, `load_activations`, `load_suite`, `load_tune`, `validate_run`,
  `differing_keys`,
  `parse_overrides`, `parse_yaml`;
- the schema: `RunConfig` (with `TaskConfig`, `ModelConfig`, `OptimizerConfig`, `TrainConfig`),
  `Experiment`, `ActivationsConfig`, `ActivationCase`, `Suite` and `LoadedSuite`, `Study`, `TuneSpec`,
  `SearchSpace` and `Dimension` (a tuning study);
- resolved configs as plain data: `to_dict`, `to_yaml`, `run_id`, `activations_to_yaml`;
- configs as text: `runs_table`, `cases_table`, `suite_table`, `plugins_note` (what `--dry-run` prints)
  and `show` (the resolved YAML of `optbench config show`);
- the kind of a config file and the command that runs it: `kind_of`, `command_for`;
- every config key with its type, default and meaning: `ConfigKey`, `experiment_keys`, `tune_keys`,
  `activations_keys`, `completion_keys` (module `keys`);
- the example configs shipped in the package: module `templates` (`names`, `describe`, `write`);
- problem wording: `edit_distance`, `did_you_mean`.

The modules, one job each: `yaml_text` (strict YAML), `schema` (the sections as frozen dataclasses),
`fields` (converting raw values against declared fields, collecting problems), `overrides` (merging
raw dicts, KEY=VALUE), `reading` (reading a config file; where each value was written), `validation`
(one resolved run), `expansion` (an experiment: runs x grid), `serialise` (resolved configs as plain
data, run ids), `activations`, `tune` and `suites` (the other kinds of config), `kinds` (which kind
a file is), `keys` (every settable key), `display` (configs as terminal text) and `templates`.
"""

from optbench.config import templates
from optbench.config.activations import (
    ActivationCase,
    ActivationsConfig,
    activations_to_yaml,
    load_activations,
)
from optbench.config.display import cases_table, plugins_note, runs_table, show, suite_table
from optbench.config.expansion import differing_keys, expand, load_experiment
from optbench.config.fields import did_you_mean, edit_distance
from optbench.config.keys import ConfigKey, activations_keys, completion_keys, experiment_keys, tune_keys
from optbench.config.kinds import command_for, kind_of
from optbench.config.overrides import parse_overrides
from optbench.config.schema import (
    Experiment,
    ModelConfig,
    OptimizerConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
)
from optbench.config.serialise import PLUGINS_KEY, run_id, to_dict, to_yaml
from optbench.config.suites import LoadedSuite, Suite, load_suite
from optbench.config.tune import Dimension, SearchSpace, Study, TuneSpec, load_tune
from optbench.config.validation import validate_run
from optbench.config.yaml_text import parse_yaml

__all__ = [
    "PLUGINS_KEY",
    "ActivationCase",
    "ActivationsConfig",
    "ConfigKey",
    "Dimension",
    "Experiment",
    "LoadedSuite",
    "ModelConfig",
    "OptimizerConfig",
    "RunConfig",
    "SearchSpace",
    "Study",
    "Suite",
    "TaskConfig",
    "TrainConfig",
    "TuneSpec",
    "activations_keys",
    "activations_to_yaml",
    "cases_table",
    "command_for",
    "completion_keys",
    "did_you_mean",
    "differing_keys",
    "edit_distance",
    "expand",
    "experiment_keys",
    "kind_of",
    "load_activations",
    "load_experiment",
    "load_suite",
    "load_tune",
    "parse_overrides",
    "parse_yaml",
    "plugins_note",
    "run_id",
    "runs_table",
    "show",
    "suite_table",
    "templates",
    "to_dict",
    "to_yaml",
    "tune_keys",
    "validate_run",
]
