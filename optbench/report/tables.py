"""Tables: plain text for the terminal (`compare`, `optbench report`) and Markdown for report.md."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from optbench.errors import OptbenchError
from optbench.layout import SUMMARY_FILE
from optbench.report.variants import VariantStats, _fmt, _pm, _status_counts, nearest_minimum, selection_basis
from optbench.results import (
    ActivationsResult,
    ExperimentResult,
    is_activations_folder,
    read_activations,
    read_rows,
)
from optbench.stats import (
    mean_std,
)
from optbench.text import (
    text_table,
)

# --------------------------------------------------------------------------------------------------
# Plain text tables (the terminal)
# --------------------------------------------------------------------------------------------------


def _cell(text: str, fmt: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return format(value, fmt) if math.isfinite(value) else text


def summary_table(exp_folder: Path) -> str:
    """A compact table of summary.csv: run id, status, final loss, final test accuracy, wall time.

    For an `optbench activations` folder: each case's std and gradient norm in its first and last layer.
    """
    if is_activations_folder(exp_folder):
        return activation_summary_table(read_activations(exp_folder))
    try:
        rows = read_rows(exp_folder / SUMMARY_FILE)
    except OSError:
        raise OptbenchError(
            f"{exp_folder}: no readable {SUMMARY_FILE}; not an optbench experiment folder"
        ) from None
    accuracies = [c for c in ("final_val_acc", "final_test_acc") if any(r.get(c) for r in rows)]
    header = ["run_id", "status", "final_loss", *accuracies, "wall_s"]
    body = []
    for row in rows:
        status = row.get("status", "")
        if status == "diverged" and row.get("diverged_step"):
            status = f"diverged at {row['diverged_step']}"
        cells = [row.get("run_id", ""), status, _cell(row.get("final_loss", ""), ".6g")]
        cells += [_cell(row.get(c, ""), ".4f") for c in accuracies]
        cells.append(_cell(row.get("wall_s", ""), ".3g"))
        body.append(cells)
    return text_table(header, body)


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
        rows = [
            [
                s.label,
                str(len(s.variant.finished)),
                _pm(s.final_loss, len(s.completed)),
                *([_pm(s.final_val_acc, len(s.completed), ".4f")] if val else []),
                _pm(s.final_test_acc, len(s.completed), ".4f"),
                _pm(s.wall_s, len(s.variant.finished), ".2f"),
                _status_counts(s.statuses),
            ]
            for s in stats
        ]
        return _md_table(header, rows, [False, True, True, *([True] if val else []), True, True, False])
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
    val = dataset and any(math.isfinite(r.final_val_acc) for r in exp.runs)
    accuracies = [("final validation accuracy", "final_val_acc")] if val else []
    accuracies += [("final test accuracy", "final_test_acc")] if dataset else []
    header = ["run", "seed", "status", "final loss", *(name for name, _ in accuracies), "wall time (s)"]
    rows = []
    for r in exp.runs:
        status = r.state + (f" at step {r.diverged_step}" if r.diverged_step is not None else "")
        wall = r.status.get("wall_s")
        row = [f"`{r.run_id}`", str(r.seed) if r.config else "", status, _fmt(r.final_loss, ".6g")]
        row += [_fmt(getattr(r, attr), ".4f") for _, attr in accuracies]
        row.append(f"{wall:.3g}" if isinstance(wall, (int, float)) else "")
        rows.append(row)
    return _md_table(header, rows, [False, True, False, True, *(True for _ in accuracies), True])
