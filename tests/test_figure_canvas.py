"""Every kind of figure keeps its text on its canvas: titles, figure titles, legends, axis labels, tick
labels and notes all drawn inside the PNG, whatever the length of the names and formulas in them or
the number of variants in a legend.

Each figure is drawn as a command draws it; every text the renderer draws is measured there (its
window extent) and must lie within the figure's canvas. Only the texts drawn are measured: a tick
label beyond an axis's limits is an artist matplotlib keeps but never draws.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_activations import lecture_like
from test_epoch_figures import batch_norm_experiment, overfit_experiment, search_study
from test_plots import dataset_run, finish_experiment, function_run, zero_init_experiment
from test_tuning_report import FUNCTION_STUDY, MNIST_STUDY, tune_folder

from optbench import plots, report
from optbench.layout import (
    ACCURACY_PNG,
    BATCH_NORM_PNG,
    BATCH_NORM_SUMMARY_PNG,
    BEST_TRIALS_PNG,
    CURVES_PNG,
    DIAGNOSTICS_PNG,
    EVAL_LOSS_PNG,
    EXPECTED_MAX_PNG,
    FINAL_CURVES_PNG,
    LOSS_PNG,
    LR_SENSITIVITY_PNG,
    PATH_PNG,
    PATHS_PANELS_PNG,
    PATHS_PNG,
    PERFORMANCE_PROFILE_PNG,
    SEARCH_REGION_PNG,
    TRAIN_TEST_PNG,
    TUNE_SCORES_PNG,
    activation_figures_of,
)

SLACK = 0.5
"""Pixels a text may reach past the canvas's edge: rounding, not a cut letter."""


class TextOnCanvas:
    """Measures every text drawn while a figure is saved; keeps, per PNG, those that leave its canvas."""

    def __init__(self) -> None:
        self.drawing: list[tuple[str, Any]] = []
        self.outside: dict[str, list[str]] = {}
        self.drawn: list[str] = []

    def text_drawn(self, text: Any, renderer: Any) -> None:
        if text.get_visible() and text.get_text().strip():
            self.drawing.append((text.get_text(), text.get_window_extent(renderer)))

    def saved(self, fig: Any, path: Path) -> None:
        canvas = fig.bbox
        self.drawn.append(path.name)
        self.outside[path.name] = [
            f"{text!r} at x {box.x0:.0f}..{box.x1:.0f}, y {box.y0:.0f}..{box.y1:.0f} "
            f"of {canvas.width:.0f} × {canvas.height:.0f}"
            for text, box in self.drawing
            if box.x0 < -SLACK or box.y0 < -SLACK or box.x1 > canvas.x1 + SLACK or box.y1 > canvas.y1 + SLACK
        ]
        self.drawing.clear()

    def check(self, expected: set[str]) -> None:
        """Every expected figure was drawn, with no text off its canvas."""
        assert set(self.drawn) == expected
        assert {name: texts for name, texts in self.outside.items() if texts} == {}


@pytest.fixture
def canvas(monkeypatch: pytest.MonkeyPatch) -> Iterator[TextOnCanvas]:
    from matplotlib.text import Text

    watch = TextOnCanvas()
    draw_text = Text.draw
    save = plots.axes.save_png

    def measured_draw(self: Any, renderer: Any) -> None:
        watch.text_drawn(self, renderer)
        draw_text(self, renderer)

    def measured_save(fig: Any, path: Path) -> Path:
        written = save(fig, path)
        watch.saved(fig, path)
        return written

    monkeypatch.setattr(Text, "draw", measured_draw)
    for module in (plots.rendering, plots.tuning):
        monkeypatch.setattr(module, "save_png", measured_save)
    yield watch


# --------------------------------------------------------------------------------------------------
# Folders with long names, long formulas and crowded legends
# --------------------------------------------------------------------------------------------------

BEALE_PATH = [(1.0, 1.0), (1.8, 0.2), (2.4, 0.3), (2.9, 0.45), (3.0, 0.5)]
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam", "radam")


def beale_paths(root: Path) -> Path:
    """A variant per optimizer on Beale's function (the longest formula), one diverged."""
    folder = root / "paths-beale-with-a-long-experiment-name"
    ids = [
        function_run(
            folder, name, 0.01 * (i + 1), [(x + 0.05 * i, y) for x, y in BEALE_PATH], function="beale"
        )
        for i, name in enumerate(OPTIMIZERS)
    ]
    ids.append(
        function_run(folder, "lion", 3.0, [(1.0, 1.0), (40.0, -30.0)], function="beale", diverged=True)
    )
    return finish_experiment(folder, "function", ["optimizer.name", "optimizer.lr"], ids)


def crowded_sweep(root: Path) -> Path:
    """Five optimizers at nine learning rates and two seeds, a validation split and diagnostics: 45
    variants in every legend; at one rate one seed of two diverged, at another both did."""
    folder = root / "lr-sensitivity-sweep"
    ids = []
    for name in OPTIMIZERS[:5]:
        for i, lr in enumerate(np.geomspace(1e-4, 1.0, 9)):
            for seed in (0, 1):
                accs = [0.5 + 0.04 * i, 0.6 + 0.04 * i, 0.62 + 0.04 * i]
                diverged = 250 if lr == 1.0 and (seed == 1 or name == "sgd") else None
                ids.append(
                    dataset_run(
                        folder,
                        name,
                        float(lr),
                        seed,
                        accs,
                        final_loss=0.3,
                        val_accs=accs,
                        diverged_step=diverged,
                    )
                )
    varied = ["optimizer.name", "optimizer.lr", "train.seed"]
    return finish_experiment(folder, "dataset", varied, ids)


EXPERIMENT_FIGURES = {PATHS_PNG, PATHS_PANELS_PNG, LOSS_PNG}
DATASET_FIGURES = {DIAGNOSTICS_PNG, LOSS_PNG, ACCURACY_PNG, EVAL_LOSS_PNG, LR_SENSITIVITY_PNG}


def test_the_figures_of_a_function_experiment_and_of_its_runs_keep_their_text_on_the_canvas(
    tmp_path: Path, canvas: TextOnCanvas
) -> None:
    folder = beale_paths(tmp_path)
    plots.experiment_figures(folder)
    plots.run_figures(next((folder / "runs").iterdir()))
    canvas.check(EXPERIMENT_FIGURES | {PATH_PNG, LOSS_PNG})


def test_the_figures_of_a_crowded_sweep_and_of_a_dataset_run_keep_their_text_on_the_canvas(
    tmp_path: Path, canvas: TextOnCanvas
) -> None:
    folder = crowded_sweep(tmp_path)
    plots.experiment_figures(folder)
    plots.run_figures(next((folder / "runs").iterdir()))
    canvas.check(DATASET_FIGURES | {CURVES_PNG, DIAGNOSTICS_PNG})


def test_the_diagnostics_grid_keeps_its_text_on_the_canvas(tmp_path: Path, canvas: TextOnCanvas) -> None:
    plots.experiment_figures(zero_init_experiment(tmp_path))
    canvas.check({DIAGNOSTICS_PNG, LOSS_PNG, ACCURACY_PNG, EVAL_LOSS_PNG})


def test_the_activation_figures_keep_their_text_on_the_canvas(tmp_path: Path, canvas: TextOnCanvas) -> None:
    plots.activation_figures(lecture_like(tmp_path))
    canvas.check(set(activation_figures_of(["sigmoid", "relu", "tanh"])))


OPTIMIZER_STUDY_FIGURES = {EXPECTED_MAX_PNG, TUNE_SCORES_PNG, FINAL_CURVES_PNG}
"""The figures of a study of optimizers' own hyperparameters (no search region, no training curves)."""

ONE_OPTIMIZER_STUDY = """experiment: a-study-of-one-optimizer-with-a-long-name
task: {function: rosenbrock}
train: {steps: 100}
tune:
  budget: 6
  sampler: random
  optimizers:
    - name: adam
      search: {lr: {log_uniform: [1.0e-4, 10.0]}}
"""


@pytest.mark.parametrize("study", [ONE_OPTIMIZER_STUDY, FUNCTION_STUDY], ids=["one optimizer", "two"])
def test_the_figures_of_a_function_study_keep_their_text_on_the_canvas(
    tmp_path: Path, canvas: TextOnCanvas, study: str
) -> None:
    plots.experiment_figures(tune_folder(tmp_path, study))
    canvas.check(OPTIMIZER_STUDY_FIGURES)


def test_the_figures_of_a_dataset_study_and_the_profile_keep_their_text_on_the_canvas(
    tmp_path: Path, canvas: TextOnCanvas, mnist: object
) -> None:
    roots = [tmp_path / "mnist", tmp_path / "rb"]
    for root in roots:
        root.mkdir()
    studies = [tune_folder(roots[0], MNIST_STUDY), tune_folder(roots[1], FUNCTION_STUDY)]
    plots.experiment_figures(studies[0])
    report.write_index(tmp_path, studies)
    canvas.check({*OPTIMIZER_STUDY_FIGURES, PERFORMANCE_PROFILE_PNG})


def test_the_batch_norm_grid_and_summary_keep_their_text_on_the_canvas(
    tmp_path: Path, canvas: TextOnCanvas
) -> None:
    scales = [float(s) for s in np.logspace(0, -4, 16)]
    plots.experiment_figures(batch_norm_experiment(tmp_path, scales, seeds=2, diverged=1.0))
    canvas.check({BATCH_NORM_PNG, BATCH_NORM_SUMMARY_PNG})


def test_the_train_test_figure_keeps_its_text_on_the_canvas(tmp_path: Path, canvas: TextOnCanvas) -> None:
    plots.experiment_figures(overfit_experiment(tmp_path, [0.0, 0.1, 0.01, 0.001, 1e-4]))
    canvas.check({TRAIN_TEST_PNG, LOSS_PNG, ACCURACY_PNG, EVAL_LOSS_PNG})


def test_the_figures_of_a_search_of_lr_and_the_penalty_keep_their_text_on_the_canvas(
    tmp_path: Path, canvas: TextOnCanvas
) -> None:
    many = [
        (10 ** (-6 + 4 * k / 24), 10 ** (-8 + 4 * ((7 * k) % 25) / 24), 0.1 + 0.03 * k) for k in range(25)
    ]
    plots.experiment_figures(search_study(tmp_path, many))
    canvas.check({SEARCH_REGION_PNG, BEST_TRIALS_PNG, *OPTIMIZER_STUDY_FIGURES})
