"""One definition per experiment folder: the runs a command resolved, recorded in experiment.yaml.

experiment.yaml says what the folder is: the experiment's name, description, source file, kind, the
keys it varies, its run ids in order (and the labels its config gives them), the command line that
defined it, and every override with the value the file had. A second command into the same folder
follows one rule, so that experiments never mix and no run is ever hidden:

- the same runs, or more (a grid extended, seeds added): its runs become the definition, and the
  runs already finished are skipped;
- some of the recorded runs only (`train` of a compare's first run, a grid narrowed on the command
  line): those run, and the recorded definition stays; the summary still lists every one of its runs;
- `train` into a folder that `train` defined: the definition grows by the new run, so a folder of
  runs trained one by one lists them all;
- anything else (a setting changed, so its runs are other runs): refused, with the command that
  defined the folder and the two ways to keep both, `experiment=NAME` or `--out DIR`; when what
  changed is the code of a plugin file (or an installed plugin's version), the refusal says so.

Run folders under runs/ that experiment.yaml does not list count as recorded too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from optbench.config import Experiment, RunConfig, differing_keys, validate_run
from optbench.errors import UsageError
from optbench.files import atomic_write_text
from optbench.layout import CONFIG_FILE, EXPERIMENT_FILE, RUNS_DIR, read_status
from optbench.plugins import PluginCode
from optbench.text import plural


@dataclass(frozen=True)
class Scope:
    """What a sweep keeps current for one folder: the runs its summary lists and the varied keys.

    `runs` are the command's runs and, when it runs part of the recorded definition, the definition's
    other runs as their config.yaml resolves them; `unknown` are recorded runs without a config.yaml
    yet (never started), listed by id alone.
    """

    runs: tuple[RunConfig, ...]
    varied: tuple[str, ...]
    unknown: tuple[str, ...]
    statuses: dict[str, dict[str, Any]]


def read_definition(folder: Path) -> dict[str, Any] | None:
    """experiment.yaml as plain data, or None if the folder has none (or it cannot be read)."""
    try:
        data = yaml.safe_load((folder / EXPERIMENT_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def _recorded_runs(folder: Path, recorded: dict[str, Any] | None) -> list[str]:
    listed = [str(r) for r in (recorded or {}).get("runs") or []]
    runs_dir = folder / RUNS_DIR
    if not runs_dir.is_dir():
        return listed
    found = sorted(p.name for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    return listed + [r for r in found if r not in set(listed)]


def scope(folder: Path, exp: Experiment) -> tuple[Scope, Experiment | None]:
    """What the command may do in `folder`, and the definition to record there (None: keep it).

    Raises UsageError (nothing written) when the folder holds another definition.
    """
    recorded = read_definition(folder)
    known = _recorded_runs(folder, recorded)
    mine = {run.run_id for run in exp.runs}
    if set(known) <= mine:
        return Scope(exp.runs, exp.varied, (), {}), exp
    others, unknown = [], []
    for run_id in known:
        if run_id not in mine:
            run = _resolved(folder / RUNS_DIR / run_id)
            if run is None:
                unknown.append(run_id)
            else:
                others.append(run)
    statuses = {r.run_id: read_status(folder / RUNS_DIR / r.run_id) or {} for r in others}
    if mine <= set(known):
        varied = tuple(str(k) for k in (recorded or {}).get("varied") or exp.varied)
        return Scope((*exp.runs, *others), varied, tuple(unknown), statuses), None
    command = str((recorded or {}).get("command") or "")
    changed = _changed_code(others, exp.runs)
    if changed:
        raise UsageError(
            f"{folder}: its runs were made with other plugin code ({changed}); the code now makes new "
            "runs, and one experiment holds one version of each plugin: keep both with experiment=NAME "
            f"or --out DIR, or remove {folder}"
        )
    if _verb(command) == _verb(exp.command) == "train":
        runs = (*others, *exp.runs)
        grown = dataclasses.replace(exp, runs=runs, varied=differing_keys(runs))
        return Scope(runs, grown.varied, tuple(unknown), statuses), grown
    made_by = f"defined by `{command}`" if command else "defined by an earlier command"
    raise UsageError(
        f"{folder}: holds another definition of experiment {exp.name!r} ({plural(len(known), 'run')}, "
        f"{made_by}) and these runs are not among them; keep both with experiment=NAME or --out DIR, "
        f"or remove {folder}"
    )


def _changed_code(recorded: Sequence[RunConfig], runs: Sequence[RunConfig]) -> str:
    """The plugins whose code differs between the `recorded` runs and the command's, with their
    versions then and now (a file's SHA-256, a distribution's version); empty if none does."""
    before = {code.spec: code for run in recorded for _, code in run.plugins}
    now = {code.spec: code for run in runs for _, code in run.plugins}
    changed = [spec for spec, code in now.items() if spec in before and before[spec] != code]
    return "; ".join(f"{spec}: {_version(before[spec])} then, {_version(now[spec])} now" for spec in changed)


def _version(code: PluginCode) -> str:
    if code.sha256 is not None:
        return f"sha256 {code.sha256[:12]}"
    return f"{code.distribution or 'no distribution'} {code.version or ''}".strip()


def _verb(command: str) -> str:
    """The optbench command of a recorded command line: `train` of `optbench train c.yaml`."""
    words = command.split()
    return words[1] if len(words) > 1 else ""


def _resolved(run_folder: Path) -> RunConfig | None:
    """A run of the definition, from the config.yaml it was written with."""
    try:
        raw = yaml.safe_load((run_folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    run, _ = validate_run(raw)
    return run


def write_definition(folder: Path, exp: Experiment) -> None:
    """Record `exp` as the folder's definition (experiment.yaml)."""
    kind = exp.runs[0].task.kind if exp.runs else "dataset"
    data: dict[str, Any] = {
        "experiment": exp.name,
        "description": exp.description.strip(),
        "source": exp.source,
        "kind": kind,
        "command": exp.command,
        "overrides": [{"key": key, "file": in_file, "used": used} for key, in_file, used in exp.overridden],
        "varied": list(exp.varied),
        "runs": [run.run_id for run in exp.runs],
    }
    labels = {run_id: row["label"] for run_id, row in exp.labels.items() if "label" in row}
    if labels:
        data["labels"] = labels  # a run's `label:`, which its config.yaml and id leave out
    data["report"] = {"target_accuracy": exp.report.target_accuracy}
    if exp.study is not None:
        data["tune"] = dict(exp.study)
    text = yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True)
    atomic_write_text(folder / EXPERIMENT_FILE, text)
