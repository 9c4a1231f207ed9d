"""The resolved runs of a config as text for the terminal: what `--dry-run` prints."""

from __future__ import annotations

from optbench.config.schema import Experiment
from optbench.config.serialise import to_dict
from optbench.plain import value_at
from optbench.text import format_value, plural, text_table


def runs_table(exp: Experiment) -> str:
    """The resolved runs of a config (what --dry-run prints): run id and each varied value, then a count."""
    header = ["run_id", *exp.varied]
    rows = [[run.run_id, *(format_value(value_at(to_dict(run), k)) for k in exp.varied)] for run in exp.runs]
    return text_table(header, rows) + plural(len(exp.runs), "run") + "\n"
