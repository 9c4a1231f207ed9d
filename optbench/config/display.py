"""Configs as text for the terminal: the runs `--dry-run` prints, the resolved YAML of `config show`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from optbench import plugins
from optbench.config.activations import ActivationsConfig, activations_to_yaml, load_activations
from optbench.config.expansion import load_experiment
from optbench.config.kinds import kind_of
from optbench.config.plugins import named_in
from optbench.config.reading import read_config
from optbench.config.schema import Experiment, RunConfig
from optbench.config.serialise import named_dict, to_dict
from optbench.config.suites import LoadedSuite
from optbench.config.tune import Study, load_tune
from optbench.errors import ConfigError
from optbench.plain import value_at
from optbench.text import format_value, plural, text_table


def _cell(config: dict[str, Any], key: str) -> str:
    """A varied value as a table cell: empty where the run has no such key (or it is null)."""
    value = value_at(config, key)
    return "" if value is None else format_value(value)


Loaded = Experiment | ActivationsConfig | Study | LoadedSuite
"""What a command loads from its config: the plugins it names are listed by its dry run."""


def plugins_note(loaded: Loaded) -> str:
    """What a dry run adds when the config names plugins: the code each one loads, and that it runs
    as Python code in this command and in every worker (empty when no plugin is named)."""
    lines = []
    for family, code in dict.fromkeys(_plugins_in(loaded)):
        what = family.removesuffix("s").replace("initializer", "initialiser")
        if code.kind == "file":
            assert code.sha256 is not None
            lines.append(f"plugin {what} {code.spec}: the file's Python code (sha256 {code.sha256[:12]})")
        else:
            source = f"{code.distribution} {code.version}" if code.distribution else "no distribution"
            lines.append(f"plugin {what} {code.spec}: {code.kind} of {source}")
    if not lines:
        return ""
    whose = "its" if len(lines) == 1 else "their"
    trust = f"{whose} code runs here and in every worker as any Python module does: name only code you trust"
    return "\n".join(lines) + f"\n{plural(len(lines), 'plugin')} loaded; {trust}\n"


def _plugins_in(loaded: Loaded) -> list[tuple[str, plugins.PluginCode]]:
    """(family, code) of the plugins `loaded` names, in the order named, repeats included."""
    if isinstance(loaded, Experiment):
        return [used for run in loaded.runs for used in run.plugins]
    if isinstance(loaded, LoadedSuite):
        parts: list[Loaded] = [*loaded.experiments, *loaded.activations, *loaded.studies]
        return [used for part in parts for used in _plugins_in(part)]
    if isinstance(loaded, ActivationsConfig):
        named = [("initializers", case.init.name) for case in loaded.cases]
    else:
        named = [("optimizers", space.optimizer) for space in loaded.spec.spaces] + named_in(loaded.base)
    codes = [(family, plugins.installed(family, name)) for family, name in named]
    return [(family, code) for family, code in codes if code is not None]


def runs_table(exp: Experiment) -> str:
    """The resolved runs of a config (what --dry-run prints): run id and each varied value, then a count."""
    header = ["run_id", *exp.varied]
    rows = []
    for run in exp.runs:
        config = to_dict(run)
        rows.append([run.run_id, *(_cell(config, k) for k in exp.varied)])
    return text_table(header, rows) + plural(len(exp.runs), "run") + "\n"


def cases_table(cfg: ActivationsConfig) -> str:
    """The cases of an activations config (what `activations --dry-run` prints), then what each computes."""
    rows = [[c.label, format_value(named_dict(c.init)), c.activation] for c in cfg.cases]
    source = (
        f"{cfg.samples} MNIST images"
        if cfg.input == "mnist"
        else f"{cfg.samples}×{cfg.features} normal input"
    )
    return (
        text_table(["case", "init", "activation"], rows)
        + f"{plural(len(cfg.cases), 'case')}: {source} through {cfg.layers} layers of {cfg.nodes} units\n"
    )


def suite_table(loaded: LoadedSuite) -> str:
    """What `suite --dry-run` prints: each experiment of the suite, its config and how much it runs."""
    rows = []
    for exp in loaded.experiments:
        rows.append(["compare", exp.name, exp.source, plural(len(exp.runs), "run")])
    for cfg, entry in zip(loaded.activations, loaded.suite.activations):
        rows.append(["activations", cfg.experiment, str(entry.path), plural(len(cfg.cases), "case")])
    for study in loaded.studies:
        spec = study.spec
        trials = f"{plural(spec.budget, 'trial')} × {plural(len(spec.spaces), 'optimizer')}"
        finals = f", then {plural(spec.final_seeds, 'final seed')} each" if spec.final_seeds else ""
        rows.append(["tune", study.name, study.source, trials + finals])
    total = sum(len(exp.runs) for exp in loaded.experiments)
    distinct = len({run.run_id for exp in loaded.experiments for run in exp.runs})
    shared = f", {distinct} trained (a run two of them share trains once)" if distinct < total else ""
    return (
        text_table(["kind", "experiment", "config", "runs"], rows)
        + f"{plural(len(rows), 'experiment')}; the compare experiments run {plural(total, 'run')} as one "
        f"sweep{shared}\n"
    )


class _Dumper(yaml.SafeDumper):
    """Sections in block style, one key a line; lists of plain values inline, as a config writes them."""

    def represent_list(self, data: Any) -> yaml.SequenceNode:
        flow = all(not isinstance(item, (dict, list)) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    def represent_text(self, data: str) -> yaml.ScalarNode:
        """A string of several lines (a plugin file's text) as a literal block, as the file reads."""
        return self.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(list, _Dumper.represent_list)
_Dumper.add_representer(str, _Dumper.represent_text)


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True
    )


def _run_document(run: RunConfig, description: str, extra: dict[str, Any]) -> dict[str, Any]:
    data = to_dict(run)
    return {"experiment": data.pop("experiment"), "description": description.strip(), **data, **extra}


def _documents(
    source: Path, runs: Sequence[RunConfig], labels: Sequence[str], every: bool, docs: Any, noun: str = "run"
) -> str:
    shown = range(len(runs)) if every else range(1)
    parts = [f"# {source}: {labels[i]}\n" + _dump(docs(runs[i])) for i in shown]
    text = "---\n".join(parts)
    if not every and len(runs) > 1:
        text += f"# and {plural(len(runs) - 1, 'more ' + noun)}: --all shows every one\n"
    return text


def show(path: Path, overrides: Sequence[str] = (), every: bool = False) -> str:
    """The resolved config of a file as YAML, every default spelled out (`optbench config show`).

    An experiment: its first run (the one `train` runs), or every run with `every`, one YAML document
    each. A tuning study: trial 0 (the defaults) of its first optimizer, or of each, with the `tune:`
    section. An activations config: itself. ConfigError for a suite, and for any invalid config.
    """
    raw, _, _ = read_config(path, overrides)
    kind = kind_of(raw)
    if kind == "activations":
        return activations_to_yaml(load_activations(path, overrides))
    if kind == "tune":
        study = load_tune(path, overrides)
        return _study_documents(path, study, every)
    if kind == "suite":
        raise ConfigError(
            [
                f"{path}: a suite lists configs: show one with optbench config show FILE, "
                f"or see what the suite runs with optbench suite {path} --dry-run"
            ]
        )
    exp = load_experiment(path, overrides)
    labels = [f"run {i} of {len(exp.runs)}, {run.run_id}" for i, run in enumerate(exp.runs, start=1)]
    report = {"report": dataclasses.asdict(exp.report)}
    return _documents(path, exp.runs, labels, every, lambda run: _run_document(run, exp.description, report))


def _study_documents(path: Path, study: Study, every: bool) -> str:
    runs = [study.run(space, study.defaults(space), study.seed) for space in study.spec.spaces]
    labels = [
        f"trial 0 (the defaults) of {space.optimizer}, {run.run_id}"
        for space, run in zip(study.spec.spaces, runs)
    ]
    tune = {"tune": study.spec.to_plain()}
    return _documents(
        path, runs, labels, every, lambda run: _run_document(run, study.description, tune), "optimizer"
    )
