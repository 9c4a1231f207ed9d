"""An experiment folder: experiment.yaml and every run it lists (`ExperimentResult`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optbench.errors import OptbenchError
from optbench.layout import EXPERIMENT_FILE, RUNS_DIR
from optbench.results.files import read_yaml
from optbench.results.runs import RunResult, read_run
from optbench.results.variants import Variant, group_variants
from optbench.stats import TARGET_ACCURACY


@dataclass(frozen=True)
class ExperimentResult:
    """An experiment folder: experiment.yaml and every run it lists."""

    folder: Path
    name: str
    description: str
    source: str
    kind: str
    varied: tuple[str, ...]
    runs: tuple[RunResult, ...]
    command: str = ""
    """The command line that defined the experiment (empty in folders written before it was recorded)."""
    overrides: tuple[Mapping[str, Any], ...] = ()
    """Each KEY=VALUE of that command: {key, file, used}, the file's value and the one the runs used."""
    target_accuracy: float = TARGET_ACCURACY
    """The held-out accuracy that defines time to target (the config's report.target_accuracy)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """The `label:` the config gives a run, by run id: its variant's name in legends, tables, reports."""

    def __repr__(self) -> str:
        return f"ExperimentResult({self.name!r}, {self.kind}, {len(self.runs)} runs)"

    @property
    def variants(self) -> list[Variant]:
        return group_variants(self.runs, self.varied, self.labels)

    @property
    def finished_variants(self) -> list[Variant]:
        """Variants with at least one finished run: what the figures and the statistics show."""
        return [v for v in self.variants if v.finished]


def read_experiment(folder: Path) -> ExperimentResult:
    """An experiment folder written by `optbench compare`; OptbenchError if it is not one."""
    info = read_yaml(folder / EXPERIMENT_FILE)
    if not isinstance(info, dict):
        raise OptbenchError(f"{folder}: no readable {EXPERIMENT_FILE}; not an optbench experiment folder")
    run_ids = [str(r) for r in info.get("runs") or []]
    return ExperimentResult(
        folder=folder,
        name=str(info.get("experiment", folder.name)),
        description=str(info.get("description") or ""),
        source=str(info.get("source") or ""),
        kind=str(info.get("kind", "dataset")),
        varied=tuple(str(k) for k in info.get("varied") or ()),
        runs=tuple(read_run(folder / RUNS_DIR / run_id) for run_id in run_ids),
        command=str(info.get("command") or ""),
        overrides=tuple(o for o in info.get("overrides") or () if isinstance(o, Mapping)),
        target_accuracy=_target(info.get("report")),
        labels=_labels(info.get("labels")),
    )


def _labels(recorded: Any) -> dict[str, str]:
    if not isinstance(recorded, Mapping):
        return {}
    return {str(k): str(v) for k, v in recorded.items() if isinstance(v, str) and v.strip()}


def _target(report: Any) -> float:
    value = report.get("target_accuracy") if isinstance(report, dict) else None
    return (
        float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else TARGET_ACCURACY
    )
