"""What ran, in one paragraph per experiment, from the files on disk: the line under each heading of
index.md and at the top of report.md.

Every number comes from the runs' resolved config.yaml, their status.json and, for a tuning study, the
trial table of experiment.yaml (trials recorded, seeds per trial, final reruns), never from the
config's `description:`, which is the file's prose and says nothing of the overrides a command gave.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from optbench.data import DATASETS
from optbench.plain import value_at
from optbench.report.activations import input_line
from optbench.report.variants import status_counts
from optbench.results import ActivationsResult, ExperimentResult, TuneResult, shown_key
from optbench.text import format_value, plural


def _values(configs: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    """The distinct values of a dotted key over the runs' configs, in the order first seen."""
    seen: dict[str, Any] = {}
    for config in configs:
        value = value_at(config, key)
        if value is not None:
            seen.setdefault(format_value(value), value)
    return list(seen.values())


def _span(values: Sequence[Any]) -> str:
    """One value as it is, numbers as `min–max`, anything else listed."""
    if len(values) == 1:
        return format_value(values[0])
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return f"{format_value(min(values))}–{format_value(max(values))}"
    return " or ".join(format_value(v) for v in values)


def _seeds_text(counts: Sequence[int], unit: str) -> str:
    """`3 seeds`, `1–2 seeds`: how many runs each of a list of groups has."""
    low, high = min(counts), max(counts)
    return plural(low, unit) if low == high else f"{low}–{high} {unit}s"


def _network(configs: Sequence[Mapping[str, Any]], varied: Sequence[str]) -> str:
    """`MLP 784-100-100-100-100-10 (relu, init he)`: what every run shares of the model."""
    dataset = DATASETS.get(str(value_at(configs[0], "task.dataset")))
    hidden = _values(configs, "model.hidden")
    if len(hidden) == 1 and dataset is not None:
        shape = "-".join(str(w) for w in [dataset.n_features, *hidden[0], dataset.classes])
    else:
        shape = f"hidden layers {_span(hidden)}"
    shown = {shown_key(k) for k in varied}
    parts = [
        f"{word}{_span(values)}"
        for key, word in (("model.activation", ""), ("model.init", "init "))
        if key not in shown and len(values := _values(configs, key)) == 1
    ]
    parts += [
        f"{word} {_span(values)}"
        for key, word in (("model.dropout", "dropout"), ("model.l2", "weight penalty λ"))
        if key not in shown and (values := _values(configs, key)) and any(values)
    ]
    if "model.batch_norm" not in shown and all(value_at(c, "model.batch_norm") for c in configs):
        parts.append("batch normalisation")
    return f"MLP {shape}" + (f" ({', '.join(parts)})" if parts else "")


def task_text(configs: Sequence[Mapping[str, Any]], varied: Sequence[str] = ()) -> str:
    """The task, the model and the training of a list of runs, from their configs: `dataset mnist
    (10000 validation images held out), MLP 784-…-10 (relu, init he), batch 128, 2000 updates`."""
    if not configs:
        return "no run has started"
    functions = _values(configs, "task.function")
    if functions:
        starts = [f"({', '.join(format_value(v) for v in s)})" for s in _values(configs, "task.start")]
        text = f"function `{_span(functions)}`" + (f" from {' or '.join(starts)}" if starts else "")
    else:
        held = _span(_values(configs, "task.validation"))
        split = "no validation split" if held == "0" else f"{held} validation images held out"
        sizes = _values(configs, "task.train_size")
        if sizes:
            split += f", trained on the first {_span(sizes)} images left"
        text = f"dataset `{_span(_values(configs, 'task.dataset'))}` ({split}), {_network(configs, varied)}"
        text += f", batch {_span(_values(configs, 'train.batch_size'))}"
    steps = _values(configs, "train.steps")
    epochs = _values(configs, "train.epochs")
    counted = f"{_span(epochs)} epochs, " if epochs else ""
    return text + f", {counted}{_span(steps)} {'update' if steps == [1] else 'updates'}"


def _runs_text(runs: Sequence[Any]) -> str:
    counts = Counter(r.state for r in runs)
    return f"{plural(len(runs), 'run')} ({status_counts(counts)})" if runs else "no runs"


def experiment_overview(exp: ExperimentResult) -> str:
    """What an experiment ran: its task, its variants and their seeds, and its runs by status."""
    configs = [r.config for r in exp.runs if r.config]
    variants = exp.variants
    per = f"{_seeds_text([len(v.runs) for v in variants], 'seed')} each" if variants else ""
    varied = [k for k in dict.fromkeys(shown_key(k) for k in exp.varied) if not k.startswith("train.seed")]
    what = f" varying {', '.join(f'`{k}`' for k in varied)}" if varied else ""
    return (
        f"Ran: {task_text(configs, exp.varied)}; {plural(len(variants), 'variant')}{what}"
        f"{', ' + per if per else ''}; {_runs_text(exp.runs)}."
    )


def _counts_text(counts: Mapping[str, int], noun: str) -> str:
    """`8 trials each`, or per optimizer where they differ: `sgd 8 trials, adam 5 trials`."""
    values = set(counts.values())
    if len(values) == 1:
        return f"{plural(values.pop(), noun)} each"
    return ", ".join(f"{o} {plural(n, noun)}" for o, n in counts.items())


def tune_overview(tune: TuneResult) -> str:
    """What a tuning study ran, from its trial table and its runs: optimizers, trials recorded,
    seeds per trial, where the choice was made, and the final reruns."""
    configs = [r.config for t in tune.trials for r in t.runs if r.config]
    trials = {o: len(tune.trials_of(o)) for o in tune.optimizers}
    per_trial = f"{_seeds_text([len(t.runs) for t in tune.trials] or [0], 'seed')} per trial"
    text = (
        f"Ran: {plural(len(tune.optimizers), 'optimizer')} on {task_text(configs)}; "
        f"{_counts_text(trials, 'trial')} (trial 0 the defaults, the others drawn by the {tune.sampler} "
        f"sampler), {per_trial}, chosen by the {tune.score_name}"
    )
    finals = {o: len(f.runs) for o in tune.optimizers if (f := tune.final(o)) is not None}
    if finals:
        text += f"; the chosen settings rerun on {_counts_text(finals, 'new seed')} and measured on test"
    elif tune.kind == "dataset":
        text += "; no final reruns"
    return text + f"; {_runs_text(tune.experiment.runs)}."


def activations_overview(result: ActivationsResult) -> str:
    """What an activations experiment ran: its cases, then its input and network (`input_line`)."""
    cases = ", ".join(case.label for case in result.cases)
    return f"Ran: {plural(len(result.cases), 'case')} ({cases}). {input_line(result)}"
