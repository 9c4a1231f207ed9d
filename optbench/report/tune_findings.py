"""The sentences of a tuning study's report (`tune_findings`), each computed from its files: the
defaults and the full budget compared, whether the leader changes with the budget, how far tuning
moved each optimizer, the chosen settings' test accuracy and reruns, and what was left out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from optbench.report.findings import unfinished_finding
from optbench.report.noise import Contender, Lead, Scale, lead_text, number_scale, percent_scale, rank
from optbench.report.search_region import region_findings
from optbench.report.sentences import Finding, and_list
from optbench.report.tables import mean_std_percent, mean_std_text
from optbench.report.tune_numbers import final_numbers, leaders, order_at, signed
from optbench.report.tune_words import gain_words, moved_text, score_text, space_text, values_text
from optbench.results import RunResult, TrialResult, TuneResult
from optbench.text import format_value, plural


def _ranked(tune: TuneResult, trials: Mapping[str, TrialResult]) -> list[Contender]:
    """The optimizers whose trial has a score, best first, each with its seeds' scores."""
    entries = [
        Contender(o, trials[o].run_scores) for o in tune.optimizers if o in trials and trials[o].finite
    ]
    return sorted(entries, key=lambda c: -signed(tune, trials[c.label].score))


def scale_of(tune: TuneResult) -> Scale:
    """How a study's scores and their differences are written (an accuracy in percent and points)."""
    return percent_scale() if tune.metric == "val_acc" else number_scale(tune.maximise)


def _leading(tune: TuneResult, order: Sequence[Contender]) -> tuple[Lead, list[Contender]]:
    """The top of a ranking of a study's optimizers in words, and the others it does not name."""
    lead = lead_text(order, scale_of(tune), exact=tune.kind == "function")
    named = {*lead.leaders, order[1].label}
    return lead, [c for c in order if c.label not in named]


def _then(tune: TuneResult, rest: Sequence[Contender]) -> str:
    return "then " + ", ".join(f"{c.label} {score_text(tune, c.mean)}" for c in rest) if rest else ""


def _why(trials: Sequence[TrialResult]) -> str:
    """`3 diverged, 1 failed`: why these trials have no score."""
    counts = Counter(t.outcome for t in trials if not t.finite)
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


def _defaults_finding(tune: TuneResult) -> Finding | None:
    defaults = {o: d for o in tune.optimizers if (d := tune.default(o)) is not None}
    order = _ranked(tune, defaults)
    missing = [o for o in tune.optimizers if o in defaults and not defaults[o].finite]
    if not order:
        return Finding("No optimizer's defaults (trial 0) gave a score.", headline=True) if defaults else None
    if len(order) == 1:
        best = order[0]
        article = "an" if tune.score_name[0] in "aeiou" else "a"
        whose, who = ("its", best.label) if len(tune.optimizers) == 1 else ("their", f"only {best.label}")
        text = (
            f"At {whose} defaults (trial 0), {who} scores, with {article} {tune.score_name} of "
            f"{score_text(tune, best.mean)}"
        )
    else:
        lead, rest = _leading(tune, order)
        then = _then(tune, rest)
        text = f"At their defaults (trial 0), by {tune.score_name}: {lead.text}" + (
            f" ({then})" if then else ""
        )
    if missing:
        reasons = ", ".join(f"{o} ({defaults[o].outcome})" for o in missing)
        text += f"; the defaults of {reasons} gave no score"
    return Finding(text + ".", headline=True)


def _budget_finding(tune: TuneResult) -> Finding | None:
    chosen = {o: c for o in tune.optimizers if (c := tune.chosen(o)) is not None}
    if not chosen or tune.budget <= 1:
        return None
    order = _ranked(tune, chosen)
    first = chosen[order[0].label]
    text = (
        f"With the full budget of {plural(tune.budget, 'trial')} each, the best trial by {tune.score_name}: "
    )
    if len(order) == 1:
        return Finding(
            text + f"{order[0].label} {score_text(tune, first.score)} ({_trial_text(first)}).", headline=True
        )
    lead, rest = _leading(tune, order)
    text += lead.text
    details = [f"{order[0].label}'s {_trial_text(first)}"] if len(lead.leaders) == 1 else []
    details += [_then(tune, rest)] if rest else []
    text += f" ({'; '.join(details)})" if details else ""
    defaults = {o: d for o in tune.optimizers if (d := tune.default(o)) is not None}
    at_defaults = _ranked(tune, defaults)
    if at_defaults:
        before = order_leaders(tune, at_defaults)
        if set(lead.leaders) <= set(before):
            text += ". " + ("It" if len(lead.leaders) == 1 else "They") + " also led at the defaults"
        else:
            text += f". The lead changes with tuning: at the defaults {and_list(before)} led"
    return Finding(text + ".", headline=True)


def order_leaders(tune: TuneResult, order: Sequence[Contender]) -> list[str]:
    """Who leads a ranking: the first alone, or every optimizer within noise of it (see `lead_text`)."""
    return [order[0].label] if len(order) == 1 else list(_leading(tune, order)[0].leaders)


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
    order = _final_order(tune, lambda run, _: run.final_test_acc, larger=True)
    if len(order) > 1:
        text += f". Highest on test: {lead_text(order, percent_scale()).text}"
    return Finding(text + ".", headline=True)


def _final_order(
    tune: TuneResult, value: Callable[[RunResult, float], float], larger: bool
) -> list[Contender]:
    """The optimizers' final reruns as a ranking by `value(run, its score)` over their completed runs."""
    entries = []
    for optimizer in tune.optimizers:
        final = tune.final(optimizer)
        if final is None:
            continue
        scores = final.run_scores or tuple(math.nan for _ in final.runs)
        values = tuple(value(r, s) for r, s in zip(final.runs, scores) if r.state == "completed")
        entries.append(Contender(optimizer, values))
    return rank(entries, larger)


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
    order = _final_order(tune, lambda _, score: score, larger=tune.maximise)
    if len(order) > 1:
        text += f". Best on the final seeds: {lead_text(order, scale_of(tune)).text}"
    return Finding(text + ".", headline=True)


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
        *region_findings(tune),
        unfinished_finding(tune.experiment),
    ]
    return [f for f in out if f is not None]
