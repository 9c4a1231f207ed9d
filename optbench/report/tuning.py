"""The report of a tuning study: its derived tables, its sentences, the sections of its report.md,
and the performance profile of several studies in index.md.

Everything is computed from the folder's files through `optbench.results.tuning`, so `optbench
report` regenerates it all. Choices are the study's: each optimizer's best trial by its validation
score (a function's value for a function task); test numbers are those of the chosen settings' final
seeds only. A score is the study's `tune.metric` in its `tune.mode`, a trial's the mean over its seeds;
standard deviations are over seeds with ddof 0 (`stats.STD_DDOF`). Empty cells: no such number.

    tune.csv          one row per optimizer: optimizer, trials (recorded), finite_trials (with a
                      score), default_score (trial 0), best_score, best_trial (the chosen trial),
                      improvement (best − default, signed so that + is better), chosen (`lr=0.01,
                      betas.0=0.9`), one column per key any optimizer searches (its chosen value),
                      final_seeds, final_val_mean, final_val_std (the score over the completed final
                      reruns), final_test_mean, final_test_std (their final test accuracy); the last
                      five are empty for a function task, which has no final reruns and no test set
    trials.csv        one row per trial, then the optimizer's final reruns: optimizer, trial, role
                      (trial | final), seeds, score, finite (true | false), status (each run's), the
                      searched keys, run_ids; seeds, status and run_ids list the runs space-separated
    expected_max.csv  optimizer, n, mean, std: the expected best score of n random trials and its
                      std (Dodge et al. 2019), n = 1..N over trials 1..budget−1 with a finite score
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from optbench.files import atomic_write_text, csv_text
from optbench.layout import EXPECTED_MAX_FILE, TRIALS_FILE, TUNE_FILE
from optbench.plain import value_at
from optbench.report.findings import _unfinished_finding
from optbench.report.sentences import Finding
from optbench.report.settings import settings_section
from optbench.report.tables import _md_table, column_format, mean_std_cells, number_cells
from optbench.results import (
    ExperimentResult,
    PerformanceProfile,
    TrialResult,
    TuneResult,
)
from optbench.stats import mean_std
from optbench.text import format_value, plural

TUNE_HEAD = (
    "optimizer",
    "trials",
    "finite_trials",
    "default_score",
    "best_score",
    "best_trial",
    "improvement",
)
TUNE_TAIL = ("final_seeds", "final_val_mean", "final_val_std", "final_test_mean", "final_test_std")
TRIALS_HEAD = ("optimizer", "trial", "role", "seeds", "score", "finite", "status")
EXPECTED_MAX_COLUMNS = ("optimizer", "n", "mean", "std")
PROFILE_TAUS = (1.0, 1.01, 1.1, 2.0)
"""The factors τ at which index.md's table gives each optimizer's share of tasks (1: best on it)."""
SHOWN_DIGITS = 3
"""Significant digits of a hyperparameter value in a sentence or a Markdown cell."""
FACTOR_WORDS = 2.0
"""A loss that fell by this factor or more is said to be `k times lower`; by less, `p% lower`."""
MULTIPLICATIVE = ("log_uniform",)
"""Distributions whose values compare as ratios: a chosen value is also given as a factor of the default."""


# --------------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------------


def _signed(tune: TuneResult, value: float) -> float:
    return value if tune.maximise else -value


def improvement(tune: TuneResult, optimizer: str) -> float:
    """Best score minus the defaults' score, signed so that positive is better (NaN if either is missing)."""
    chosen, default = tune.chosen(optimizer), tune.default(optimizer)
    if chosen is None or default is None or not default.finite:
        return math.nan
    return _signed(tune, chosen.score - default.score)


def final_numbers(tune: TuneResult, optimizer: str) -> tuple[int, tuple[float, float], tuple[float, float]]:
    """The final reruns of the chosen setting: how many seeds, and mean ± std of their validation score
    (the tune metric) and of their test accuracy, over the completed ones."""
    final = tune.final(optimizer)
    if final is None:
        return 0, (math.nan, math.nan), (math.nan, math.nan)
    completed = [i for i, r in enumerate(final.runs) if r.state == "completed"]
    scores = [final.run_scores[i] for i in completed] if final.run_scores else []
    tests = [final.runs[i].final_test_acc for i in completed]
    return len(final.runs), mean_std(scores), mean_std(tests)


def leaders(tune: TuneResult) -> tuple[list[str], int]:
    """The optimizer with the best expected-max score at each n = 1..N, N being the fewest scored
    random trials of any optimizer that has some; returns (leader at each n, N)."""
    curves = {o: tune.expected_max(o)[0] for o in tune.optimizers}
    curves = {o: c for o, c in curves.items() if c.size}
    if len(curves) < 2:
        return [], 0
    common = min(c.size for c in curves.values())
    order = list(curves)
    out = []
    for i in range(common):
        out.append(max(order, key=lambda o: (_signed(tune, float(curves[o][i])), -order.index(o))))
    return out, common


def _order_at(tune: TuneResult, n: int) -> list[str]:
    curves = {o: tune.expected_max(o)[0] for o in tune.optimizers}
    scored = [o for o, c in curves.items() if c.size >= n]
    return sorted(scored, key=lambda o: -_signed(tune, float(curves[o][n - 1])))


# --------------------------------------------------------------------------------------------------
# The derived CSV files
# --------------------------------------------------------------------------------------------------


def _searched_cells(tune: TuneResult, trial: TrialResult | None) -> list[Any]:
    params = trial.params if trial is not None else {}
    return [params.get(key) for key in tune.keys]


def _cell(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _chosen_plain(trial: TrialResult | None) -> str:
    if trial is None:
        return ""
    return ", ".join(f"{k}={format_value(v)}" for k, v in trial.params.items())


def tune_rows(tune: TuneResult) -> tuple[list[str], list[list[Any]]]:
    """tune.csv: one row per optimizer (the columns are in this module's docstring)."""
    header = [*TUNE_HEAD, "chosen", *tune.keys, *TUNE_TAIL]
    rows = []
    for optimizer in tune.optimizers:
        trials = tune.trials_of(optimizer)
        chosen, default = tune.chosen(optimizer), tune.default(optimizer)
        row: list[Any] = [
            optimizer,
            len(trials),
            sum(t.finite for t in trials),
            _cell(default.score) if default is not None else None,
            _cell(chosen.score) if chosen is not None else None,
            chosen.number if chosen is not None else None,
            _cell(improvement(tune, optimizer)),
            _chosen_plain(chosen),
            *_searched_cells(tune, chosen),
        ]
        if tune.kind == "function":
            row += [None] * len(TUNE_TAIL)
        else:
            seeds, val, test = final_numbers(tune, optimizer)
            row += [seeds, _cell(val[0]), _cell(val[1]), _cell(test[0]), _cell(test[1])]
        rows.append(row)
    return header, rows


def trial_rows(tune: TuneResult) -> tuple[list[str], list[list[Any]]]:
    """trials.csv: one row per trial and per final rerun, in the optimizers' order."""
    header = [*TRIALS_HEAD, *tune.keys, "run_ids"]
    rows = []
    for optimizer in tune.optimizers:
        final = tune.final(optimizer)
        for trial in [*tune.trials_of(optimizer), *([final] if final is not None else [])]:
            rows.append(
                [
                    optimizer,
                    trial.number,
                    trial.role,
                    " ".join(str(s) for s in trial.seeds),
                    _cell(trial.score),
                    trial.finite,
                    " ".join(r.state for r in trial.runs),
                    *_searched_cells(tune, trial),
                    " ".join(r.run_id for r in trial.runs),
                ]
            )
    return header, rows


def expected_max_rows(tune: TuneResult) -> tuple[list[str], list[list[Any]]]:
    """expected_max.csv: per optimizer and n = 1..N, Dodge et al.'s expected best score and its std."""
    rows: list[list[Any]] = []
    for optimizer in tune.optimizers:
        means, stds = tune.expected_max(optimizer)
        rows += [[optimizer, n, float(m), float(s)] for n, (m, s) in enumerate(zip(means, stds), start=1)]
    return list(EXPECTED_MAX_COLUMNS), rows


def write_tune_tables(tune: TuneResult) -> list[Path]:
    """Write tune.csv, trials.csv and expected_max.csv into the study's folder (atomically)."""
    written = []
    for name, (header, rows) in (
        (TUNE_FILE, tune_rows(tune)),
        (TRIALS_FILE, trial_rows(tune)),
        (EXPECTED_MAX_FILE, expected_max_rows(tune)),
    ):
        path = tune.folder / name
        atomic_write_text(path, csv_text(header, rows))
        written.append(path)
    return written


# --------------------------------------------------------------------------------------------------
# Words for numbers
# --------------------------------------------------------------------------------------------------


def score_text(tune: TuneResult, value: float) -> str:
    """A score as a report shows it: an accuracy in percent, a loss or f to four digits."""
    if not math.isfinite(value):
        return "—"
    return f"{value:.2%}" if tune.metric == "val_acc" else f"{value:.4g}"


def _pm_text(stats: tuple[float, float], n: int, percent: bool) -> str:
    mean, std = stats
    if not math.isfinite(mean):
        return "—"
    if percent:
        return f"{mean * 100:.2f} ± {std * 100:.2f}%" if n > 1 else f"{mean:.2%}"
    return f"{mean:.4g} ± {std:.4g}" if n > 1 else f"{mean:.4g}"


def change_text(tune: TuneResult, optimizer: str) -> str:
    """How much better the chosen trial is than the defaults: `+2.30 points` of accuracy, or for a loss
    its change and the factor it fell by (of f − f* for a function whose f* is not 0)."""
    gain = improvement(tune, optimizer)
    if not math.isfinite(gain):
        return "—"
    if tune.metric == "val_acc":
        return f"{gain * 100:+.2f} points"
    factor = _factor(tune, optimizer)
    return f"{-gain:+.4g}" + (f" (÷{factor:.3g})" if factor is not None else "")


def _factor(tune: TuneResult, optimizer: str) -> float | None:
    """defaults ÷ best of a minimised score (of f − f* for a function with a known minimum), when both
    are positive and differ."""
    chosen, default = tune.chosen(optimizer), tune.default(optimizer)
    if tune.maximise or chosen is None or default is None or not default.finite:
        return None
    shift = tune.min_value or 0.0
    before, after = default.score - shift, chosen.score - shift
    return before / after if before > 0 and after > 0 and before != after else None


def gain_words(tune: TuneResult, optimizer: str) -> str:
    """The change from the defaults to the choice in words: `+2.30 points`, `11.3 times lower`."""
    if tune.metric == "val_acc":
        return change_text(tune, optimizer)
    factor = _factor(tune, optimizer)
    if factor is None:
        return f"{-improvement(tune, optimizer):+.4g}"
    what = "f − f* " if tune.min_value not in (None, 0.0) else ""
    if factor >= FACTOR_WORDS:
        return f"{what}{factor:.3g} times lower"
    if factor > 1:
        return f"{what}{1 - 1 / factor:.1%} lower"
    return (
        f"{what}{1 / factor - 1:.1%} higher"
        if 1 / factor < FACTOR_WORDS
        else f"{what}{1 / factor:.3g} times higher"
    )


def _value(value: Any) -> str:
    return f"{value:.{SHOWN_DIGITS}g}" if isinstance(value, float) else format_value(value)


def moved_text(tune: TuneResult, optimizer: str, trial: TrialResult) -> str:
    """Each searched value of a trial against trial 0's: `lr 0.0726 (default 0.001, ×72.6)`."""
    default = tune.default(optimizer)
    base = dict(default.params) if default is not None else {}
    parts = []
    for key, value in trial.params.items():
        was = base.get(key)
        text = f"{key} {_value(value)}"
        if was is not None and was != value:
            factor = ""
            multiplicative = tune.distribution(optimizer, key) in MULTIPLICATIVE
            if (
                multiplicative
                and isinstance(value, (int, float))
                and isinstance(was, (int, float))
                and was > 0
            ):
                factor = f", ×{value / was:.3g}"
            text += f" (default {_value(was)}{factor})"
        elif was == value:
            text += " (its default)"
        parts.append(text)
    return _and(parts)


def _and(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _why(trials: Sequence[TrialResult]) -> str:
    """`3 diverged, 1 failed`: why these trials have no score."""
    counts = Counter(t.outcome for t in trials if not t.finite)
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


def _with_score(tune: TuneResult, value: float) -> str:
    """`with a final validation accuracy of 91.88%`."""
    article = "an" if tune.score_name[0] in "aeiou" else "a"
    return f"with {article} {tune.score_name} of {score_text(tune, value)}"


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------


def _ranked(tune: TuneResult, scores: Mapping[str, float]) -> list[str]:
    finite = [o for o in tune.optimizers if math.isfinite(scores.get(o, math.nan))]
    return sorted(finite, key=lambda o: -_signed(tune, scores[o]))


def _tied(ranked: Sequence[str], scores: Mapping[str, float]) -> list[str]:
    """The optimizers that share the best score (usually one)."""
    return [o for o in ranked if scores[o] == scores[ranked[0]]]


def _leaders_text(ranked: Sequence[str], scores: Mapping[str, float]) -> tuple[str, list[str]]:
    """`adam scores best` or `adagrad and adamw tie for best`, and the optimizers that follow."""
    tied = _tied(ranked, scores)
    who = f"{tied[0]} scores best" if len(tied) == 1 else f"{_and(tied)} tie for best"
    return who, [o for o in ranked if o not in tied]


def _defaults_finding(tune: TuneResult) -> Finding | None:
    defaults = {o: d.score for o in tune.optimizers if (d := tune.default(o)) is not None}
    ranked = _ranked(tune, defaults)
    missing = [o for o in tune.optimizers if o in defaults and o not in ranked]
    if not ranked:
        return Finding("No optimizer's defaults (trial 0) gave a score.", headline=True) if defaults else None
    best = ranked[0]
    if len(tune.optimizers) == 1:
        text = f"At its defaults (trial 0), {best} scores {_with_score(tune, defaults[best])}"
    else:
        who, rest = _leaders_text(ranked, defaults)
        others = ", ".join(f"{o} {score_text(tune, defaults[o])}" for o in rest)
        text = f"At their defaults (trial 0), {who}, {_with_score(tune, defaults[best])}"
        text += f" (then {others})" if others else ""
    if missing:
        reasons = ", ".join(f"{o} ({d.outcome})" for o in missing if (d := tune.default(o)) is not None)
        text += f"; the defaults of {reasons} gave no score"
    return Finding(text + ".", headline=True)


def _budget_finding(tune: TuneResult) -> Finding | None:
    chosen = {o: c for o in tune.optimizers if (c := tune.chosen(o)) is not None}
    if not chosen or tune.budget <= 1:
        return None
    scores = {o: c.score for o, c in chosen.items()}
    ranked = _ranked(tune, scores)
    who, rest = _leaders_text(ranked, scores)
    details = [_trial_text(chosen[ranked[0]])] if len(rest) == len(ranked) - 1 else []
    if rest:
        details.append("then " + ", ".join(f"{o} {score_text(tune, scores[o])}" for o in rest))
    text = f"With the full budget of {plural(tune.budget, 'trial')} each, {who}, "
    text += _with_score(tune, scores[ranked[0]]) + (f" ({'; '.join(details)})" if details else "")
    defaults = {o: d.score for o in tune.optimizers if (d := tune.default(o)) is not None}
    at_defaults = _ranked(tune, defaults)
    if len(tune.optimizers) > 1 and at_defaults:
        before, now = _tied(at_defaults, defaults), _tied(ranked, scores)
        if set(now) <= set(before):
            text += "; " + ("it" if len(now) == 1 else "they") + " also led at the defaults"
        else:
            text += f". Tuning changes the winner: at the defaults {_and(before)} led"
    return Finding(text + ".", headline=True)


def _trial_text(trial: TrialResult) -> str:
    return "its defaults" if trial.number == 0 else f"trial {trial.number}: {_values_text(trial)}"


def _values_text(trial: TrialResult) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in trial.params.items())


def _ranking_finding(tune: TuneResult) -> Finding | None:
    """Whether the leader of the expected-max curves changes with the number of trials."""
    by_n, common = leaders(tune)
    if not by_n:
        return None
    segments: list[tuple[str, int, int]] = []
    for n, leader in enumerate(by_n, start=1):
        if segments and segments[-1][0] == leader:
            segments[-1] = (leader, segments[-1][1], n)
        else:
            segments.append((leader, n, n))
    counts = {o: tune.expected_max(o)[0].size for o in tune.optimizers}
    upto = (
        " (the fewest scored random trials of any optimizer)"
        if len({c for c in counts.values() if c}) > 1
        else ""
    )
    source = "By the expected best score of n random trials (Dodge et al. 2019)"
    if len(segments) == 1:
        leader = segments[0][0]
        text = (
            f"{source}, {leader} leads at every n from 1 to {common}{upto}: "
            "the leader does not change with the budget"
        )
        headline = False
    else:
        spans = ", ".join(f"{o} for n = {a}" if a == b else f"{o} for n = {a}–{b}" for o, a, b in segments)
        changes = ", ".join(str(a) for _, a, _ in segments[1:])
        text = f"The leader changes with the budget, at n = {changes}. {source}: {spans}"
        text += f", compared up to n = {common}{upto}" if upto else ""
        headline = True
    first, last = _order_at(tune, 1), _order_at(tune, common)
    if len(first) > 2 and first != last:
        text += f". The full order at n = 1 is {' > '.join(first)}; at n = {common}, {' > '.join(last)}"
    return Finding(text + ".", headline=headline)


def _moved_findings(tune: TuneResult) -> list[Finding]:
    """How far tuning moved each optimizer from its defaults, in score and in its values."""
    out = []
    for optimizer in tune.optimizers:
        chosen, default = tune.chosen(optimizer), tune.default(optimizer)
        if chosen is None:
            continue
        if chosen.number == 0 and len(tune.trials_of(optimizer)) == 1:
            continue
        if chosen.number == 0:
            out.append(
                Finding(
                    f"{optimizer}: no other trial beat its defaults ({score_text(tune, chosen.score)}); "
                    "its choice is the defaults."
                )
            )
            continue
        values = moved_text(tune, optimizer, chosen)
        if default is None or not default.finite:
            reason = f" ({default.outcome})" if default is not None else ""
            out.append(
                Finding(
                    f"{optimizer}: its defaults gave no score{reason}; its best trial ({chosen.number}) "
                    f"scored {score_text(tune, chosen.score)} with {values}."
                )
            )
            continue
        better = tune.better(chosen.score, default.score)
        verb = ("raised" if tune.maximise else "lowered") if better else "changed"
        out.append(
            Finding(
                f"{optimizer}: tuning {verb} the {tune.score_name} from {score_text(tune, default.score)} "
                f"at its defaults to {score_text(tune, chosen.score)} (trial {chosen.number}), "
                f"{gain_words(tune, optimizer)}, with {values}."
            )
        )
    return out


def _test_finding(tune: TuneResult) -> Finding | None:
    """The held-out result of each chosen setting: its final seeds' test accuracy."""
    if tune.kind != "dataset":
        return None
    chosen = [o for o in tune.optimizers if tune.chosen(o) is not None]
    if not chosen:
        return None
    if int(tune.spec.get("final_seeds", 0) or 0) == 0:
        return Finding(
            "No final seeds were run (`tune.final_seeds: 0`): the chosen settings have no test result.",
            headline=True,
        )
    parts, notes = [], []
    for optimizer in chosen:
        seeds, _, test = final_numbers(tune, optimizer)
        final = tune.final(optimizer)
        if final is None:
            notes.append(f"{optimizer} has not been rerun yet")
            continue
        parts.append((test[0], f"{optimizer} {_pm_text(test, seeds, percent=True)}"))
        bad = [r for r in final.runs if r.state != "completed"]
        if bad:
            states = Counter(r.state for r in bad)
            notes.append(
                f"{len(bad)} of {seeds} final seeds of {optimizer} did not complete "
                f"({', '.join(f'{n} {s}' for s, n in states.items())}) and are not in its mean"
            )
    if not parts:
        return Finding(
            "The chosen settings have not been rerun on their final seeds yet (the study has not "
            "finished): there is no test result.",
            headline=True,
        )
    counts = {final_numbers(tune, o)[0] for o in chosen if tune.final(o) is not None}
    over = f"its {plural(counts.pop(), 'final seed')}" if len(counts) == 1 else "its final seeds"
    ordered = [text for _, text in sorted(parts, key=lambda p: -p[0] if math.isfinite(p[0]) else math.inf)]
    text = f"Test accuracy of each chosen setting, mean ± std over {over}: " + ", ".join(ordered)
    if notes:
        text += "; " + "; ".join(notes)
    return Finding(text + ".", headline=True)


def _rerun_finding(tune: TuneResult) -> Finding | None:
    """The final seeds' validation score against the chosen trial's: a best-of-many choice on a noisy
    score tends to overstate its setting."""
    parts, worse, count = [], 0, 0
    for optimizer in tune.optimizers:
        chosen, final = tune.chosen(optimizer), tune.final(optimizer)
        if chosen is None or final is None:
            continue
        seeds, val, _ = final_numbers(tune, optimizer)
        if not math.isfinite(val[0]):
            continue
        count += 1
        worse += tune.better(chosen.score, val[0])
        percent = tune.metric == "val_acc"
        parts.append(
            f"{optimizer} {_pm_text(val, seeds, percent)} (its trial: {score_text(tune, chosen.score)})"
        )
    if not parts:
        return None
    text = f"Rerun on their final seeds, the chosen settings reach a {tune.score_name} of "
    text += ", ".join(parts) + f". {worse} of {count} score worse than the trial they were chosen from"
    if worse:
        text += ": the best of several noisy trials tends to overstate its setting"
    return Finding(text + ".")


def _left_out_finding(tune: TuneResult) -> Finding | None:
    """How many random trials the expected-max curves leave out, and why."""
    parts = []
    for optimizer in tune.optimizers:
        drawn = [t for t in tune.trials_of(optimizer) if t.number > 0]
        missing = [t for t in drawn if not t.finite]
        if missing:
            parts.append(f"{optimizer} {len(missing)} of its {len(drawn)} random trials ({_why(missing)})")
    if not any(t.number > 0 for t in tune.trials):
        return None
    if not parts:
        return Finding("Every random trial has a finite score: none is left out of the expected-max curves.")
    return Finding(
        "Left out of the expected-max curves for want of a finite score (the curve of an optimizer "
        "rests on its other trials): " + "; ".join(parts) + "."
    )


def _sampler_finding(tune: TuneResult) -> Finding | None:
    if tune.sampler == "tpe":
        return Finding(
            "Trials 1 onwards were proposed by tpe, which adapts to the scores it has been told: they are "
            "not independent draws, so the expected-max curves only describe the trials seen, not what "
            "n independent random trials would give."
        )
    if tune.sampler == "qmc":
        return Finding(
            "Trials 1 onwards are quasi-random (qmc, a scrambled Sobol sequence): they cover the space "
            "more evenly than independent draws, which the expected-max estimator assumes, so its curves "
            "describe them only approximately."
        )
    return None


def _empty_space_findings(tune: TuneResult) -> list[Finding]:
    """An optimizer whose search space gave no finite trial, said plainly."""
    out = []
    for optimizer in tune.optimizers:
        trials = tune.trials_of(optimizer)
        drawn = [t for t in trials if t.number > 0]
        space = _space_text(tune, optimizer)
        fixed = {k: v for k, v in tune.entry(optimizer).items() if k not in ("name", "search")}
        if fixed:
            space += ", with " + ", ".join(f"{k}={format_value(v)}" for k, v in fixed.items()) + " fixed"
        nothing = "no choice and no expected-max curve" + (
            ", and no test result" if tune.kind == "dataset" else ""
        )
        if trials and not any(t.finite for t in trials):
            out.append(
                Finding(
                    f"{optimizer}: none of its {plural(len(trials), 'trial')} gave a score ({_why(trials)}). "
                    f"Its search space ({space}) yielded no setting to choose: it has {nothing}.",
                    headline=True,
                )
            )
        elif drawn and not any(t.finite for t in drawn):
            out.append(
                Finding(
                    f"{optimizer}: none of its {plural(len(drawn), 'random trial')} gave a score "
                    f"({_why(drawn)}); only its defaults did. Its search space ({space}) yielded nothing "
                    "better, and it has no expected-max curve.",
                    headline=True,
                )
            )
    return out


def _space_text(tune: TuneResult, optimizer: str) -> str:
    entry = tune.entry(optimizer)
    parts = []
    for key, dist in (entry.get("search") or {}).items():
        ((kind, args),) = dist.items()
        if kind == "choice":
            parts.append(f"{key} ∈ {{{', '.join(format_value(a) for a in args)}}}")
        else:
            parts.append(f"{key} ~ {kind}[{format_value(args[0])}, {format_value(args[1])}]")
    return ", ".join(parts)


def tune_findings(tune: TuneResult) -> list[Finding]:
    """The sentences of a tuning study's report, each computed from its files."""
    out: list[Finding | None] = [
        _defaults_finding(tune),
        _budget_finding(tune),
        _ranking_finding(tune),
        *_moved_findings(tune),
        _test_finding(tune),
        _rerun_finding(tune),
        _left_out_finding(tune),
        _sampler_finding(tune),
        *_empty_space_findings(tune),
        _unfinished_finding(tune.experiment),
    ]
    return [f for f in out if f is not None]


# --------------------------------------------------------------------------------------------------
# report.md
# --------------------------------------------------------------------------------------------------


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
                _space_text(tune, optimizer),
                ", ".join(f"{k}={_value(v)}" for k, v in (default.params if default else {}).items()),
                ", ".join(f"{k}={format_value(v)}" for k, v in fixed.items()) or "—",
            ]
        )
    return _md_table(["optimizer", "searched", "trial 0 (defaults)", "fixed"], rows, [False] * 4)


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
    factors = [_factor(tune, o) for o in tune.optimizers]
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
        return [_pm_text(stat, n, percent=True) for stat, n in zip(stats, seeds)]
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
        [_values_text(c) if c is not None else "—" for c in chosen],
    ]
    if tune.kind != "function":
        finals = [final_numbers(tune, o) for o in optimizers]
        seeds = [n for n, _, _ in finals]
        validation = _final_cells([val for _, val, _ in finals], seeds, percent)
        columns.append([cell + (f" ({n})" if n else "") for cell, n in zip(validation, seeds)])
        columns.append(_final_cells([test for _, _, test in finals], seeds, percent=True))
    right = [False, True, True, True, True, False, *([True, True] if tune.kind != "function" else [])]
    return _md_table(header, [list(row) for row in zip(*columns)], right)


def _param_cells(values: Sequence[Any]) -> list[str]:
    """A column of one hyperparameter's values: numbers in one format, other values as written."""
    if values and all(isinstance(v, float) or v is None for v in values):
        cells = number_cells([math.nan if v is None else v for v in values])
        return ["" if v is None else cell for v, cell in zip(values, cells)]
    return ["" if v is None else _value(v) for v in values]


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
    return _md_table(header, rows, [False, True, False, False, True, False, *([True] * len(keys))])


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


# --------------------------------------------------------------------------------------------------
# Several studies: the performance profile in index.md
# --------------------------------------------------------------------------------------------------


def profile_section(profile: PerformanceProfile, figure: str | None) -> str:
    """index.md's performance profile: what it is, a table of shares at PROFILE_TAUS, the figure."""
    tasks = len(profile.tasks)
    text = (
        "## Performance profile\n\n"
        f"Over the {tasks} tuning studies above ({', '.join(profile.tasks)}): for each optimizer, "
        "the share of studies on which its chosen score is within a factor τ of the best optimizer's "
        "there (AlgoPerf, Dahl et al. 2023). The ratio is best/score for a maximised score (validation "
        "accuracy), score/best for a minimised one (a loss; f − f* for a function with a known minimum); "
        "an optimizer without a score on a study, or not tuned on it, is never within τ.\n\n"
    )
    header = ["optimizer", *(f"τ = {tau:g}" + (" (best)" if tau == 1 else "") for tau in PROFILE_TAUS)]
    shares = np.array([profile.share(tau) for tau in PROFILE_TAUS])
    rows = [
        [o, *(f"{round(shares[k, i] * tasks)} of {tasks}" for k in range(len(PROFILE_TAUS)))]
        for i, o in enumerate(profile.optimizers)
    ]
    text += _md_table(header, rows, [False, *([True] * len(PROFILE_TAUS))])
    if figure:
        text += f"\n![performance profile]({figure})\n"
    return text


__all__ = [
    "EXPECTED_MAX_COLUMNS",
    "PROFILE_TAUS",
    "choice_text",
    "expected_max_rows",
    "final_numbers",
    "leaders",
    "profile_section",
    "trial_rows",
    "tune_findings",
    "tune_rows",
    "tune_sections",
    "write_tune_tables",
]
