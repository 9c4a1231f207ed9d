"""The plugin code an experiment's runs used, as its report and the index say it.

Read from each run's status.json (its `plugins` list), so a report redrawn later still says which
file (by its SHA-256 and the copy the experiment folder keeps) or which installed version made each
run's numbers; a formula function and an .npz dataset are named by their config values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optbench.plain import value_at
from optbench.results import ExperimentResult

SHA_SHOWN = 12
"""Hex digits of a SHA-256 a report shows: enough to tell two versions of a file apart."""


def _code(entry: Mapping[str, Any], where: str) -> str:
    """A plugin's code in a table cell: its kept copy (linked from `where`, the experiment folder
    as seen from the page) and hash, or its distribution and version."""
    sha = entry.get("sha256")
    if sha is not None:
        copy = entry.get("copy")
        short = f"sha256 {str(sha)[:SHA_SHOWN]}"
        return f"[{copy}]({where}{copy}) ({short})" if copy else short
    if entry.get("distribution"):
        return f"{entry['distribution']} {entry.get('version') or '(version unknown)'}"
    return "a module outside any installed distribution"


def plugin_uses(exp: ExperimentResult, where: str = "") -> dict[tuple[str, str], list[str]]:
    """(plugin spec, its code as a cell) -> the run ids that used that code, in the runs' order."""
    uses: dict[tuple[str, str], list[str]] = {}
    for run in exp.runs:
        for entry in run.status.get("plugins") or []:
            if isinstance(entry, Mapping) and "spec" in entry:
                uses.setdefault((str(entry["spec"]), _code(entry, where)), []).append(run.run_id)
        formula = value_at(run.config, "task.function")
        if isinstance(formula, Mapping):
            uses.setdefault((f"formula {formula.get('formula')}", "SymPy"), []).append(run.run_id)
        sha = value_at(run.config, "task.sha256")
        if sha is not None:
            dataset = str(value_at(run.config, "task.dataset"))
            uses.setdefault((dataset, f"sha256 {str(sha)[:SHA_SHOWN]}"), []).append(run.run_id)
    return uses


def plugins_section(exp: ExperimentResult) -> str:
    """`## Plugin code`: each plugin, the code the runs used, and which runs (empty without plugins)."""
    uses = plugin_uses(exp)
    if not uses:
        return ""
    rows = [
        f"| `{spec}` | {code} | {', '.join(f'`{r}`' for r in runs)} |" for (spec, code), runs in uses.items()
    ]
    return (
        "## Plugin code\n\nThe code outside optbench that each run used; a changed file is a new "
        "version, and its runs are new runs.\n\n| plugin | code | runs |\n|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )


def plugins_line(exp: ExperimentResult, where: str) -> str:
    """One line for the index (`where`: the experiment folder from it): the plugins and their code
    versions (empty without plugins)."""
    uses = plugin_uses(exp, where)
    if not uses:
        return ""
    listed = "; ".join(f"`{spec}` {code} ({len(runs)} runs)" for (spec, code), runs in uses.items())
    return f"Plugin code: {listed}\n"
