"""The results contract: every file and folder name optbench writes, the run statuses, reading a status.

Writers (the runner, plots, report) and readers (results, report) both take names from here, so
reading results never needs the code that produced them.

    <out>/<experiment>/
      experiment.yaml          name, description, source, kind, varied keys, run ids in order
      summary.csv              one row per run
      report.md, *.png         the report and its figures
      figures.json             what each figure was drawn from (a digest of its inputs and of the
                               figure code) and the PNG it wrote: a figure is redrawn only when they change
      runs/<run_id>/
        config.yaml            the fully resolved config of the run
        metrics.csv            one row per step, whole rows only
        diagnostics.csv        per-layer statistics (dataset runs)
        status.json            running | completed | diverged | failed | interrupted, and more
        checkpoint.npz         the last checkpoint of an unfinished dataset run (arrays only)
    <out>/<activations experiment>/{config.yaml, activations.csv, report.md, *.png, figures.json}
                               one histograms_<activation>.png per activation, and gradients.png
    <out>/<tune experiment>/   as an experiment, plus tune.csv, trials.csv, expected_max.csv and the
                               tune figures; experiment.yaml records the spec and the trial table
    <out>/index.md             links to every experiment of a suite (and a suite of tunes'
                               performance_profile.png)

JSON files (status.json) are strict JSON: a number that is not finite is written as null (a
diverged run's final loss, for instance: the value it reached stays in metrics.csv, which writes
`inf` and `nan` as such). YAML and JSON are read with safe loaders only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
DIAGNOSTICS_FILE = "diagnostics.csv"
STATUS_FILE = "status.json"
TRACEBACK_FILE = "traceback.txt"
"""A failed run's Python traceback, when an error other than optbench's own ended it (a plugin's)."""
PLUGINS_DIR = "plugins"
"""In an experiment folder: a copy of each plugin file its runs used, as `<stem>-<sha256[:12]>.py`."""
CHECKPOINT_FILE = "checkpoint.npz"
"""A dataset run's last checkpoint: kept while the run is unfinished (a rerun resumes from it), removed
once it finishes unless train.keep_checkpoint is set."""
SUMMARY_FILE = "summary.csv"
EXPERIMENT_FILE = "experiment.yaml"
ACTIVATIONS_FILE = "activations.csv"
REPORT_FILE = "report.md"
INDEX_FILE = "index.md"
TUNE_FILE = "tune.csv"
"""A tune: per optimizer, the default and best scores, the chosen values, the final seeds' test result."""
TRIALS_FILE = "trials.csv"
"""A tune: one row per trial (and final rerun): optimizer, number, role, params, score."""
EXPECTED_MAX_FILE = "expected_max.csv"
"""A tune: per optimizer and n, the expected best validation score of n random trials, and its std."""
RUNS_DIR = "runs"
FIGURES_FILE = "figures.json"
"""Beside an experiment's figures: per figure, the digest of what it was drawn from and the size and
mtime of its PNG, so that a figure whose inputs and PNG have not changed is not drawn again."""

PATH_PNG = "path.png"
LOSS_PNG = "loss.png"
CURVES_PNG = "curves.png"
DIAGNOSTICS_PNG = "diagnostics.png"
ACCURACY_PNG = "accuracy.png"
EVAL_LOSS_PNG = "eval_loss.png"
LR_SENSITIVITY_PNG = "lr_sensitivity.png"
PATHS_PNG = "paths.png"
PATHS_PANELS_PNG = "paths_panels.png"
HISTOGRAMS_PNG = "histograms_{activation}.png"
"""An activations folder's histograms of one activation's cases: `histograms_png(activation)`."""
GRADIENTS_PNG = "gradients.png"
BATCH_NORM_PNG = "batch_norm.png"
"""Training accuracy per epoch with and without batch normalisation, one panel per other setting."""
BATCH_NORM_SUMMARY_PNG = "batch_norm_summary.png"
"""Final training accuracy against the initial weights' std, with and without batch normalisation."""
TRAIN_TEST_PNG = "train_test.png"
"""Training against held-out accuracy per epoch, one panel per variant: the gap overfitting opens."""

RUN_FIGURES = (PATH_PNG, LOSS_PNG, CURVES_PNG, DIAGNOSTICS_PNG)
"""The figures a run folder can hold (`optbench train`)."""

EXPERIMENT_FIGURES = (
    BATCH_NORM_PNG,
    BATCH_NORM_SUMMARY_PNG,
    TRAIN_TEST_PNG,
    PATHS_PNG,
    PATHS_PANELS_PNG,
    LOSS_PNG,
    ACCURACY_PNG,
    EVAL_LOSS_PNG,
    LR_SENSITIVITY_PNG,
    DIAGNOSTICS_PNG,
)
"""Every figure an experiment folder can hold, in the order the report shows them."""

EXPECTED_MAX_PNG = "expected_max.png"
TUNE_SCORES_PNG = "tune_scores.png"
FINAL_CURVES_PNG = "final_curves.png"
BEST_TRIALS_PNG = "best_trials.png"
"""A study of one optimizer: the best trials' validation and training accuracy per epoch, a panel each."""
SEARCH_REGION_PNG = "search_region.png"
"""A study of two searched values: every trial at its values, coloured by its score, the best marked."""
PERFORMANCE_PROFILE_PNG = "performance_profile.png"
"""At a results root, beside index.md: the performance profile of a suite of tunes."""

TUNE_FIGURES = (SEARCH_REGION_PNG, BEST_TRIALS_PNG, EXPECTED_MAX_PNG, TUNE_SCORES_PNG, FINAL_CURVES_PNG)
"""The figures of a tune folder, in the order the report shows them."""


def histograms_png(activation: str) -> str:
    """The file of the histograms of an activation's cases: histograms_sigmoid.png, ..."""
    return HISTOGRAMS_PNG.format(activation=activation)


def activation_figures_of(activations: Sequence[str]) -> tuple[str, ...]:
    """The figures of an activations folder whose cases use these activations, in the report's order:
    one histograms_<activation>.png per activation (in order of first use), then gradients.png."""
    return (*(histograms_png(a) for a in dict.fromkeys(activations)), GRADIENTS_PNG)


def report_order(names: Iterable[str]) -> list[str]:
    """Figure file names in the order a report shows them: an experiment's (EXPERIMENT_FIGURES), a
    tune's (TUNE_FIGURES), an activations folder's histograms (in the order given) and gradients."""
    order = [*EXPERIMENT_FIGURES, *TUNE_FIGURES]

    def rank(name: str) -> int:
        if name in order:
            return order.index(name)
        return len(order) + (1 if name == GRADIENTS_PNG else 0)

    return sorted(names, key=rank)


STATUSES = ("running", "completed", "diverged", "failed", "interrupted")
"""What status.json may say. A run with no status.json yet is `pending` in the summary."""

FINISHED = ("completed", "diverged")
"""Statuses of a run that is done: a rerun skips it. failed, interrupted and stale running are rerun."""


def read_status(run_folder: Path) -> dict[str, Any] | None:
    """A run's status.json, or None if it has none (never started) or it cannot be read."""
    try:
        data = json.loads((run_folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_finished(status: dict[str, Any] | None) -> bool:
    """Whether a run with this status is done, so that a rerun skips it."""
    return status is not None and status.get("status") in FINISHED
