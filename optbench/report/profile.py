"""The performance profile section of index.md, for two or more tuning studies: what the profile
compares and what each value rests on, then for each kind of task its own table (every optimizer's
value and ratio on each study, and its share of studies within a factor τ of the best at the
PROFILE_TAUS of that kind), and the figure."""

from __future__ import annotations

import math

from optbench.report.tables import md_table
from optbench.results import PerformanceProfile, ProfileTask

PROFILE_TAUS: dict[str, tuple[float, ...]] = {
    "2-D functions": (1.0, 10.0, 1e3, 1e6),
    "datasets": (1.0, 1.1, 1.25, 1.5, 2.0),
}
"""The factors τ at which index.md's tables give each optimizer's share of tasks (1: best on it), by
kind of task: ratios of f − f* span orders of magnitude, ratios of error rates a few tens of per cent."""
OTHER_TAUS = (1.0, 1.1, 2.0, 10.0)
"""... and for a kind not listed there."""

EXPLANATION = (
    "For each optimizer, the share of studies on which its value is within a factor τ of the best "
    "optimizer's value there, ρ(τ) = (studies with value ≤ τ × best) / (studies), drawn as a step "
    "function of τ from τ = 1 (the share of studies on which it is the best) on a log axis (AlgoPerf, "
    "Dahl et al. 2023; Dolan & Moré 2002). An optimizer's value on a study is the score of its chosen "
    "setting, averaged over seeds, on validation: the mean over its final reruns where the study reran "
    "its choices (the `final` row of the study's trials.csv), else the chosen trial's own score (its "
    "`best_score` in tune.csv; a 2-D function has no randomness and is not rerun). Ratios are taken of "
    "a quantity where lower is better: for an accuracy the validation error rate, 1 − accuracy, "
    "relative to the best error; for a loss the loss relative to the best loss; for a function with a "
    "known minimum f − f* relative to the best f − f*. An optimizer without a value on a study (not "
    "tuned there, or a rerun seed without a score) is never within τ, and when the best value is 0 "
    "every other is infinitely far. Each kind of task has its own profile and axis: ratios of f − f* "
    "span orders of magnitude where ratios of error rates span per cents, and on one axis either would "
    "hide the other."
)


SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def tau_text(tau: float) -> str:
    """τ as a table heading writes it: 1.25, 1000, and 10⁴ onwards as a power of ten."""
    return f"{tau:g}" if tau < 1e4 else "10" + str(round(math.log10(tau))).translate(SUPERSCRIPTS)


def _value_text(task: ProfileTask, value: float) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:.2%}" if task.quantity.startswith("validation error") else f"{value:.3g}"


def _ratio_text(ratio: float) -> str:
    if not math.isfinite(ratio):
        return "—"
    return "best" if ratio == 1.0 else f"×{ratio:.3g}"


def _kind_section(heading: str, profile: PerformanceProfile) -> str:
    tasks = len(profile.tasks)
    studies = ", ".join(f"{t.name} ({t.quantity}; {t.source})" for t in profile.tasks)
    text = f"### {heading}\n\n{tasks} {'study' if tasks == 1 else 'studies'}: {studies}.\n\n"
    taus = PROFILE_TAUS.get(heading, OTHER_TAUS)
    header = [
        "optimizer",
        *(f"{t.name}: value (ratio)" for t in profile.tasks),
        *(f"τ = {tau_text(tau)}" + (" (best)" if tau == 1 else "") for tau in taus),
    ]
    shares = [profile.share(tau) for tau in taus]
    rows = []
    for i, optimizer in enumerate(profile.optimizers):
        cells = [
            f"{_value_text(t, t.values[i])} ({_ratio_text(float(profile.ratios[i, j]))})"
            if optimizer in t.tuned
            else "not tuned"
            for j, t in enumerate(profile.tasks)
        ]
        cells += [f"{round(share[i] * tasks)} of {tasks}" for share in shares]
        rows.append([optimizer, *cells])
    return text + md_table(header, rows, [False, *([True] * (len(header) - 1))])


def profile_section(profile: PerformanceProfile, figure: str | None) -> str:
    """index.md's performance profile: what it compares, a table per kind of task, the figure."""
    parts = [f"## Performance profile\n\nOver the {len(profile.tasks)} tuning studies above. {EXPLANATION}\n"]
    parts += [_kind_section(heading, part) for heading, part in profile.by_kind()]
    if figure:
        parts.append(f"![performance profile]({figure})\n")
    return "\n".join(parts)
