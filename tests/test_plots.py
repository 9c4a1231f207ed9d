"""Tests of optbench.results and optbench.plots on synthetic experiment folders with known answers."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from optbench import plots
from optbench.errors import OptbenchError
from optbench.files import csv_text
from optbench.optim import OPTIMIZERS
from optbench.plots.diagnostics import DIAGNOSTIC_PANELS, MAX_DIAGNOSTIC_ROWS
from optbench.results import (
    group_variants,
    read_experiment,
    read_run,
    variant_label,
)
from optbench.stats import (
    aggregate,
    smooth,
)
from optbench.train import DATASET_COLUMNS

LECTURE_OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# --------------------------------------------------------------------------------------------------
# Synthetic results folders, in the runner's format (shared with test_report.py)
# --------------------------------------------------------------------------------------------------


def dataset_config(
    name: str,
    optimizer: str,
    lr: float,
    seed: int,
    steps: int,
    eval_every: int = 100,
    init: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "experiment": name,
        "task": {"dataset": "mnist", "data_dir": None, "validation": 0, "split_seed": 0},
        "model": {
            "hidden": [4, 4],
            "activation": "relu",
            "init": init or {"name": "he"},
            "output_init": None,
            "dtype": "float32",
        },
        "optimizer": {
            "name": optimizer,
            "lr": lr,
            "schedule": {"name": "constant", "warmup_steps": 0},
            "clip_norm": None,
        },
        "train": {
            "steps": steps,
            "batch_size": 8,
            "eval_every": eval_every,
            "seed": seed,
            "sampling": "epoch",
        },
    }


def function_config(
    name: str, optimizer: str, lr: float, steps: int, function: str = "book", seed: int = 0
) -> dict[str, Any]:
    return {
        "experiment": name,
        "task": {"function": function, "start": [-7.0, 2.0]},
        "optimizer": {
            "name": optimizer,
            "lr": lr,
            "schedule": {"name": "constant", "warmup_steps": 0},
            "clip_norm": None,
        },
        "train": {"steps": steps, "seed": seed},
    }


def run_id_of(config: dict[str, Any]) -> str:
    opt = config["optimizer"]
    init = config.get("model", {}).get("init", {})
    output_init = config.get("model", {}).get("output_init") or {}
    std = f"{init['std']:g}" if "std" in init else ""
    parts = [
        opt["name"],
        f"lr{opt['lr']:g}",
        *([init["name"] + std] if init else []),
        *([f"out{output_init['name']}"] if output_init else []),
        *(
            [activation]
            if (activation := config.get("model", {}).get("activation", "relu")) != "relu"
            else []
        ),
        f"s{config['train']['seed']}",
    ]
    return "-".join(parts)


def write_run(
    folder: Path,
    config: dict[str, Any],
    status: dict[str, Any] | None,
    metrics: tuple[Sequence[str], Sequence[Sequence[Any]]] | None,
    diagnostics: Sequence[Sequence[Any]] | None = None,
) -> str:
    """A run folder as the runner leaves it; returns the run id."""
    run_id = run_id_of(config)
    run_folder = folder / "runs" / run_id
    run_folder.mkdir(parents=True, exist_ok=True)
    (run_folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    if status is not None:
        (run_folder / "status.json").write_text(
            json.dumps({"run_id": run_id, "seed": config["train"]["seed"], **status})
        )
    if metrics is not None:
        (run_folder / "metrics.csv").write_text(csv_text(*metrics))
    if diagnostics is not None:
        columns = (
            "step",
            "layer",
            "weight_norm",
            "grad_norm",
            "act_mean",
            "act_std",
            "inactive_frac",
            "distinct_units",
        )
        (run_folder / "diagnostics.csv").write_text(csv_text(columns, diagnostics))
    return run_id


def dataset_run(
    folder: Path,
    optimizer: str,
    lr: float,
    seed: int,
    accs: Sequence[float],
    *,
    final_loss: float,
    eval_every: int = 100,
    init: dict[str, Any] | None = None,
    diverged_step: int | None = None,
    wall_s: float = 1.0,
    val_accs: Sequence[float] | None = None,
) -> str:
    """A dataset run whose loss falls linearly to final_loss and whose test accuracy at the k-th
    evaluation is accs[k] (its validation accuracy val_accs[k], if given: else no split was held
    out); a diverged run stops at diverged_step with an infinite loss."""
    steps = eval_every * len(accs)
    last = diverged_step if diverged_step is not None else steps
    rows = []
    for step in range(1, last + 1):
        loss = 2.4 + (final_loss - 2.4) * step / steps
        if step == diverged_step:
            rows.append([step, step / 100, math.inf, None, None, None, None, None, None, None, step / 1000])
            break
        ev = step % eval_every == 0
        acc = accs[step // eval_every - 1] if ev else None
        val = val_accs[step // eval_every - 1] if ev and val_accs is not None else None
        val_loss = loss * 1.1 if val is not None else None
        train_figures = [loss * 0.9, min(1.0, acc + 0.01)] if acc is not None else [None, None]
        rows.append(
            [
                step,
                step / 100,
                loss,
                val_loss,
                val,
                loss if ev else None,
                acc,
                *train_figures,
                lr,
                step / 1000,
            ]
        )
    diag = []
    for step in range(0, last, eval_every):
        for layer in (1, 2, 3):
            hidden = layer < 3
            diag.append(
                [
                    step,
                    layer,
                    1.0 + step / 1000,
                    0.5 / layer + step / 10000,
                    0.1 if hidden else None,
                    0.3 * layer if hidden else None,
                    0.1 * layer if hidden else None,
                    4 if hidden else 10,
                ]
            )
    diverged = diverged_step is not None
    status = {
        "status": "diverged" if diverged else "completed",
        "final_loss": None if diverged else final_loss,
        "final_val_loss": None if diverged or val_accs is None else final_loss * 1.1,
        "final_val_acc": None if diverged or val_accs is None else val_accs[-1],
        "final_test_acc": accs[-1] if not diverged else None,
        "diverged_step": diverged_step,
        "steps_done": last,
        "wall_s": wall_s,
    }
    config = dataset_config(folder.name, optimizer, lr, seed, steps, eval_every, init)
    config["task"]["validation"] = 0 if val_accs is None else 10000
    columns = DATASET_COLUMNS
    return write_run(folder, config, status, (columns, rows), diag)


def function_run(
    folder: Path,
    optimizer: str,
    lr: float,
    points: Sequence[tuple[float, float]],
    *,
    function: str = "book",
    diverged: bool = False,
    seed: int = 0,
) -> str:
    """A function run through the given iterates (points[0] is the start)."""
    from optbench.functions import FUNCTIONS

    objective = FUNCTIONS[function]
    rows = []
    for step, (x, y) in enumerate(points):
        value = objective.value(x, y) if math.isfinite(x) and math.isfinite(y) else math.inf
        rows.append([step, x, y, value, lr if step else None])
    final = rows[-1][3]
    status = {
        "status": "diverged" if diverged else "completed",
        "final_loss": final,
        "final_test_acc": None,
        "diverged_step": len(points) - 1 if diverged else None,
        "steps_done": len(points) - 1,
        "wall_s": 0.01,
    }
    config = function_config(folder.name, optimizer, lr, len(points) - 1, function, seed)
    return write_run(folder, config, status, (("step", "x", "y", "loss", "lr"), rows))


def finish_experiment(
    folder: Path,
    kind: str,
    varied: Sequence[str],
    run_ids: Sequence[str],
    description: str = "A synthetic experiment.",
) -> Path:
    """experiment.yaml and summary.csv for run folders already written (missing ones are pending)."""
    info = {
        "experiment": folder.name,
        "description": description,
        "source": "synthetic.yaml",
        "kind": kind,
        "varied": list(varied),
        "runs": list(run_ids),
    }
    (folder / "experiment.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
    columns = ["run_id", "status", "optimizer", "lr", "seed", "steps", "final_loss", "wall_s"]
    if kind == "dataset":
        columns += ["final_test_acc", "init", "activation"]
    columns += ["steps_done", "diverged_step", "error"]
    rows = []
    for run_id in sorted(run_ids):
        run = read_run(folder / "runs" / run_id)
        values = {"run_id": run_id, "status": run.state, **({k: run.status.get(k) for k in columns[6:]})}
        if run.config:
            values.update(
                optimizer=run.optimizer,
                lr=run.lr,
                seed=run.seed,
                steps=run.steps,
                init=run.init_name,
                activation=run.config.get("model", {}).get("activation"),
            )
        rows.append([values.get(c) for c in columns])
    (folder / "summary.csv").write_text(csv_text(columns, rows))
    return folder


def lr_sweep_experiment(root: Path) -> Path:
    """sgd at lr 0.01 and 0.1 with two seeds each, adam at lr 0.001 with one seed."""
    folder = root / "sweep"
    ids = [
        dataset_run(folder, "sgd", 0.01, 0, [0.5, 0.8, 0.9], final_loss=0.6),
        dataset_run(folder, "sgd", 0.01, 1, [0.6, 0.8, 0.92], final_loss=0.5),
        dataset_run(folder, "sgd", 0.1, 0, [0.9, 0.97, 0.98], final_loss=0.1),
        dataset_run(folder, "sgd", 0.1, 1, [0.95, 0.96, 0.975], final_loss=0.12),
        dataset_run(folder, "adam", 0.001, 0, [0.96, 0.97, 0.98], final_loss=0.08),
    ]
    return finish_experiment(folder, "dataset", ["optimizer.name", "optimizer.lr", "train.seed"], ids)


ZERO_INIT_STEPS = 300
LN10 = math.log(10)


def zero_init_run(
    folder: Path,
    init: str,
    losses: Sequence[float],
    diagnostics: Sequence[Sequence[Any]],
    output_init: str | None = None,
    seed: int = 0,
) -> str:
    """A 300-step MNIST run of a [4, 4] MLP with the given per-step training losses and diagnostics rows."""
    config = dataset_config(folder.name, "sgd", 0.1, seed, ZERO_INIT_STEPS, init={"name": init})
    config["model"]["output_init"] = {"name": output_init} if output_init else None
    rows = []
    for step, loss in enumerate(losses, start=1):
        ev = step % 100 == 0
        rows.append(
            [
                step,
                step / 100,
                loss,
                None,
                None,
                *([loss, 0.5, loss, 0.5] if ev else [None] * 4),
                0.1,
                step / 1000,
            ]
        )
    final = float(np.mean(losses[-100:]))
    status = {"status": "completed", "final_loss": final, "final_test_acc": 0.5, "steps_done": len(losses)}
    return write_run(folder, config, {**status, "wall_s": 1.0}, (DATASET_COLUMNS, rows), diagnostics)


def diag_rows(layer: int, values: Sequence[tuple[float, float, float, float, int]]) -> list[list[Any]]:
    """One layer's diagnostics rows at steps 0, 100, 200, 300 from (‖W‖, ‖∂L/∂W‖, std, inactive, distinct)."""
    hidden = layer < 3
    return [
        [
            step,
            layer,
            w,
            g,
            0.5 if hidden else None,
            std if hidden else None,
            off if hidden else None,
            distinct,
        ]
        for step, (w, g, std, off, distinct) in zip(range(0, ZERO_INIT_STEPS + 1, 100), values)
    ]


def zero_init_experiment(root: Path) -> Path:
    """All zeros (nothing moves), zeros with a He output layer (layer 2 breaks its symmetry, layer 1 does
    not) and two random inits, Xavier and He. He's loss is 2.0 up to step 100 and 0.5 after; zeros with
    He output stays at 2.3 for 200 steps, then 1.0 (its smoothed loss reaches 2.0 at step 206); all zeros
    stays at ln 10."""
    folder = root / "zero-init"
    frozen = [(0.0, 0.0, 0.0, 1.0, 1)] * 4
    ids = [
        zero_init_run(
            folder, "zeros", [LN10] * 300, [r for layer in (1, 2, 3) for r in diag_rows(layer, frozen)]
        ),
        zero_init_run(
            folder,
            "zeros",
            [2.3] * 200 + [1.0] * 100,
            diag_rows(
                1,
                [
                    (0.0, 0.0, 0.0, 0.0, 1),
                    (1e-9, 1e-10, 0.0, 0.0, 1),
                    (1e-8, 1e-10, 0.0, 0.0, 1),
                    (1e-7, 1e-10, 0.0, 0.0, 1),
                ],
            )
            + diag_rows(
                2,
                [
                    (0.0, 0.1, 0.0, 0.0, 1),
                    (0.1, 0.1, 0.01, 0.0, 4),
                    (0.2, 0.1, 0.02, 0.0, 4),
                    (0.3, 0.1, 0.03, 0.0, 4),
                ],
            )
            + diag_rows(3, [(2.0, 0.5, 0, 0, 10)] * 4),
            output_init="he",
        ),
    ]
    for init in ("xavier", "he"):
        healthy = [(1.0, 0.1, 0.3, 0.1, 4)] * 4
        ids.append(
            zero_init_run(
                folder,
                init,
                [2.0] * 100 + [0.5 if init == "he" else 0.8] * 200,
                diag_rows(1, healthy) + diag_rows(2, healthy) + diag_rows(3, [(2.0, 0.5, 0, 0, 10)] * 4),
            )
        )
    return finish_experiment(folder, "dataset", ["model.init.name", "model.output_init.name"], ids)


class FigureCatcher:
    """Replaces plots.save_png: keeps every figure drawn, by file name, without rendering it (fast)."""

    def __init__(self) -> None:
        self.figures: dict[str, Any] = {}

    def __call__(self, fig: Any, path: Path) -> Path:
        self.figures[path.name] = fig
        return path


@pytest.fixture
def catcher(monkeypatch: pytest.MonkeyPatch) -> FigureCatcher:
    catch = FigureCatcher()
    monkeypatch.setattr(plots.rendering, "save_png", catch)
    return catch


def line_colors(fig: Any) -> set[str]:
    from matplotlib.colors import to_hex

    return {to_hex(line.get_color()).upper() for ax in fig.axes for line in ax.get_lines()}


def label_colors(fig: Any) -> set[str]:
    from matplotlib.colors import to_hex

    return {to_hex(ax.yaxis.label.get_color()).upper() for ax in fig.axes if ax.get_ylabel()}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels after checking the PNG signature and reading it back with matplotlib."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    return image.shape[1], image.shape[0]


# --------------------------------------------------------------------------------------------------
# Smoothing, seed statistics, variants
# --------------------------------------------------------------------------------------------------


def test_smooth_is_the_debiased_ema_computed_by_hand() -> None:
    # beta = 0.5: m = 0.5, 1.25, 2.625; debiased by 1 - 0.5**n = 0.5, 0.75, 0.875
    assert smooth(np.array([1.0, 2.0, 4.0]), weight=0.5) == pytest.approx([1.0, 1.25 / 0.75, 2.625 / 0.875])


def test_smooth_starts_at_the_first_value_and_skips_non_finite_ones() -> None:
    out = smooth(np.array([3.0, math.nan, 5.0, math.inf]), weight=0.9)
    assert out[0] == 3.0
    assert math.isnan(out[1]) and math.isnan(out[3])
    assert out[2] == pytest.approx((0.9 * 0.3 + 0.5) / (1 - 0.81))


def test_aggregate_gives_numpy_mean_and_std_over_seeds_at_each_step() -> None:
    steps = np.array([0.0, 10.0, 20.0])
    seeds = np.array([[1.0, 2.0, 3.0], [3.0, 5.0, 4.0], [2.0, 8.0, 8.0]])
    stats = aggregate([(steps, row) for row in seeds])
    assert stats.steps == pytest.approx(steps)
    assert stats.mean == pytest.approx(seeds.mean(axis=0))
    assert stats.std == pytest.approx(seeds.std(axis=0))
    assert list(stats.count) == [3, 3, 3]


def test_aggregate_counts_a_diverged_seed_only_up_to_its_last_finite_step() -> None:
    steps = np.array([1.0, 2.0, 3.0])
    stats = aggregate([(steps, np.array([1.0, 2.0, 3.0])), (steps[:2], np.array([3.0, math.inf]))])
    assert list(stats.count) == [2, 1, 1]
    assert stats.mean == pytest.approx([2.0, 2.0, 3.0])
    assert stats.std == pytest.approx([1.0, 0.0, 0.0])


def test_runs_that_differ_only_in_seed_form_one_variant(tmp_path: Path) -> None:
    exp = read_experiment(lr_sweep_experiment(tmp_path))
    variants = exp.variants
    assert [v.label for v in variants] == ["sgd lr=0.01", "sgd lr=0.1", "adam lr=0.001"]
    assert [[r.seed for r in v.runs] for v in variants] == [[0, 1], [0, 1], [0]]


def test_variant_label_shows_an_initialiser_whole_and_leaves_out_the_seed() -> None:
    config = dataset_config("x", "sgd", 0.01, 3, 100, init={"name": "normal", "std": 0.01})
    varied = ["model.init.name", "model.init.std", "train.seed"]
    assert variant_label(config, varied) == "sgd init=normal(std=0.01)"
    assert variant_label(config, ["optimizer.lr", *varied]) == "sgd lr=0.01 init=normal(std=0.01)"


def test_labels_show_lr_when_the_optimizers_of_a_comparison_use_different_ones(tmp_path: Path) -> None:
    folder = tmp_path / "paths"
    ids = [
        function_run(folder, "sgd", 0.95, [(-7, 2), (-6, 1)]),
        function_run(folder, "adam", 0.3, [(-7, 2), (-5, 1)]),
    ]
    finish_experiment(folder, "function", ["optimizer.name"], ids)
    assert [v.label for v in read_experiment(folder).variants] == ["sgd lr=0.95", "adam lr=0.3"]


def test_runs_not_started_belong_to_no_variant_and_are_counted_pending(tmp_path: Path) -> None:
    folder = tmp_path / "partial"
    done = dataset_run(folder, "sgd", 0.1, 0, [0.5], final_loss=1.0)
    finish_experiment(folder, "dataset", ["train.seed"], [done, "sgd-lr0.1-he-s1"])
    exp = read_experiment(folder)
    assert [r.state for r in exp.runs] == ["completed", "pending"]
    assert [len(v.runs) for v in group_variants(exp.runs, exp.varied)] == [1]


# --------------------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------------------


def test_every_registered_optimizer_has_its_own_colour() -> None:
    assert set(OPTIMIZERS) <= set(plots.OPTIMIZER_COLORS)
    colours = [plots.OPTIMIZER_COLORS[name] for name in OPTIMIZERS]
    assert len(set(colours)) == len(colours)


def cielab(color: str) -> np.ndarray:
    """sRGB hex to CIELAB (D65), where a distance ΔE of about 2 is just noticeable."""
    c = np.array(plots.style._rgb(color))
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_the_lectures_five_optimizers_have_clearly_different_colours() -> None:
    lab = [cielab(plots.optimizer_color(name)) for name in LECTURE_OPTIMIZERS]
    distances = [np.linalg.norm(a - b) for i, a in enumerate(lab) for b in lab[i + 1 :]]
    assert min(distances) > 40


def test_an_unknown_optimizer_gets_the_same_fallback_colour_in_every_process() -> None:
    code = "from optbench.plots import optimizer_color; print(optimizer_color('shampoo'))"
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    ).stdout.strip()
    assert plots.optimizer_color("shampoo") == other
    assert other in plots.FALLBACK_COLORS


def test_an_optimizer_keeps_its_colour_whatever_it_is_compared_with(tmp_path: Path) -> None:
    styles = []
    for others in (["adam"], ["momentum", "rmsprop"]):
        folder = tmp_path / "-".join(others)
        ids = [function_run(folder, name, 0.1, [(-7, 2), (-6, 1)]) for name in ["sgd", *others]]
        finish_experiment(folder, "function", ["optimizer.name"], ids)
        styles.append(plots.variant_styles(read_experiment(folder).variants)[0])
    assert styles[0] == styles[1] == plots.Style(plots.OPTIMIZER_COLORS["sgd"])


def test_a_learning_rate_sweep_gets_shades_of_one_colour_darker_with_larger_lr(tmp_path: Path) -> None:
    folder = tmp_path / "lrs"
    ids = [dataset_run(folder, "sgd", lr, 0, [0.5], final_loss=1.0) for lr in (1.0, 0.01, 0.1)]
    finish_experiment(folder, "dataset", ["optimizer.lr"], ids)
    variants = read_experiment(folder).variants
    by_lr = {v.lr: s.color for v, s in zip(variants, plots.variant_styles(variants))}
    lightness = [cielab(by_lr[lr])[0] for lr in (0.01, 0.1, 1.0)]
    assert lightness[0] > lightness[1] > lightness[2]
    assert min(lightness[0] - lightness[1], lightness[1] - lightness[2]) > 10  # visibly different


def test_variants_differing_in_init_and_activation_get_init_colours_and_activation_styles(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "zero"
    ids = []
    for activation in ("sigmoid", "relu"):
        for init in ("zeros", "he"):
            config = dataset_config(folder.name, "sgd", 0.1, 0, 100, init={"name": init})
            config["model"]["activation"] = activation
            ids.append(
                write_run(folder, config, {"status": "completed"}, (["step", "train_loss"], [[1, 2.0]]))
            )
    finish_experiment(folder, "dataset", ["model.init.name", "model.activation"], ids)
    variants = read_experiment(folder).variants
    styles = {v.label: s for v, s in zip(variants, plots.variant_styles(variants))}
    assert styles["sgd init=he activation=relu"] == plots.Style(plots.INIT_COLORS["he"], "--")
    assert styles["sgd init=zeros activation=sigmoid"] == plots.Style(plots.INIT_COLORS["zeros"], "-")


def test_shades_of_a_colour_keep_its_hue() -> None:
    shades = [plots.shade(plots.OPTIMIZER_COLORS["adam"], i, 4) for i in range(4)]
    hues = [np.arctan2(*cielab(c)[:0:-1]) for c in shades]  # atan2(b, a)
    assert np.ptp(hues) < 0.35
    assert len(set(shades)) == 4


def test_variants_of_one_optimizer_differing_in_init_are_coloured_by_init_name(tmp_path: Path) -> None:
    folder = tmp_path / "inits"
    inits = [{"name": "normal", "std": 0.01}, {"name": "xavier"}, {"name": "he"}]
    ids = [dataset_run(folder, "sgd", 0.01, 0, [0.5], final_loss=1.0, init=init) for init in inits]
    finish_experiment(folder, "dataset", ["model.init.name", "model.init.std"], ids)
    variants = read_experiment(folder).variants
    assert [v.label for v in variants] == ["sgd init=normal(std=0.01)", "sgd init=xavier", "sgd init=he"]
    assert [s.color for s in plots.variant_styles(variants)] == [
        plots.INIT_COLORS[n] for n in ("normal", "xavier", "he")
    ]


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def expected_size(inches: tuple[float, float]) -> tuple[int, int]:
    return round(inches[0] * plots.axes.DPI), round(inches[1] * plots.axes.DPI)


def test_dataset_experiment_figures_are_valid_pngs_of_the_expected_size(tmp_path: Path) -> None:
    folder = lr_sweep_experiment(tmp_path)
    written = plots.experiment_figures(folder)
    assert [p.name for p in written] == [
        "loss.png",
        "accuracy.png",
        "eval_loss.png",
        "lr_sensitivity.png",
        "diagnostics.png",
    ]
    assert png_size(folder / "loss.png") == expected_size(plots.axes.SINGLE)
    assert png_size(folder / "lr_sensitivity.png") == expected_size(plots.axes.WIDE)
    for path in written:
        assert png_size(path)[0] >= 1000
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_figures_drawn_by_two_processes_are_the_bytes_one_process_draws(tmp_path: Path) -> None:
    folder = lr_sweep_experiment(tmp_path)
    plots.experiment_figures(folder, processes=1)
    one = {p.name: p.read_bytes() for p in folder.glob("*.png")}
    for path in folder.glob("*.png"):
        path.unlink()
    plots.experiment_figures(folder, processes=2)
    assert {p.name: p.read_bytes() for p in folder.glob("*.png")} == one
    assert len(one) == 5


def drawing_processes() -> list[Any]:
    import multiprocessing

    return [p for p in multiprocessing.active_children() if p.name == "optbench-drawer"]


def drawn_here_then_removed(tmp_path: Path) -> tuple[Path, list[Path], dict[str, bytes]]:
    """An experiment folder whose figures this process drew, then deleted: the folder, the figures
    drawn and their bytes."""
    folder = lr_sweep_experiment(tmp_path)
    here = plots.experiment_figures(folder, processes=1)
    one = {p.name: p.read_bytes() for p in folder.glob("*.png")}
    for path in folder.glob("*.png"):
        path.unlink()
    return folder, here, one


def test_the_drawing_process_draws_the_bytes_this_process_draws_and_ends_with_its_command(
    tmp_path: Path,
) -> None:
    folder, here, one = drawn_here_then_removed(tmp_path)
    with plots.Drawer() as drawer:
        assert drawing_processes()
        drawn = drawer.experiment_figures(folder, processes=2)
        assert drawer.experiment_figures(folder, processes=2) == drawn  # current now: not handed over
    assert drawn == here
    assert {p.name: p.read_bytes() for p in folder.glob("*.png")} == one
    assert not drawing_processes()


def test_without_fork_the_figures_are_drawn_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, here, one = drawn_here_then_removed(tmp_path)
    monkeypatch.setattr(plots.drawer.mp, "get_all_start_methods", lambda: ["spawn"])
    with plots.Drawer() as drawer:
        assert not drawing_processes()
        assert drawer.experiment_figures(folder, processes=2) == here
    assert {p.name: p.read_bytes() for p in folder.glob("*.png")} == one


def test_a_drawing_process_never_asked_to_draw_is_stopped_cleanly() -> None:
    with plots.Drawer() as drawer:
        (process,) = drawing_processes()
        del drawer
    assert process.exitcode == 0  # SIGTERM became SystemExit: not the signal's default, -15


def test_the_drawing_process_reports_what_it_cannot_draw_as_this_process_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = lr_sweep_experiment(tmp_path)
    (folder / "experiment.yaml").unlink()
    with pytest.raises(OptbenchError) as here:
        plots.experiment_figures(folder)
    with plots.Drawer() as drawer, pytest.raises(OptbenchError) as there:
        drawer.experiment_figures(folder, processes=1)
    assert str(there.value) == str(here.value)

    def broken(*args: Any) -> Any:
        raise ValueError("cannot draw")

    monkeypatch.setattr(plots.rendering, "training_loss_figure", broken)  # before the fork: inherited
    with plots.Drawer() as drawer, pytest.raises(OptbenchError, match="ValueError: cannot draw"):
        drawer.folders_figures([lr_sweep_experiment(tmp_path / "again")], processes=2)
    assert not drawing_processes()


def test_a_stop_that_interrupts_the_wait_for_a_drawing_stops_the_drawing_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal

    def endless(*args: Any) -> Any:
        time.sleep(600)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    folder = lr_sweep_experiment(tmp_path)
    monkeypatch.setattr(plots.rendering, "training_loss_figure", endless)  # before the fork: inherited
    previous = signal.signal(signal.SIGALRM, stop)  # a stop signal that reaches this process alone
    try:
        drawer = plots.Drawer()
        (process,) = drawing_processes()
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with pytest.raises(KeyboardInterrupt):
            drawer.experiment_figures(folder, processes=1)
        started = time.monotonic()
        drawer.close()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 5  # the drawing was stopped, not waited for or killed
    assert process.exitcode == 130


def test_the_drawing_process_ends_when_its_command_is_killed(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from optbench.plots import Drawer\n"
        "drawer = Drawer()\n"
        "import multiprocessing\n"
        "print(multiprocessing.active_children()[0].pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    pid = int(done.stdout)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status")
        try:
            if "\nState:\tZ" in status.read_text():
                return
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError("the drawing process outlived its command by 30 s")


def test_a_figure_that_fails_in_a_drawing_process_is_reported(tmp_path: Path) -> None:
    def broken() -> Any:
        raise ValueError("cannot draw")

    jobs = [(tmp_path / "a.png", broken), (tmp_path / "b.png", broken)]
    with pytest.raises((ValueError, OptbenchError)):
        plots.render(jobs, processes=2)
    assert not list(tmp_path.iterdir())


def test_lr_sensitivity_is_drawn_only_when_the_learning_rate_is_varied(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    folder = tmp_path / "seeds"
    ids = [dataset_run(folder, "adam", 0.001, seed, [0.9, 0.95], final_loss=0.2) for seed in (0, 1)]
    finish_experiment(folder, "dataset", ["train.seed"], ids)
    assert "lr_sensitivity.png" not in [p.name for p in plots.experiment_figures(folder)]
    assert "loss.png" in catcher.figures


def test_lr_sensitivity_needs_one_optimizer_at_two_learning_rates(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    folder = tmp_path / "own-lrs"  # each optimizer at its own lr: lr differs, but nothing to compare
    ids = [
        dataset_run(folder, "sgd", 0.1, 0, [0.9], final_loss=0.3),
        dataset_run(folder, "adam", 0.001, 0, [0.9], final_loss=0.2),
    ]
    finish_experiment(folder, "dataset", ["optimizer.name", "optimizer.lr"], ids)
    assert "lr_sensitivity.png" not in [p.name for p in plots.experiment_figures(folder)]


def test_accuracy_is_drawn_as_the_error_rate_in_per_cent_on_a_log_axis(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    folder = tmp_path / "errors"
    ids = [
        dataset_run(folder, "sgd", 0.1, 0, [0.5, 0.9, 0.96], final_loss=0.3, val_accs=[0.45, 0.9, 0.97]),
        dataset_run(
            folder, "adam", 0.001, 0, [0.96, 0.97, 0.975], final_loss=0.1, val_accs=[0.95, 0.97, 0.98]
        ),
    ]
    finish_experiment(folder, "dataset", ["optimizer.name", "optimizer.lr"], ids)
    plots.experiment_figures(folder)
    validation, test = catcher.figures["accuracy.png"].axes
    assert validation.get_yscale() == test.get_yscale() == "log"
    lines = {line.get_label(): line for line in validation.get_lines()}
    assert list(lines["sgd lr=0.1"].get_ydata()) == pytest.approx([55.0, 10.0, 3.0])  # 100 (1 − acc)
    assert list(lines["adam lr=0.001"].get_ydata()) == pytest.approx([5.0, 3.0, 2.0])
    (target,) = [line for line in validation.get_lines() if line.get_linestyle() == ":"]
    assert list(target.get_ydata()) == pytest.approx([3.0, 3.0])  # the 97 % target: 3 % error
    assert validation.get_ylabel() == "validation error (%), log scale"


def test_accuracy_that_reaches_one_keeps_a_linear_accuracy_axis(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    folder = tmp_path / "perfect"  # an error of 0 has no place on a log axis
    ids = [dataset_run(folder, "adam", lr, 0, [0.9, 1.0], final_loss=0.1) for lr in (0.001, 0.01)]
    finish_experiment(folder, "dataset", ["optimizer.lr"], ids)
    plots.experiment_figures(folder)
    (ax,) = catcher.figures["accuracy.png"].axes
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "test accuracy"
    assert [list(line.get_ydata()) for line in ax.get_lines()][:2] == [[0.9, 1.0], [0.9, 1.0]]


def test_a_learning_rate_where_some_seeds_diverged_is_drawn_hollow_and_says_how_many(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    folder = tmp_path / "partly"
    val = {0.01: [0.8, 0.9], 0.1: [0.85, 0.95], 1.0: [0.3, 0.4]}
    ids = [
        dataset_run(folder, "sgd", lr, s, accs, final_loss=0.3, val_accs=accs)
        for lr, accs in val.items()
        for s in (0, 1)
    ]
    ids[-1] = dataset_run(
        folder, "sgd", 1.0, 1, [0.3, 0.4], final_loss=0.3, val_accs=[0.3, 0.4], diverged_step=150
    )
    ids += [
        dataset_run(folder, "sgd", 10.0, s, [0.1], final_loss=9.0, val_accs=[0.1], diverged_step=50)
        for s in (0, 1)
    ]
    finish_experiment(folder, "dataset", ["optimizer.lr", "train.seed"], ids)
    plots.experiment_figures(folder)
    fig = catcher.figures["lr_sensitivity.png"]
    ax_acc, ax_loss = fig.axes
    for ax, value in ((ax_acc, 0.4), (ax_loss, 0.3)):  # lr 1: the mean of the one seed that completed
        hollow = [ln for ln in ax.get_lines() if ln.get_markerfacecolor() == "white" and len(ln.get_xdata())]
        assert [(list(ln.get_xdata()), list(ln.get_ydata())) for ln in hollow] == [([1.0], [value])]
        crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x" and len(ln.get_xdata())]
        assert [list(ln.get_xdata()) for ln in crosses] == [[10.0]]  # every seed diverged: no point
    labels = [" ".join(t.get_text().split()) for t in fig.legends[0].get_texts()]
    assert "1 of 2 seeds diverged (○: the rest)" in labels and "every seed diverged" in labels


def test_an_optimizer_has_the_same_colour_in_every_figure_of_an_experiment(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    folder = tmp_path / "pair"
    ids = [
        dataset_run(folder, "sgd", 0.1, 0, [0.5, 0.9], final_loss=0.3),
        dataset_run(folder, "rmsprop", 0.001, 0, [0.6, 0.9], final_loss=0.2),
    ]
    finish_experiment(folder, "dataset", ["optimizer.name", "optimizer.lr"], ids)
    plots.experiment_figures(folder)
    assert len(catcher.figures) == 4
    wanted = {plots.OPTIMIZER_COLORS["sgd"], plots.OPTIMIZER_COLORS["rmsprop"]}
    for name, fig in catcher.figures.items():
        # diagnostics.png colours its lines by layer and names each variant's row in the variant's colour
        drawn = label_colors(fig) if name == "diagnostics.png" else line_colors(fig)
        assert wanted <= drawn, name


def test_function_experiment_draws_paths_panels_and_loss(tmp_path: Path) -> None:
    folder = tmp_path / "paths"
    ids = [
        function_run(folder, "sgd", 0.95, [(-7, 2), (-6, -1.8), (-5, 1.6)]),
        function_run(folder, "momentum", 0.1, [(-7, 2), (-6.5, 1.5), (-5, 0.5)]),
        function_run(folder, "adam", 0.3, [(-7, 2), (-6.7, 1.7), (-6.4, 1.4)]),
    ]
    finish_experiment(folder, "function", ["optimizer.name"], ids)
    written = plots.experiment_figures(folder)
    assert [p.name for p in written] == ["paths.png", "paths_panels.png", "loss.png"]
    assert png_size(folder / "paths.png") == expected_size(plots.axes.SINGLE)
    assert png_size(folder / "paths_panels.png")[0] > png_size(folder / "paths_panels.png")[1]


def test_run_figures_of_a_function_run_and_of_a_dataset_run(tmp_path: Path) -> None:
    folder = tmp_path / "runs-exp"
    fid = function_run(folder, "sgd", 0.95, [(-7, 2), (-6, -1.8)], function="rosenbrock")
    did = dataset_run(folder, "adam", 0.001, 0, [0.9, 0.95], final_loss=0.2)
    function_figures = plots.run_figures(folder / "runs" / fid)
    dataset_figures = plots.run_figures(folder / "runs" / did)
    assert [p.name for p in function_figures] == ["path.png", "loss.png"]
    assert [p.name for p in dataset_figures] == ["curves.png", "diagnostics.png"]
    for path in function_figures + dataset_figures:
        png_size(path)


def test_an_experiment_without_finished_runs_gets_no_figures(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    (folder / "runs" / "sgd-lr0.1-s0").mkdir(parents=True)
    (folder / "runs" / "sgd-lr0.1-s0" / "status.json").write_text('{"status": "failed", "error": "boom"}')
    finish_experiment(folder, "dataset", [], ["sgd-lr0.1-s0", "adam-lr0.1-s0"])
    assert plots.experiment_figures(folder) == []
    assert not list(folder.glob("*.png"))


def test_a_run_without_metrics_gets_no_figures(tmp_path: Path) -> None:
    folder = tmp_path / "x" / "runs" / "sgd"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(function_config("x", "sgd", 0.1, 5)))
    assert plots.run_figures(folder) == []


def test_a_diverged_function_run_is_drawn_up_to_its_last_finite_point_with_a_cross(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    folder = tmp_path / "blowup"
    points = [(-7.0, 2.0), (-6.0, -4.0), (-5.0, 8.0), (-4.0, 30.0), (math.inf, math.inf)]
    ids = [
        function_run(folder, "sgd", 1.5, points, diverged=True),
        function_run(folder, "adam", 0.3, [(-7, 2), (-6.7, 1.7)]),
    ]
    finish_experiment(folder, "function", ["optimizer.name"], ids)
    plots.experiment_figures(folder)
    ax = catcher.figures["loss.png"].axes[0]
    sgd_lines = [ln for ln in ax.get_lines() if ln.get_color() == plots.OPTIMIZER_COLORS["sgd"]]
    curve = next(ln for ln in sgd_lines if ln.get_marker() != "x")
    cross = next(ln for ln in sgd_lines if ln.get_marker() == "x")
    assert max(curve.get_xdata()) == 3
    assert list(cross.get_xdata()) == [3]
    assert "sgd lr=1.5 (diverged)" in [
        t.get_text() for t in catcher.figures["loss.png"].legends[0].get_texts()
    ]


def test_a_diverged_dataset_run_stops_at_its_divergence_step(tmp_path: Path, catcher: FigureCatcher) -> None:
    folder = tmp_path / "nan"
    ids = [
        dataset_run(folder, "sgd", 10.0, 0, [0.5, 0.6, 0.7], final_loss=0.5, diverged_step=150),
        dataset_run(folder, "sgd", 0.1, 0, [0.5, 0.6, 0.7], final_loss=0.5),
    ]
    finish_experiment(folder, "dataset", ["optimizer.lr"], ids)
    plots.experiment_figures(folder)
    ax = catcher.figures["loss.png"].axes[0]
    diverged = [ln for ln in ax.get_lines() if ln.get_label() == "sgd lr=10 (diverged)"]
    assert len(diverged) == 1 and max(diverged[0].get_xdata()) == 149
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert [list(c.get_xdata()) for c in crosses] == [[149]]


# --------------------------------------------------------------------------------------------------
# Diagnostics: vanishing gradients, dead units and symmetry made visible
# --------------------------------------------------------------------------------------------------


def test_experiment_diagnostics_have_a_row_per_variant_and_a_line_per_layer(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    plots.experiment_figures(zero_init_experiment(tmp_path))
    fig = catcher.figures["diagnostics.png"]
    columns = len(DIAGNOSTIC_PANELS) + 1  # distinct units joins: some layer has fewer than its width
    assert len(fig.axes) == 4 * columns
    assert [ax.get_ylabel().replace("\n", " ") for ax in fig.axes[::columns]] == [
        "sgd init=zeros",
        "sgd init=zeros output_init=he",
        "sgd init=xavier",
        "sgd init=he",
    ]
    grad = fig.axes[columns]  # zeros with a He output layer: gradient norms, one line per layer
    assert grad.get_title() == "" and fig.axes[0].get_title().startswith("gradient norm")
    assert grad.get_yscale() == "log"
    assert {line.get_label() for line in grad.get_lines() if line.get_marker() != "v"} == {
        "layer 1",
        "layer 2",
        "layer 3 (output)",
    }


def test_exact_zeros_on_a_log_axis_are_marked_on_its_bottom_edge(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    plots.experiment_figures(zero_init_experiment(tmp_path))
    fig = catcher.figures["diagnostics.png"]
    weight = fig.axes[len(DIAGNOSTIC_PANELS) + 2]  # zeros + He output: weight norms
    layer_1 = next(line for line in weight.get_lines() if line.get_label() == "layer 1")
    assert np.isnan(layer_1.get_ydata()[0]) and list(layer_1.get_ydata()[1:]) == [1e-9, 1e-8, 1e-7]
    marks = [line for line in weight.get_lines() if line.get_marker() == "v"]
    assert sorted(x for m in marks for x in m.get_xdata()) == [0.0, 0.0]  # layers 1 and 2 at step 0
    assert all(list(m.get_ydata()) == [0.0] for m in marks)  # y in axes coordinates: the bottom edge
    assert "exactly 0" in fig.legends[0].get_title().get_text()


def test_run_diagnostics_put_norms_on_log_axes_even_when_some_are_zero(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    folder = zero_init_experiment(tmp_path)
    plots.run_figures(next((folder / "runs").glob("*-outhe-s0")))
    fig = catcher.figures["diagnostics.png"]
    titles = [ax.get_title() for ax in fig.axes]
    for column in ("gradient norm ‖∂L/∂W‖", "weight norm ‖W‖"):
        assert fig.axes[titles.index(column)].get_yscale() == "log"
    assert "distinct units\n(of the layer's width)" in titles
    assert "output init he" in fig.get_suptitle()


def test_many_variants_get_the_compact_diagnostics_overview(tmp_path: Path, catcher: FigureCatcher) -> None:
    folder = tmp_path / "many"
    ids = [
        dataset_run(folder, "sgd", float(lr), 0, [0.5, 0.9], final_loss=0.3)
        for lr in np.geomspace(1e-3, 1.0, MAX_DIAGNOSTIC_ROWS + 1)
    ]
    finish_experiment(folder, "dataset", ["optimizer.lr"], ids)
    plots.experiment_figures(folder)
    fig = catcher.figures["diagnostics.png"]
    assert len(fig.axes) == 4 and fig.axes[0].get_yscale() == "log"


def test_a_png_is_replaced_atomically_and_an_interrupted_save_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "one"
    run_folder = folder / "runs" / function_run(folder, "sgd", 0.95, [(-7, 2), (-6, -1.8)])
    plots.run_figures(run_folder)
    before = (run_folder / "loss.png").read_bytes()

    def interrupted(out: Any, rgba: Any) -> None:
        out.write(PNG_SIGNATURE)  # half a file, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(plots.png, "write_png", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plots.run_figures(run_folder)
    assert (run_folder / "loss.png").read_bytes() == before
    assert not [p for p in run_folder.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("height, width", [(1, 1), (5, 7), (300, 451)])
def test_a_png_holds_exactly_the_pixels_it_was_given(tmp_path: Path, height: int, width: int) -> None:
    """Read back by Pillow (which checks every chunk's CRC): the same RGB, the alpha dropped."""
    import io

    from PIL import Image

    rgba = np.random.default_rng(height).integers(0, 256, (height, width, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    out = io.BytesIO()
    plots.png.write_png(out, rgba)
    with Image.open(io.BytesIO(out.getvalue())) as image:
        image.verify()
    with Image.open(io.BytesIO(out.getvalue())) as image:
        assert image.format == "PNG" and image.mode == "RGB" and image.size == (width, height)
        assert np.array_equal(np.asarray(image), rgba[..., :3])


def test_a_saved_figure_holds_the_pixels_the_canvas_drew(tmp_path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    def figure() -> Figure:
        fig = Figure(figsize=(3.0, 2.0), dpi=100)
        ax = fig.subplots()
        ax.plot([0, 1, 2], [1.0, 3.0, 2.0], marker="o")
        ax.set_title("a title")
        return fig

    plots.axes.save_png(figure(), tmp_path / "f.png")
    canvas = FigureCanvasAgg(figure())
    canvas.draw()
    drawn = np.asarray(canvas.buffer_rgba())
    with Image.open(tmp_path / "f.png") as image:
        assert np.array_equal(np.asarray(image), drawn[..., :3])


def test_the_command_line_starts_without_importing_matplotlib() -> None:
    code = (
        "import sys, optbench.cli, optbench.plots, optbench.report, optbench.results; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_paths_that_coincide_all_stay_visible(tmp_path: Path, catcher: FigureCatcher) -> None:
    """Two optimizers with the same iterates: the later path is dashed and narrower, over the other."""
    folder = tmp_path / "same"
    points = [(-7.0, 2.0), (-5.0, 1.0), (-3.0, 0.5), (-1.0, 0.1)]
    ids = [
        function_run(folder, "adagrad", 1.5, points),
        function_run(folder, "rmsprop", 0.15, [(x + 1e-3, y) for x, y in points]),
        function_run(folder, "sgd", 0.95, [(-7.0, 2.0), (-6.0, -1.5), (-5.0, 1.2), (-4.0, -0.9)]),
    ]
    finish_experiment(folder, "function", ["optimizer.name", "optimizer.lr"], ids)
    plots.experiment_figures(folder)
    (ax,) = [a for a in catcher.figures["paths.png"].axes if a.get_lines()][:1]
    paths = {line.get_label(): line for line in ax.get_lines() if "lr=" in str(line.get_label())}
    adagrad, rmsprop, sgd = (paths[k] for k in ("adagrad lr=1.5", "rmsprop lr=0.15", "sgd lr=0.95"))
    assert adagrad.get_linestyle() == "-" and rmsprop.get_linestyle() == "--"
    assert sgd.get_linestyle() == "-"  # far from both: drawn as usual
    assert adagrad.get_linewidth() > rmsprop.get_linewidth() and rmsprop.get_zorder() > adagrad.get_zorder()
    assert len({line.get_marker() for line in paths.values()}) == 3


@pytest.mark.parametrize(
    ("low", "high", "top"),
    [(0.05, 16.0, 20.0), (3.0, 14.0, 20.0), (1e-4, 16.0, 100.0)],
)
def test_a_log_axis_has_a_labelled_tick_at_or_above_its_highest_line(
    low: float, high: float, top: float
) -> None:
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    ax.plot([0, 1], [low, high])
    ax.set_yscale("log")
    plots.axes.label_log_axis(ax)
    fig.canvas.draw()
    assert ax.get_ylim()[1] == pytest.approx(top)
    axis = ax.yaxis
    bottom, upper = ax.get_ylim()
    ticks = [(v, axis.get_major_formatter()(v)) for v in axis.get_majorticklocs()]
    ticks += [(v, axis.get_minor_formatter()(v)) for v in axis.get_minorticklocs()]
    labelled = [v for v, text in ticks if text and bottom * (1 - 1e-9) <= v <= upper * (1 + 1e-9)]
    assert any(high <= v <= top * (1 + 1e-9) for v in labelled)
    assert any(low * (1 - 1e-9) <= v <= high for v in labelled)  # and one among the lines


@pytest.mark.parametrize(("low", "high", "height"), [(0.12, 1.9, 1.3), (0.12, 1.9, 6.0), (3.0, 14.0, 1.0)])
def test_the_labels_of_a_short_log_axis_never_touch(low: float, high: float, height: float) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.0, height + 1.0), dpi=100)
    ax = fig.subplots()
    fig.subplots_adjust(bottom=0.5 / (height + 1.0), top=(height + 0.5) / (height + 1.0))
    ax.plot([0, 1], [low, high])
    ax.set_yscale("log")
    plots.axes.label_log_axis(ax)
    fig.canvas.draw()
    axis = ax.yaxis
    bottom, upper = ax.get_ylim()
    ticks = [(v, axis.get_major_formatter()(v)) for v in axis.get_majorticklocs()]
    ticks += [(v, axis.get_minor_formatter()(v)) for v in axis.get_minorticklocs()]
    shown = sorted(v for v, text in ticks if text and bottom * (1 - 1e-9) <= v <= upper * (1 + 1e-9))
    pixels = [ax.transData.transform((0, v))[1] for v in shown]
    size = axis.get_ticklabels(which="both")[0].get_fontsize()
    gaps = [b - a for a, b in itertools.pairwise(pixels)]
    assert len(shown) >= 3 and min(gaps) >= size * fig.dpi / 72  # a label's height apart, at least
    if height > 5:
        assert len(shown) >= 10  # a tall panel labels every multiple


@pytest.mark.parametrize("last", [1, 3, 7, 10, 45, 2000, 12345])
def test_a_step_axis_ticks_whole_steps_and_long_runs_where_matplotlib_would(last: int) -> None:
    from matplotlib.figure import Figure

    def ticks(step_axis: bool, first: int = 0) -> list[float]:
        fig = Figure(figsize=(4.0, 3.0), dpi=100)
        ax = fig.subplots()
        ax.plot([first, last], [0.0, 1.0], marker="o")
        if step_axis:
            plots.axes.step_axis(ax)
        low, high = ax.get_xlim()
        return [float(t) for t in ax.xaxis.get_majorticklocs() if low <= t <= high]

    steps = ticks(step_axis=True)
    assert len(steps) >= 2 and all(t == round(t) for t in steps), steps
    if last == 1:
        assert steps == [0.0, 1.0]
    alone = ticks(step_axis=True, first=last)  # a single evaluation: no fraction of a step either
    assert alone and all(t == round(t) for t in alone), alone
    if last == 1:
        assert alone == [1.0]
    if last >= 100:
        assert steps == ticks(step_axis=False)  # where matplotlib's own ticks are whole steps already


# --------------------------------------------------------------------------------------------------
# Figures only when what they are drawn from changes
# --------------------------------------------------------------------------------------------------


def png_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Each PNG's inode and mtime: a figure drawn again is a new file (written aside, renamed over)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.png")}


def test_figures_of_an_unchanged_experiment_are_not_drawn_again(tmp_path: Path) -> None:
    folder = lr_sweep_experiment(tmp_path)
    first = plots.experiment_figures(folder)
    before = png_files(folder)
    assert plots.figure_jobs(folder) == []
    assert plots.experiment_figures(folder, processes=2) == first  # every figure, none drawn
    assert png_files(folder) == before and len(before) == 5


def test_optbench_report_says_it_draws_figures_only_when_some_are_not_current(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from optbench.cli import main

    folder = lr_sweep_experiment(tmp_path)

    def said(target: Path) -> str:
        result = CliRunner().invoke(main, ["report", str(target)])
        assert result.exit_code == 0, result.output
        return result.stderr

    assert said(folder) == "drawing figures…\n"
    assert said(folder) == "" and said(tmp_path) == ""  # unchanged: nothing drawn, nothing said
    before = png_files(folder)
    (folder / "loss.png").unlink()
    assert said(tmp_path) == "drawing figures…\n"
    assert png_files(folder).keys() == before.keys()


def test_a_changed_metrics_csv_redraws_the_figures_of_its_experiment_and_no_other(tmp_path: Path) -> None:
    changed, other = lr_sweep_experiment(tmp_path / "a"), lr_sweep_experiment(tmp_path / "b")
    for folder in (changed, other):
        plots.experiment_figures(folder)
    before = {folder: png_files(folder) for folder in (changed, other)}
    metrics = sorted((changed / "runs").iterdir())[0] / "metrics.csv"
    text = metrics.read_text()
    metrics.write_text(text + text.splitlines()[-1] + "\n")  # one more row
    jobs = [job for folder in (changed, other) for job in plots.figure_jobs(folder)]
    assert sorted(job.path.name for job in jobs) == sorted(before[changed])
    plots.render(jobs, processes=2)
    after = png_files(changed)
    assert all(after[name] != before[changed][name] for name in before[changed])
    assert png_files(other) == before[other]
    assert plots.figure_jobs(changed) == []


def test_a_file_rewritten_with_the_same_bytes_changes_nothing(tmp_path: Path) -> None:
    folder = lr_sweep_experiment(tmp_path)
    plots.experiment_figures(folder)
    for path in [p for p in (folder / "runs").rglob("*") if p.is_file()]:
        path.write_bytes(path.read_bytes())  # a rerun that writes the same results
    assert plots.figure_jobs(folder) == []


def test_a_deleted_or_edited_png_is_drawn_again_alone(tmp_path: Path) -> None:
    folder = lr_sweep_experiment(tmp_path)
    plots.experiment_figures(folder)
    before = png_files(folder)
    (folder / "loss.png").unlink()
    (folder / "accuracy.png").write_bytes(b"not the figure")
    assert sorted(job.path.name for job in plots.figure_jobs(folder)) == ["accuracy.png", "loss.png"]
    plots.experiment_figures(folder)
    after = png_files(folder)
    assert {name for name in before if after[name] != before[name]} == {"accuracy.png", "loss.png"}
    png_size(folder / "accuracy.png")


def test_force_or_other_figure_code_draws_every_figure_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = lr_sweep_experiment(tmp_path)
    plots.experiment_figures(folder)
    assert len(plots.figure_jobs(folder, force=True)) == 5
    monkeypatch.setattr(plots.fingerprints, "code_digest", lambda: "the figure code, edited")
    assert len(plots.figure_jobs(folder)) == 5


def test_figures_json_records_what_each_figure_was_drawn_from(tmp_path: Path) -> None:
    folder = lr_sweep_experiment(tmp_path)
    plots.experiment_figures(folder)
    recorded = json.loads((folder / "figures.json").read_text())["figures"]
    assert sorted(recorded) == sorted(png_files(folder))
    assert {entry["inputs"] for entry in recorded.values()} == {plots.fingerprints.inputs_digest(folder)}
    loss = folder / "loss.png"
    assert recorded["loss.png"]["png"] == [loss.stat().st_size, loss.stat().st_mtime_ns]


def test_the_figures_a_folder_no_longer_gets_leave_figures_json(tmp_path: Path) -> None:
    folder = lr_sweep_experiment(tmp_path)
    plots.experiment_figures(folder)
    info = yaml.safe_load((folder / "experiment.yaml").read_text())
    info["varied"] = ["optimizer.name", "train.seed"]  # lr no longer varied: no lr_sensitivity.png
    (folder / "experiment.yaml").write_text(yaml.safe_dump(info))
    names = [p.name for p in plots.experiment_figures(folder)]
    assert names == ["loss.png", "accuracy.png", "eval_loss.png", "diagnostics.png"]
    assert "lr_sensitivity.png" not in json.loads((folder / "figures.json").read_text())["figures"]


# --------------------------------------------------------------------------------------------------
# Placement: margins measured once
# --------------------------------------------------------------------------------------------------


def test_placed_panels_their_labels_the_legend_and_the_title_do_not_overlap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: dict[str, Any] = {}
    save = plots.rendering.save_png

    def keep(fig: Any, path: Path) -> Path:
        drawn[path.name] = fig
        return save(fig, path)

    monkeypatch.setattr(plots.rendering, "save_png", keep)
    plots.experiment_figures(zero_init_experiment(tmp_path))
    for name in ("diagnostics.png", "loss.png", "accuracy.png"):
        fig = drawn[name]
        renderer = fig.canvas.get_renderer()
        boxes = [ax.get_tightbbox(renderer, for_layout_only=True) for ax in fig.axes if ax.get_visible()]
        for i, box in enumerate(boxes):
            assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1), name
            assert not any(box.overlaps(other) for other in boxes[i + 1 :]), name
        (legend,) = fig.legends
        legend_box = legend.get_window_extent(renderer)
        assert legend_box.x0 > max(box.x1 for box in boxes) and legend_box.x1 <= fig.bbox.x1, name
        title = next((t for t in fig.texts if t.get_text() == fig.get_suptitle()), None)
        if title is not None:
            assert title.get_window_extent(renderer).y0 > max(box.y1 for box in boxes), name


def placed(fig: Any, tmp_path: Path) -> Any:
    """The figure saved (placed and drawn), and its renderer."""
    plots.axes.save_png(fig, tmp_path / "placed.png")
    return fig.canvas.get_renderer()


def legend_columns(legend: Any, renderer: Any) -> int:
    """The columns a legend's entries stand in, from where their texts are drawn."""
    return len({round(text.get_window_extent(renderer).x0) for text in legend.get_texts()})


def test_a_title_wider_than_its_panel_or_figure_is_wrapped_to_fit_over_it(tmp_path: Path) -> None:
    with plots.axes.rc_style():
        fig, (ax,) = plots.axes.new_figure(plots.axes.SINGLE)
        ax.plot([0, 1], [0, 1], label="a line")
        plots.axes.add_legend(fig, ax, outside=True)
        words = "a title longer than any panel of a slide could hold on one line, " * 2
        ax.set_title(words)
        fig.suptitle(words * 2)
        renderer = placed(fig, tmp_path)
    panel = ax.get_window_extent(renderer)
    title = ax.title.get_window_extent(renderer)
    assert ax.get_title().count("\n") >= 1 and " ".join(ax.get_title().split()) == " ".join(words.split())
    assert panel.x0 <= title.x0 and title.x1 <= panel.x1
    suptitle = fig.texts[0].get_window_extent(renderer)
    assert fig.get_suptitle().count("\n") >= 2 and suptitle.x0 >= 0 and suptitle.x1 <= fig.bbox.x1
    assert title.y1 < suptitle.y0 and panel.y1 < title.y0  # the panel gives way to the extra lines


def test_a_legend_too_tall_for_the_figure_gets_columns_and_stays_on_the_canvas(tmp_path: Path) -> None:
    with plots.axes.rc_style():
        fig, (ax,) = plots.axes.new_figure(plots.axes.SINGLE)
        for i in range(60):
            ax.plot([0, 1], [i, i], label=f"variant number {i}")
        plots.axes.add_legend(fig, ax, outside=True)
        renderer = placed(fig, tmp_path)
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert legend_columns(legend, renderer) > 1
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
    assert box.x0 > ax.get_tightbbox(renderer).x1  # still beside the panel


def test_a_legend_below_the_panels_is_centred_under_them_in_as_many_rows_as_it_needs(tmp_path: Path) -> None:
    with plots.axes.rc_style():
        fig, axes = plots.axes.new_figure((8.0, 4.0), 1, 2, legend_below=True)
        lines = [axes[0].plot([0, 1], [i, i])[0] for i in range(6)]
        plots.axes.figure_legend(fig, lines, [f"a rather long legend entry {i}" for i in range(6)])
        renderer = placed(fig, tmp_path)
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    assert 1 < legend_columns(legend, renderer) < 6 and box.x0 >= 0 and box.x1 <= fig.bbox.x1
    assert box.y1 < min(ax.get_tightbbox(renderer).y0 for ax in axes)
    assert abs((box.x0 + box.x1) / 2 - fig.bbox.x1 / 2) < 1


def test_report_order_puts_histograms_in_the_order_given_and_gradients_last() -> None:
    from optbench.layout import report_order

    names = plots.activation_figures_of(["relu", "sigmoid", "relu"])
    assert names == ("histograms_relu.png", "histograms_sigmoid.png", "gradients.png")
    assert report_order(["gradients.png", *names[:2]]) == list(names)
    assert report_order(["diagnostics.png", "loss.png", "paths.png"]) == [
        "paths.png",
        "loss.png",
        "diagnostics.png",
    ]


def test_the_figures_and_the_report_read_only_from_disk_without_importing_what_runs_experiments() -> None:
    code = (
        "import sys\n"
        "import optbench.plots, optbench.report, optbench.results\n"
        "from optbench.plots import rendering\n"
        "running = ('optbench.train', 'optbench.runner', 'optbench.runfolder', 'optbench.suite', "
        "'optbench.executors', 'optbench.engine', 'optbench.evaluation', "
        "'optbench.tune', 'optbench.data.sources')\n"
        "print(sorted(m for m in running if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
