"""Tables: plain text for the terminal (`compare`, `optbench report`) and Markdown for report.md, with
the formats of their cells (a number, mean ± std, a share), which sentences use too."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from optbench.plain import value_at
from optbench.report.noise import Contender, lead_text, number_scale, percent_scale, rank
from optbench.report.variants import (
    VariantStats,
    nearest_minimum,
    selection_basis,
    status_counts,
    variant_stats,
)
from optbench.results import (
    SEED_KEYS,
    ActivationsResult,
    ExperimentResult,
    is_activations_folder,
    read_activations,
    read_experiment,
    shown_key,
)
from optbench.stats import mean_std
from optbench.text import format_value, text_table

# --------------------------------------------------------------------------------------------------
# Plain text tables (the terminal)
# --------------------------------------------------------------------------------------------------


def _column_keys(varied: Sequence[str]) -> list[str]:
    """The varied keys as table columns: seeds left out, a named section (model.init) shown whole."""
    columns: list[str] = []
    for key in varied:
        if key in SEED_KEYS:
            continue
        section = shown_key(key)
        if section not in columns:
            columns.append(section)
    return columns


def _spread(stats: tuple[float, float], n: int) -> str:
    """A loss as 'mean ± std' over seeds, the std to two significant digits: `2.3 ± 0.035`."""
    mean, std = stats
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.4g} ± {std:.2g}" if n > 1 else f"{mean:.4g}"


def variants_table(exp_folder: Path) -> str:
    """One row per variant in config order (what `compare` prints at the end): the varied values,
    the number of seeds, and the final loss and held-out accuracies as mean ± std over the seeds.

    For an `optbench activations` folder: each case's std and gradient norm in its first and last layer.
    """
    if is_activations_folder(exp_folder):
        return activation_summary_table(read_activations(exp_folder))
    exp = read_experiment(exp_folder)
    stats = [variant_stats(v) for v in exp.variants]
    keys = _column_keys(exp.varied)
    accuracies = [
        (name, attr)
        for name, attr in (("final_val_acc", "final_val_acc"), ("final_test_acc", "final_test_acc"))
        if any(math.isfinite(getattr(s, attr)[0]) for s in stats)
    ]
    unfinished = any(set(s.statuses) - {"completed"} for s in stats)
    named = bool(exp.labels) or not keys  # a config's `label:` names its variants before their keys
    header = [*(["variant"] if named else []), *keys, "seeds", "final_loss"]
    header += [name for name, _ in accuracies]
    header += ["runs"] if unfinished else []
    rows = []
    for s in stats:
        values = [value_at(s.variant.config, k) for k in keys]
        cells = [s.label] if named else []
        cells += [format_value(v) if v is not None else "" for v in values]
        cells += [str(len(s.variant.runs)), _spread(s.final_loss, len(s.completed))]
        cells += [mean_std_text(getattr(s, attr), len(s.completed), ".4f") for _, attr in accuracies]
        cells += [status_counts(s.statuses)] if unfinished else []
        rows.append(cells)
    return text_table(header, rows) + top_line(exp.kind, stats)


def top_line(kind: str, stats: Sequence[VariantStats]) -> str:
    """Under the terminal table: the top variant by held-out accuracy (final f for a function), and
    whether the seeds resolve its gap to the next (`noise.lead_text`); empty with fewer than two."""
    if kind == "dataset":
        basis = selection_basis(stats)
        what, scale = f"final {basis.name} accuracy", percent_scale()
        entries = [Contender(s.label, tuple(basis.values(s))) for s in stats]
    else:
        what, scale = "final f", number_scale()
        entries = [Contender(s.label, tuple(r.final_loss for r in s.completed)) for s in stats]
    order = rank(entries, larger_is_better=kind == "dataset")
    if len(order) < 2:
        return ""
    return f"top by {what}: {lead_text(order, scale, exact=kind != 'dataset').text}\n"


def activation_summary_table(result: ActivationsResult) -> str:
    """One line per case: std and ‖∂L/∂W‖ in the first and the last layer (what `optbench report` prints)."""
    header = ["case", "std first", "std last", "grad_norm first", "grad_norm last"]
    rows = [
        [
            c.label,
            f"{c['std'][0]:.4g}",
            f"{c['std'][-1]:.4g}",
            f"{c['grad_norm'][0]:.4g}",
            f"{c['grad_norm'][-1]:.4g}",
        ]
        for c in result.cases
    ]
    return text_table(header, rows)


# --------------------------------------------------------------------------------------------------
# Markdown tables (report.md)
# --------------------------------------------------------------------------------------------------


SIGNIFICANT = 3
"""Significant digits of the smallest nonzero number of a report column: the column's other numbers get
as many decimals, so that a column's numbers line up and compare at a glance."""
MAX_DECIMALS = 6
"""A column whose smallest number needs more decimals than this, ..."""
LARGEST_FIXED = 1e5
"""... or that holds a number this large, is written in scientific notation, SIGNIFICANT digits each."""
PERCENT_DECIMALS = 1
"""Decimals of a column of percentages; a share that is not 0 but rounds to 0 is written <0.1%."""


def number_text(value: float, fmt: str = ".4g") -> str:
    """A number in the given format; — where there is none (NaN, inf)."""
    return format(value, fmt) if math.isfinite(value) else "—"


def mean_std_text(stats: tuple[float, float], n: int, fmt: str = ".4g") -> str:
    """`mean ± std` over n seeds, the mean alone for one; — where there is none."""
    mean, std = stats
    if not math.isfinite(mean):
        return "—"
    return f"{mean:{fmt}} ± {std:{fmt}}" if n > 1 else f"{mean:{fmt}}"


def mean_std_percent(stats: tuple[float, float], n: int) -> str:
    """An accuracy's `mean ± std` over n seeds in percent, `91.23 ± 0.12%`; the mean alone for one."""
    mean, std = stats
    if not math.isfinite(mean):
        return "—"
    return f"{mean * 100:.2f} ± {std * 100:.2f}%" if n > 1 else f"{mean:.2%}"


def column_format(values: Iterable[float]) -> str:
    """The one format of a column of numbers (for `format`): fixed-point with the decimals its smallest
    nonzero magnitude needs for SIGNIFICANT digits, or scientific (see MAX_DECIMALS, LARGEST_FIXED)."""
    magnitudes = [abs(v) for v in values if math.isfinite(v) and v != 0]
    if not magnitudes:
        return ".0f"
    decimals = max(0, SIGNIFICANT - 1 - math.floor(math.log10(min(magnitudes))))
    if decimals > MAX_DECIMALS or max(magnitudes) >= LARGEST_FIXED:
        return f".{SIGNIFICANT - 1}e"
    return f".{decimals}f"


def number_cells(values: Sequence[float], fmt: str | None = None) -> list[str]:
    """A column of numbers in one format (`column_format` unless given); — where there is none."""
    fmt = fmt or column_format(values)
    return [number_text(v, fmt) for v in values]


def mean_std_cells(
    stats: Sequence[tuple[float, float]], counts: Sequence[int], fmt: str | None = None
) -> list[str]:
    """A column of `mean ± std` (the mean alone for one seed), mean and std in the column's one format."""
    fmt = fmt or column_format([mean for mean, _ in stats])
    return [mean_std_text(stat, n, fmt) for stat, n in zip(stats, counts)]


def percent_cells(fractions: Sequence[float]) -> list[str]:
    """A column of shares as percentages with PERCENT_DECIMALS decimals; — where there is none."""
    smallest = 0.5 * 10.0**-PERCENT_DECIMALS
    cells = []
    for fraction in fractions:
        percent = fraction * 100
        if not math.isfinite(percent):
            cells.append("—")
        elif 0 < abs(percent) < smallest:
            cells.append(f"<{smallest * 2:.{PERCENT_DECIMALS}f}%")
        else:
            cells.append(f"{percent:.{PERCENT_DECIMALS}f}%")
    return cells


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """A Markdown table: a column right-aligned where `right` says, `|` in a cell escaped."""

    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---:" if r else "---" for r in right) + " |",
    ]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def variants_md_table(exp: ExperimentResult, stats: Sequence[VariantStats]) -> str:
    """report.md's table of variants: seeds, final loss and held-out accuracies (dataset) or final f
    and distance to the nearest minimum (function), wall time, runs by status."""
    completed = [len(s.completed) for s in stats]
    finished = [len(s.variant.finished) for s in stats]
    if exp.kind == "dataset":
        val = selection_basis(stats).validation
        header = [
            "variant",
            "seeds",
            "final training loss",
            *(["final validation accuracy"] if val else []),
            "final test accuracy",
            "wall time (s)",
            "runs",
        ]
        columns = [
            [s.label for s in stats],
            [str(n) for n in finished],
            mean_std_cells([s.final_loss for s in stats], completed),
            *([mean_std_cells([s.final_val_acc for s in stats], completed, ".4f")] if val else []),
            mean_std_cells([s.final_test_acc for s in stats], completed, ".4f"),
            mean_std_cells([s.wall_s for s in stats], finished, ".2f"),
            [status_counts(s.statuses) for s in stats],
        ]
        right = [False, True, True, *([True] if val else []), True, True, False]
        return md_table(header, [list(row) for row in zip(*columns)], right)
    header = ["variant", "seeds", "final f", "distance to nearest minimum", "wall time (s)", "runs"]
    distances = [[m[0] for r in s.completed if (m := nearest_minimum(r)) is not None] for s in stats]
    columns = [
        [s.label for s in stats],
        [str(n) for n in finished],
        mean_std_cells([s.final_loss for s in stats], completed),
        mean_std_cells([mean_std(d) for d in distances], [len(d) for d in distances]),
        mean_std_cells([s.wall_s for s in stats], finished, ".3f"),
        [status_counts(s.statuses) for s in stats],
    ]
    return md_table(header, [list(row) for row in zip(*columns)], [False, True, True, True, True, False])


def runs_md_table(exp: ExperimentResult) -> str:
    """report.md's table of runs: each run's seed, status, final numbers and wall time."""
    dataset = exp.kind == "dataset"
    val = dataset and any(math.isfinite(r.final_val_acc) for r in exp.runs)
    accuracies = [("final validation accuracy", "final_val_acc")] if val else []
    accuracies += [("final test accuracy", "final_test_acc")] if dataset else []
    loss = "final training loss" if dataset else "final f"
    header = ["run", "seed", "status", loss, *(name for name, _ in accuracies), "wall time (s)"]
    walls = [r.status.get("wall_s") for r in exp.runs]
    columns = [
        [f"`{r.run_id}`" for r in exp.runs],
        [str(r.seed) if r.config else "" for r in exp.runs],
        [r.state + (f" at step {r.diverged_step}" if r.diverged_step is not None else "") for r in exp.runs],
        number_cells([r.final_loss for r in exp.runs]),
        *(number_cells([getattr(r, attr) for r in exp.runs], ".4f") for _, attr in accuracies),
        [format(w, ".2f" if dataset else ".3f") if isinstance(w, (int, float)) else "" for w in walls],
    ]
    right = [False, True, False, True, *(True for _ in accuracies), True]
    return md_table(header, [list(row) for row in zip(*columns)], right)
