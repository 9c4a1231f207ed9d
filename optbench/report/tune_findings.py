"""The sentences of a tuning study's report (`tune_findings`), each computed from its files: the
defaults and the full budget compared, whether the leader changes with the budget, how far tuning
moved each optimizer, the chosen settings' test accuracy and reruns, and what was left out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from optbench.report.findings import unfinished_finding
from optbench.report.sentences import Finding
from optbench.report.tables import mean_std_percent, mean_std_text
from optbench.report.tune_numbers import final_numbers, leaders, order_at, signed
from optbench.report.tune_words import and_list, gain_words, moved_text, score_text, space_text, values_text
from optbench.results import TrialResult, TuneResult
from optbench.text import format_value, plural


def _ranked(tune: TuneResult, scores: Mapping[str, float]) -> list[str]:
    finite = [o for o in tune.optimizers if math.isfinite(scores.get(o, math.nan))]
    return sorted(finite, key=lambda o: -signed(tune, scores[o]))


def _tied(ranked: Sequence[str], scores: Mapping[str, float]) -> list[str]:
    """The optimizers that share the best score (usually one)."""
    return [o for o in ranked if scores[o] == scores[ranked[0]]]


def _leaders_text(ranked: Sequence[str], scores: Mapping[str, float]) -> tuple[str, list[str]]:
    """`adam scores best` or `adagrad and adamw tie for best`, and the optimizers that follow."""
    tied = _tied(ranked, scores)
    who = f"{tied[0]} scores best" if len(tied) == 1 else f"{and_list(tied)} tie for best"
    return who, [o for o in ranked if o not in tied]


def _with_score(tune: TuneResult, value: float) -> str:
    """`with a final validation accuracy of 91.88%`."""
    article = "an" if tune.score_name[0] in "aeiou" else "a"
    return f"with {article} {tune.score_name} of {score_text(tune, value)}"


def _why(trials: Sequence[TrialResult]) -> str:
    """`3 diverged, 1 failed`: why these trials have no score."""
    counts = Counter(t.outcome for t in trials if not t.finite)
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


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
            text += f". Tuning changes the winner: at the defaults {and_list(before)} led"
    return Finding(text + ".", headline=True)


def _trial_text(trial: TrialResult) -> str:
    return "its defaults" if trial.number == 0 else f"trial {trial.number}: {values_text(trial)}"


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
    first, last = order_at(tune, 1), order_at(tune, common)
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
        parts.append((test[0], f"{optimizer} {mean_std_percent(test, seeds)}"))
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
        spread = mean_std_percent(val, seeds) if tune.metric == "val_acc" else mean_std_text(val, seeds)
        parts.append(f"{optimizer} {spread} (its trial: {score_text(tune, chosen.score)})")
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
        space = space_text(tune, optimizer)
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
        unfinished_finding(tune.experiment),
    ]
    return [f for f in out if f is not None]
