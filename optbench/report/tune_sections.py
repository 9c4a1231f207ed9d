"""The sections of a tuning study's report.md after its heading (`tune_sections`): its settings and
search spaces, how the study ran and where its choices are made, the table of tuned optimizers, its
findings and figures, and the table of every trial.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optbench.layout import EXPECTED_MAX_FILE, TRIALS_FILE, TUNE_FILE
from optbench.plain import value_at
from optbench.report.settings import settings_section
from optbench.report.tables import column_format, md_table, mean_std_cells, mean_std_percent, number_cells
from optbench.report.tune_findings import tune_findings
from optbench.report.tune_numbers import final_numbers, improvement, loss_factor
from optbench.report.tune_words import change_text, score_text, space_text, value_text, values_text
from optbench.results import ExperimentResult, TuneResult
from optbench.text import format_value, plural


def _mode_text(tune: TuneResult) -> str:
    return "at a run's last step" if tune.mode == "final" else "the best evaluation of a run"


def choice_text(tune: TuneResult) -> str:
    """Where the study's choices are made, in one paragraph."""
    if tune.kind == "function":
        return (
            f"Every choice in this report (each optimizer's best trial, the winners at every budget) is "
            f"made on the function's value, by the {tune.score_name} ({_mode_text(tune)}; lower is "
            "better). A function task "
            "has no randomness and no test set: each trial runs once, and the chosen settings are not "
            "rerun.\n"
        )
    first = next((r for t in tune.trials for r in t.runs if r.config), None)
    images = value_at(first.config, "task.validation") if first is not None else None
    held = (
        f"the {images} validation images held out of the training set" if images else "the validation split"
    )
    finals = int(tune.spec.get("final_seeds", 0) or 0)
    rerun = (
        f" Each chosen setting is then rerun with {plural(finals, 'new seed')}; only those runs are measured "
        "on the test set, as the held-out result of the choice."
        if finals
        else " The chosen settings are not rerun (`tune.final_seeds: 0`), so no test result is reported."
    )
    return (
        f"Every choice in this report (each optimizer's best trial, the winners at every budget) is made "
        f"on {held}, by the {tune.score_name} ({_mode_text(tune)}, mean over a trial's seeds; "
        f"{'higher' if tune.maximise else 'lower'} is better).{rerun}\n"
    )


def _study_text(tune: TuneResult) -> str:
    trial_seeds = int(tune.spec.get("trial_seeds", 1) or 1)
    return (
        f"{plural(len(tune.optimizers), 'optimizer')}, {plural(tune.budget, 'trial')} each: trial 0 is the "
        f"optimizer's defaults, trials 1 to {tune.budget - 1} are drawn by the {tune.sampler} sampler "
        f"(seed {tune.spec.get('seed', 0)}), {plural(trial_seeds, 'seed')} per trial. The expected-max "
        "curves use trials 1 onwards with a finite score (trial 0 is no random draw).\n"
    )


def _spaces_table(tune: TuneResult) -> str:
    rows = []
    for optimizer in tune.optimizers:
        entry = tune.entry(optimizer)
        default = tune.default(optimizer)
        fixed = {k: v for k, v in entry.items() if k not in ("name", "search")}
        rows.append(
            [
                optimizer,
                space_text(tune, optimizer),
                ", ".join(f"{k}={value_text(v)}" for k, v in (default.params if default else {}).items()),
                ", ".join(f"{k}={format_value(v)}" for k, v in fixed.items()) or "—",
            ]
        )
    return md_table(["optimizer", "searched", "trial 0 (defaults)", "fixed"], rows, [False] * 4)


def _without_optimizer(exp: ExperimentResult) -> ExperimentResult:
    """The experiment with its runs' optimizer sections left out: the Settings section then lists what
    every trial shares, and the trials' optimizers are left to the search-space and trial tables
    (listed per variant they would run to hundreds of lines)."""
    runs = tuple(
        dataclasses.replace(r, config={k: v for k, v in r.config.items() if k != "optimizer"})
        for r in exp.runs
    )
    return dataclasses.replace(exp, runs=runs)


def _score_cells(tune: TuneResult, scores: Sequence[float]) -> list[str]:
    """A column of scores in one format: accuracies in percent, a loss or f as `number_cells`."""
    if tune.metric == "val_acc":
        return [score_text(tune, v) for v in scores]
    return number_cells(scores)


def _change_cells(tune: TuneResult) -> list[str]:
    """The change column of the tuned-optimizer table: `+2.30 points`, or a loss's change in one format
    with the factor it fell by (the factors in one format of their own)."""
    if tune.metric == "val_acc":
        return [change_text(tune, o) for o in tune.optimizers]
    gains = [-improvement(tune, o) for o in tune.optimizers]
    factors = [loss_factor(tune, o) for o in tune.optimizers]
    gain_format = "+" + column_format(gains)
    factor_cells = number_cells([f if f is not None else math.nan for f in factors])
    return [
        "—"
        if not math.isfinite(gain)
        else format(gain, gain_format) + (f" (÷{cell})" if f is not None else "")
        for gain, f, cell in zip(gains, factors, factor_cells)
    ]


def _final_cells(stats: Sequence[tuple[float, float]], seeds: Sequence[int], percent: bool) -> list[str]:
    if percent:
        return [mean_std_percent(stat, n) for stat, n in zip(stats, seeds)]
    return mean_std_cells(stats, seeds)


def _tune_table(tune: TuneResult) -> str:
    percent = tune.metric == "val_acc"
    if tune.kind == "function":
        header = ["optimizer", "trials scored", "f at the defaults", "best f (trial)", "change", "chosen"]
    else:
        header = [
            "optimizer",
            "trials scored",
            "defaults (trial 0)",
            "best (trial)",
            "change",
            "chosen",
            "final seeds: validation",
            "final seeds: test accuracy",
        ]
    optimizers = tune.optimizers
    defaults = [tune.default(o) for o in optimizers]
    chosen = [tune.chosen(o) for o in optimizers]
    best = _score_cells(tune, [c.score if c is not None else math.nan for c in chosen])
    columns = [
        list(optimizers),
        [f"{sum(t.finite for t in tune.trials_of(o))} of {len(tune.trials_of(o))}" for o in optimizers],
        _score_cells(tune, [d.score if d is not None else math.nan for d in defaults]),
        [f"{cell} ({c.number})" if c is not None else "none" for cell, c in zip(best, chosen)],
        _change_cells(tune),
        [values_text(c) if c is not None else "—" for c in chosen],
    ]
    if tune.kind != "function":
        finals = [final_numbers(tune, o) for o in optimizers]
        seeds = [n for n, _, _ in finals]
        validation = _final_cells([val for _, val, _ in finals], seeds, percent)
        columns.append([cell + (f" ({n})" if n else "") for cell, n in zip(validation, seeds)])
        columns.append(_final_cells([test for _, _, test in finals], seeds, percent=True))
    right = [False, True, True, True, True, False, *([True, True] if tune.kind != "function" else [])]
    return md_table(header, [list(row) for row in zip(*columns)], right)


def _param_cells(values: Sequence[Any]) -> list[str]:
    """A column of one hyperparameter's values: numbers in one format, other values as written."""
    if values and all(isinstance(v, float) or v is None for v in values):
        cells = number_cells([math.nan if v is None else v for v in values])
        return ["" if v is None else cell for v, cell in zip(values, cells)]
    return ["" if v is None else value_text(v) for v in values]


def _trials_table(tune: TuneResult) -> str:
    keys = tune.keys
    header = ["optimizer", "trial", "role", "seeds", "score", "status", *keys]
    listed = []
    for optimizer in tune.optimizers:
        chosen = tune.chosen(optimizer)
        final = tune.final(optimizer)
        for trial in [*tune.trials_of(optimizer), *([final] if final is not None else [])]:
            listed.append((optimizer, trial, chosen is not None and trial is chosen))
    columns = [
        [optimizer for optimizer, _, _ in listed],
        [f"{trial.number}{' ★' if star else ''}" for _, trial, star in listed],
        [trial.role for _, trial, _ in listed],
        [" ".join(str(s) for s in trial.seeds) for _, trial, _ in listed],
        _score_cells(tune, [trial.score for _, trial, _ in listed]),
        [
            ", ".join(
                f"{n} {s}" if len(trial.runs) > 1 else s
                for s, n in Counter(r.state for r in trial.runs).items()
            )
            for _, trial, _ in listed
        ],
        *(_param_cells([trial.params.get(k) for _, trial, _ in listed]) for k in keys),
    ]
    rows = [list(row) for row in zip(*columns)]
    return md_table(header, rows, [False, True, False, False, True, False, *([True] * len(keys))])


def tune_sections(tune: TuneResult, figures: Sequence[str]) -> list[str]:
    """report.md of a study after its heading: settings, how choices are made, the table of the
    tuned optimizers, the findings, the figures and every trial."""
    parts = []
    settings = settings_section(_without_optimizer(tune.experiment))
    if settings:
        parts.append(settings)
    parts.append("Search spaces (the hyperparameters not listed keep their defaults):\n")
    parts.append(_spaces_table(tune))
    parts.append("## The study\n")
    parts.append(_study_text(tune))
    parts.append(choice_text(tune))
    parts.append("## Tuned optimizers\n")
    parts.append(
        "Best: the trial with the best score (its number in brackets), chosen on "
        + ("the function's value" if tune.kind == "function" else "validation")
        + "; change: best minus the defaults' score, signed so that + is better. Every trial and its "
        f"values are in `{TRIALS_FILE}`, this table in `{TUNE_FILE}`, the curves in `{EXPECTED_MAX_FILE}`.\n"
    )
    parts.append(_tune_table(tune))
    sentences = tune_findings(tune)
    if sentences:
        parts.append("## Findings\n")
        parts.append("".join(f"- {f.text}\n" for f in sentences))
    if figures:
        parts.append("## Figures\n")
        parts.append("\n".join(f"![{Path(name).stem}]({name})\n" for name in figures))
    parts.append("## Trials\n")
    parts.append("★: the trial chosen for each optimizer; final: its reruns on new seeds.\n")
    parts.append(_trials_table(tune))
    return parts
