"""Tables and report.md: what the runs of an experiment show, in numbers and in plain sentences.

Every sentence is generated from the files on disk (through `optbench.results`) and states only what
those numbers say. Statistics are over the seeds of a variant: final loss and final test accuracy
over its completed runs (a diverged run has no final value to average), wall time over its finished
runs.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optbench.config import Experiment
from optbench.config import value_at as config_value_at
from optbench.errors import OptbenchError
from optbench.files import atomic_write_text
from optbench.functions import FUNCTIONS, Objective
from optbench.plots import EXPERIMENT_FIGURES
from optbench.results import (
    CLASSES,
    TARGET_ACCURACY,
    ExperimentResult,
    RunResult,
    Variant,
    format_value,
    last_finite,
    mean_std,
    read_experiment,
    read_rows,
    time_to_target,
    value_at,
    variant_label,
)
from optbench.runner import SUMMARY_FILE

REPORT_FILE = "report.md"
INDEX_FILE = "index.md"

CHANCE_TOLERANCE = 0.05
"""A final training loss within this of ln(classes), the loss of a uniform guess, is chance level."""

NEAR_MINIMUM = 1e-3
"""A function run ends "at" a minimum when its last iterate is within this distance of it."""

STATUS_ORDER = ("completed", "diverged", "failed", "interrupted", "running", "pending")


# --------------------------------------------------------------------------------------------------
# Plain text tables (the terminal)
# --------------------------------------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, numbers right-aligned; every line ends with a newline."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    numeric = [bool(rows) and all(_is_number(r[i]) or r[i] == "" for r in rows) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return "  ".join(padded).rstrip() + "\n"

    return line(header) + "".join(line(r) for r in rows)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def runs_table(exp: Experiment) -> str:
    """The resolved runs of a config (what --dry-run prints): run id and each varied value, then a count."""
    header = ["run_id", *exp.varied]
    rows = [[run.run_id, *(format_value(config_value_at(run, k)) for k in exp.varied)] for run in exp.runs]
    return text_table(header, rows) + _plural(len(exp.runs), "run") + "\n"


def _cell(text: str, fmt: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return format(value, fmt) if math.isfinite(value) else text


def summary_table(exp_folder: Path) -> str:
    """A compact table of summary.csv: run id, status, final loss, final test accuracy, wall time."""
    try:
        rows = read_rows(exp_folder / SUMMARY_FILE)
    except OSError:
        raise OptbenchError(
            f"{exp_folder}: no readable {SUMMARY_FILE}; not an optbench experiment folder"
        ) from None
    with_acc = bool(rows) and "final_test_acc" in rows[0]
    header = ["run_id", "status", "final_loss", *(["final_test_acc"] if with_acc else []), "wall_s"]
    body = []
    for row in rows:
        status = row.get("status", "")
        if status == "diverged" and row.get("diverged_step"):
            status = f"diverged at {row['diverged_step']}"
        cells = [row.get("run_id", ""), status, _cell(row.get("final_loss", ""), ".6g")]
        if with_acc:
            cells.append(_cell(row.get("final_test_acc", ""), ".4f"))
        cells.append(_cell(row.get("wall_s", ""), ".3g"))
        body.append(cells)
    return text_table(header, body)


# --------------------------------------------------------------------------------------------------
# Numbers per variant
# --------------------------------------------------------------------------------------------------


def _fmt(value: float, fmt: str = ".4g") -> str:
    return format(value, fmt) if math.isfinite(value) else "—"


def _pm(stats: tuple[float, float], n: int, fmt: str = ".4g") -> str:
    """'mean ± std' over several seeds, the value alone for one."""
    mean, std = stats
    if not math.isfinite(mean):
        return "—"
    return f"{mean:{fmt}} ± {std:{fmt}}" if n > 1 else f"{mean:{fmt}}"


@dataclass(frozen=True)
class VariantStats:
    """A variant's numbers over its seeds."""

    variant: Variant
    completed: tuple[RunResult, ...]
    final_loss: tuple[float, float]
    final_test_acc: tuple[float, float]
    wall_s: tuple[float, float]
    statuses: Counter[str]

    @property
    def label(self) -> str:
        return self.variant.label


def variant_stats(variant: Variant) -> VariantStats:
    completed = tuple(r for r in variant.finished if r.state == "completed")
    walls = [
        float(r.status["wall_s"])
        for r in variant.finished
        if isinstance(r.status.get("wall_s"), (int, float))
    ]
    return VariantStats(
        variant=variant,
        completed=completed,
        final_loss=mean_std([r.final_loss for r in completed]),
        final_test_acc=mean_std([r.final_test_acc for r in completed]),
        wall_s=mean_std(walls),
        statuses=Counter(r.state for r in variant.runs),
    )


def _status_counts(counts: Counter[str]) -> str:
    order = [s for s in STATUS_ORDER if counts[s]] + sorted(s for s in counts if s not in STATUS_ORDER)
    return ", ".join(f"{counts[s]} {s}" for s in order)


def _objective(run: RunResult) -> Objective | None:
    return FUNCTIONS.get(str(value_at(run.config, "task.function")))


def final_point(run: RunResult) -> tuple[float, float] | None:
    """The last finite iterate (x, y) of a function run."""
    if run.metrics is None or "x" not in run.metrics:
        return None
    x, y = run.metrics["x"], run.metrics["y"]
    i = last_finite(run.metrics["step"], np.where(np.isfinite(y), x, np.nan))
    return None if i is None else (float(x[i]), float(y[i]))


def nearest_minimum(run: RunResult) -> tuple[float, tuple[float, float]] | None:
    """(distance, minimum) from a function run's last iterate to the nearest known global minimum."""
    objective, point = _objective(run), final_point(run)
    if objective is None or point is None or not objective.minima:
        return None
    return min((math.dist(point, m), m) for m in objective.minima)


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One sentence of the report; headlines also go into the index."""

    text: str
    headline: bool = False


def _seeds_note(n: int) -> str:
    return f", mean over {n} seeds" if n > 1 else ""


def _winner_findings(stats: Sequence[VariantStats], dataset: bool) -> list[Finding]:
    out = []
    losses = [s for s in stats if math.isfinite(s.final_loss[0])]
    what = "final training loss" if dataset else "final f"
    if len(losses) > 1:
        best = min(losses, key=lambda s: s.final_loss[0])
        out.append(
            Finding(
                f"Lowest {what}: {best.label} ({best.final_loss[0]:.4g}{_seeds_note(len(best.completed))}).",
                headline=True,
            )
        )
    elif len(losses) == 1:
        (only,) = losses
        out.append(
            Finding(
                f"{only.label} reached a {what} of {only.final_loss[0]:.4g}"
                f"{_seeds_note(len(only.completed))}.",
                headline=True,
            )
        )
    accs = [s for s in stats if math.isfinite(s.final_test_acc[0])]
    if dataset and len(accs) > 1:
        best = max(accs, key=lambda s: s.final_test_acc[0])
        out.append(
            Finding(
                f"Highest final test accuracy: {best.label} ({best.final_test_acc[0]:.2%}"
                f"{_seeds_note(len(best.completed))}).",
                headline=True,
            )
        )
    elif dataset and len(accs) == 1:
        (only,) = accs
        out.append(
            Finding(
                f"{only.label} reached a final test accuracy of {only.final_test_acc[0]:.2%}"
                f"{_seeds_note(len(only.completed))}.",
                headline=True,
            )
        )
    return out


def _time_to_target(stats: Sequence[VariantStats], target: float = TARGET_ACCURACY) -> Finding | None:
    """Steps each variant needed to reach the target test accuracy (first evaluation at or above it).

    Variants that never reached it are listed together, per step budget.
    """
    parts = []
    missed: dict[int, list[str]] = {}
    for s in stats:
        runs = s.variant.finished
        if not runs:
            continue
        hits = [time_to_target(*r.curve("test_acc"), target) for r in runs]
        reached = [h for h in hits if h is not None]
        budget = max(r.steps for r in runs)
        if not reached:
            missed.setdefault(budget, []).append(s.label)
        elif len(reached) == len(runs):
            parts.append(f"{s.label} {float(np.mean(reached)):g}{_seeds_note(len(runs))}")
        else:
            parts.append(
                f"{s.label} {float(np.mean(reached)):g} (mean of the {len(reached)} of {len(runs)} "
                f"seeds that reached it; the others not in {budget} steps)"
            )
    goal = f"{target:.0%} test accuracy"
    if not parts and not missed:
        return None
    if not parts:
        budgets = " or ".join(str(b) for b in sorted(missed))
        return Finding(f"No variant reached {goal} within {budgets} steps.")
    text = f"Steps to reach {goal} (the first evaluation at or above it): " + "; ".join(parts)
    for budget, labels in sorted(missed.items()):
        text += f"; not reached in {budget} steps: {', '.join(labels)}"
    return Finding(text + ".")


def _chance_findings(
    stats: Sequence[VariantStats], dataset: str | None, tolerance: float = CHANCE_TOLERANCE
) -> list[Finding]:
    classes = CLASSES.get(dataset or "")
    if classes is None:
        return []
    chance = math.log(classes)
    out = []
    for s in stats:
        stuck = [r for r in s.completed if abs(r.final_loss - chance) <= tolerance]
        if not stuck:
            continue
        where = f"within {tolerance:g} of ln {classes} = {chance:.4f}, the loss of a uniform guess"
        if len(stuck) == len(s.completed):
            loss = float(np.mean([r.final_loss for r in stuck]))
            out.append(
                Finding(
                    f"{s.label} did not learn: its final training loss ({loss:.4f}"
                    f"{_seeds_note(len(stuck))}) is {where}; it is stuck at chance level.",
                    headline=True,
                )
            )
        else:
            out.append(
                Finding(
                    f"{len(stuck)} of {len(s.completed)} seeds of {s.label} ended with a final "
                    f"training loss {where}: stuck at chance level.",
                    headline=True,
                )
            )
    return out


def _best_lr_findings(exp: ExperimentResult, stats: Sequence[VariantStats], dataset: bool) -> list[Finding]:
    if "optimizer.lr" not in exp.varied:
        return []
    groups: dict[str, list[VariantStats]] = {}
    for s in stats:
        key = variant_label(s.variant.config, exp.varied, exclude=("optimizer.lr",))
        groups.setdefault(key, []).append(s)
    out = []
    for label, members in groups.items():
        if len(members) < 2:
            continue
        if dataset:
            scored = [(s.final_test_acc[0], s) for s in members if math.isfinite(s.final_test_acc[0])]
            pick, measure = max, "final test accuracy"
        else:
            scored = [(-s.final_loss[0], s) for s in members if math.isfinite(s.final_loss[0])]
            pick, measure = max, "final f"
        if not scored:
            continue
        _, best = pick(scored, key=lambda item: item[0])
        value = f"{best.final_test_acc[0]:.2%}" if dataset else f"{best.final_loss[0]:.4g}"
        tried = ", ".join(
            f"{s.variant.lr:g}" + (" (diverged)" if not s.completed and s.variant.diverged else "")
            for s in sorted(members, key=lambda s: s.variant.lr)
        )
        out.append(
            Finding(
                f"Best learning rate for {label}: {best.variant.lr:g} ({measure} {value}; tried {tried}).",
                headline=True,
            )
        )
    return out


def _divergence_findings(stats: Sequence[VariantStats]) -> list[Finding]:
    out = []
    for s in stats:
        diverged = s.variant.diverged
        if not diverged:
            continue
        steps = [r.diverged_step for r in diverged if r.diverged_step is not None]
        at = ", ".join(str(step) for step in steps)
        n = len(s.variant.finished)
        seeds = "" if n == 1 else f" in {len(diverged)} of {n} seeds"
        out.append(Finding(f"{s.label} diverged{seeds} (loss not finite at step {at}).", headline=True))
    return out


def _unfinished_finding(exp: ExperimentResult) -> Finding | None:
    unfinished = [r for r in exp.runs if not r.finished]
    if not unfinished:
        return None
    counts = Counter(r.state for r in unfinished)
    errors = [f"{r.run_id}: {r.status['error']}" for r in unfinished if r.status.get("error")]
    text = f"{_plural(len(unfinished), 'run')} did not finish ({_status_counts(counts)})"
    return Finding(text + (": " + "; ".join(errors) if errors else "") + ".", headline=True)


def _function_findings(stats: Sequence[VariantStats]) -> list[Finding]:
    out = []
    near = []
    objectives = {o.name: o for s in stats for r in s.completed if (o := _objective(r)) is not None}
    for s in stats:
        if not s.completed:
            continue
        points = [p for r in s.completed if (p := final_point(r)) is not None]
        nearest = [m for r in s.completed if (m := nearest_minimum(r)) is not None]
        where = ""
        if points:
            x, y = np.mean([p[0] for p in points]), np.mean([p[1] for p in points])
            where = f" at ({x:.4g}, {y:.4g})"
        distance = ""
        if nearest:
            d = float(np.mean([m[0] for m in nearest]))
            mx, my = nearest[0][1]
            distance = f", {d:.3g} from the nearest minimum ({mx:.4g}, {my:.4g})"
            if all(m[0] <= NEAR_MINIMUM for m in nearest):
                near.append(s.label)
        out.append(
            Finding(
                f"{s.label}: final f = {s.final_loss[0]:.4g}{where}{distance}{_seeds_note(len(s.completed))}."
            )
        )
    if any(o.minima for o in objectives.values()):
        if near:
            out.append(
                Finding(f"Within {NEAR_MINIMUM:g} of a minimum at the end: {', '.join(near)}.", headline=True)
            )
        else:
            out.append(
                Finding(f"No variant ended within {NEAR_MINIMUM:g} of a known minimum.", headline=True)
            )
    for o in objectives.values():
        if not o.minima:
            out.append(Finding(f"{o.name} has no minimum (it is unbounded below), so no distance is given."))
    return out


def findings(exp: ExperimentResult) -> list[Finding]:
    """The report's sentences, each a plain statement of what the numbers on disk show."""
    stats = [variant_stats(v) for v in exp.finished_variants]
    dataset = exp.kind == "dataset"
    out = _winner_findings(stats, dataset)
    if dataset:
        target = _time_to_target(stats)
        out += [target] if target else []
        datasets = {str(value_at(s.variant.config, "task.dataset")) for s in stats}
        out += _chance_findings(stats, datasets.pop() if len(datasets) == 1 else None)
    else:
        out += _function_findings(stats)
    out += _best_lr_findings(exp, stats, dataset)
    out += _divergence_findings(stats)
    unfinished = _unfinished_finding(exp)
    out += [unfinished] if unfinished else []
    return out


# --------------------------------------------------------------------------------------------------
# report.md and index.md
# --------------------------------------------------------------------------------------------------


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---:" if r else "---" for r in right) + " |",
    ]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _variants_table(exp: ExperimentResult, stats: Sequence[VariantStats]) -> str:
    if exp.kind == "dataset":
        header = ["variant", "seeds", "final training loss", "final test accuracy", "wall time (s)", "runs"]
        rows = [
            [
                s.label,
                str(len(s.variant.finished)),
                _pm(s.final_loss, len(s.completed)),
                _pm(s.final_test_acc, len(s.completed), ".4f"),
                _pm(s.wall_s, len(s.variant.finished), ".2f"),
                _status_counts(s.statuses),
            ]
            for s in stats
        ]
        return _md_table(header, rows, [False, True, True, True, True, False])
    header = ["variant", "seeds", "final f", "distance to nearest minimum", "wall time (s)", "runs"]
    rows = []
    for s in stats:
        distances = [m[0] for r in s.completed if (m := nearest_minimum(r)) is not None]
        rows.append(
            [
                s.label,
                str(len(s.variant.finished)),
                _pm(s.final_loss, len(s.completed)),
                _pm(mean_std(distances), len(distances), ".3g"),
                _pm(s.wall_s, len(s.variant.finished), ".3f"),
                _status_counts(s.statuses),
            ]
        )
    return _md_table(header, rows, [False, True, True, True, True, False])


def _runs_md(exp: ExperimentResult) -> str:
    dataset = exp.kind == "dataset"
    header = [
        "run",
        "seed",
        "status",
        "final loss",
        *(["final test accuracy"] if dataset else []),
        "wall time (s)",
    ]
    rows = []
    for r in exp.runs:
        status = r.state + (f" at step {r.diverged_step}" if r.diverged_step is not None else "")
        wall = r.status.get("wall_s")
        row = [f"`{r.run_id}`", str(r.seed) if r.config else "", status, _fmt(r.final_loss, ".6g")]
        if dataset:
            row.append(_fmt(r.final_test_acc, ".4f"))
        row.append(f"{wall:.3g}" if isinstance(wall, (int, float)) else "")
        rows.append(row)
    return _md_table(header, rows, [False, True, False, True, *([True] if dataset else []), True])


def _task_line(exp: ExperimentResult) -> str:
    first = next((r for r in exp.runs if r.config), None)
    counts = Counter(r.state for r in exp.runs)
    runs = f"{_plural(len(exp.runs), 'run')} ({_status_counts(counts)})" if exp.runs else "no runs"
    if first is None:
        return f"{runs}."
    if exp.kind == "function":
        objective = _objective(first)
        task = f"function `{objective.name}`, f(x, y) = {objective.formula}" if objective else "a function"
    else:
        task = f"dataset `{value_at(first.config, 'task.dataset')}`"
        hidden = value_at(first.config, "model.hidden")
        if hidden:
            task += f", MLP with hidden layers {format_value(hidden)}"
    varied = ", ".join(f"`{k}`" for k in exp.varied) or "nothing"
    source = f"Config `{exp.source}`; " if exp.source else ""
    return f"{source}task: {task}; varied: {varied}; {runs}."


def figures_present(exp_folder: Path) -> list[str]:
    """The experiment's figure files that exist, in the report's order."""
    return [name for name in EXPERIMENT_FIGURES if (exp_folder / name).is_file()]


def report_text(exp: ExperimentResult) -> str:
    stats = [variant_stats(v) for v in exp.finished_variants]
    parts = [f"# {exp.name}\n"]
    if exp.description:
        parts.append(exp.description.strip() + "\n")
    parts.append(_task_line(exp) + "\n")
    sentences = findings(exp)
    if sentences:
        parts.append("## Findings\n")
        parts.append("".join(f"- {f.text}\n" for f in sentences))
    if stats:
        note = (
            " Mean ± std over seeds; final values over completed runs."
            if any(len(s.variant.finished) > 1 for s in stats)
            else ""
        )
        parts.append(f"## Variants\n\nRuns that differ only in their seed form one variant.{note}\n")
        parts.append(_variants_table(exp, stats))
    figures = figures_present(exp.folder)
    if figures:
        parts.append("## Figures\n")
        parts.append("\n".join(f"![{Path(name).stem}]({name})\n" for name in figures))
    parts.append("## Runs\n")
    parts.append(_runs_md(exp))
    return "\n".join(parts)


def write_report(exp_folder: Path) -> Path:
    """Write <exp_folder>/report.md (atomically) from the files of the experiment; returns its path."""
    exp = read_experiment(exp_folder)
    path = exp_folder / REPORT_FILE
    atomic_write_text(path, report_text(exp))
    return path


def headlines(exp_folder: Path) -> list[str]:
    """The headline sentences of an experiment's findings (what the index shows)."""
    return [f.text for f in findings(read_experiment(exp_folder)) if f.headline]


def _link(target: Path, root: Path) -> str:
    return Path(os.path.relpath(target, root)).as_posix()


def write_index(out_root: Path, exp_folders: list[Path]) -> Path:
    """Write <out_root>/index.md linking each experiment's report and figures, with its headlines."""
    parts = ["# optbench results\n"]
    for folder in exp_folders:
        exp = read_experiment(folder)
        parts.append(f"## [{exp.name}]({_link(folder / REPORT_FILE, out_root)})\n")
        if exp.description:
            parts.append(exp.description.strip() + "\n")
        lines = [f"- {f.text}\n" for f in findings(exp) if f.headline]
        if lines:
            parts.append("".join(lines))
        figures = figures_present(folder)
        if figures:
            links = " · ".join(f"[{Path(name).stem}]({_link(folder / name, out_root)})" for name in figures)
            parts.append(f"Figures: {links}\n")
    path = out_root / INDEX_FILE
    out_root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(parts))
    return path


__all__: list[str] = [
    "CHANCE_TOLERANCE",
    "NEAR_MINIMUM",
    "Finding",
    "findings",
    "headlines",
    "runs_table",
    "summary_table",
    "write_index",
    "write_report",
]
