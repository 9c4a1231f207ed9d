"""The activation-distribution experiment run from a command: its cases computed, its folder written.

    <out>/<experiment>/{config.yaml, activations.csv}

`optbench.activations` does the computing and knows nothing of files; the figures and the report
are drawn afterwards from the folder, like those of any experiment.
"""

from __future__ import annotations

from pathlib import Path

from optbench import activations, train
from optbench.config import ActivationsConfig, activations_to_yaml
from optbench.files import FolderLock, atomic_write_text, csv_text
from optbench.layout import ACTIVATIONS_FILE, CONFIG_FILE
from optbench.runfolder import experiment_dir


def run_activations(cfg: ActivationsConfig, out: Path) -> Path:
    """Compute every case of the experiment and write its statistics; returns the experiment folder."""
    folder = experiment_dir(out, cfg.experiment)
    with FolderLock(folder):
        mnist = None
        if cfg.input == "mnist":
            mnist = train.cached_dataset("mnist", cfg.data_dir)
        rows = [stats.row() for stats in activations.run(cfg, mnist)]
        atomic_write_text(folder / CONFIG_FILE, activations_to_yaml(cfg))
        atomic_write_text(folder / ACTIVATIONS_FILE, csv_text(activations.columns(cfg.bins), rows))
    return folder
