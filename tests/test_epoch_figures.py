"""Experiments measured per epoch (training accuracy beside the held-out one): the figures they get and
the report's sentences, from run folders written by hand, whose numbers are known."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_plots import csv_text, dataset_config, finish_experiment

from optbench import plots, report
from optbench.layout import (
    ACCURACY_PNG,
    BATCH_NORM_PNG,
    BATCH_NORM_SUMMARY_PNG,
    BEST_TRIALS_PNG,
    LOSS_PNG,
    SEARCH_REGION_PNG,
    TRAIN_TEST_PNG,
)
from optbench.results import batch_norm_pairs, best_trials, read_experiment, read_tune, search_region

EPOCH_COLUMNS = (
    "step",
    "epoch",
    "train_loss",
    "train_set_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "lr",
    "elapsed_s",
)
STEPS_PER_EPOCH = 3


def epoch_run(
    folder: Path,
    run_id: str,
    config: dict[str, Any],
    train_accs: Sequence[float],
    test_accs: Sequence[float] | None = None,
    val_accs: Sequence[float] | None = None,
    final_loss: float = 0.5,
    in_epochs: bool = True,
    diverged: bool = False,
) -> str:
    """A completed run evaluated after every epoch of STEPS_PER_EPOCH updates: at the k-th its
    training accuracy is train_accs[k] (and its test and validation accuracy, when given)."""
    rows = []
    epochs = len(train_accs)
    for step in range(1, epochs * STEPS_PER_EPOCH + 1):
        k, evaluated = divmod(step, STEPS_PER_EPOCH)
        row: list[Any] = [step, step / STEPS_PER_EPOCH, 1.0] + [None] * 6 + [0.01, step / 1000]
        if evaluated == 0:
            row[3], row[4] = 1.0 - train_accs[k - 1], train_accs[k - 1]
            if val_accs is not None:
                row[5], row[6] = 1.0 - val_accs[k - 1], val_accs[k - 1]
            if test_accs is not None:
                row[7], row[8] = 1.0 - test_accs[k - 1], test_accs[k - 1]
        rows.append(row)
    config["train"]["steps"] = epochs * STEPS_PER_EPOCH
    if in_epochs:
        config["train"].update(epochs=epochs, eval_every="epoch")
    if diverged:  # its loss overflowed at the second update, before any evaluation
        rows = [rows[0][:3] + [None] * 6 + rows[0][9:], [2, 2 / STEPS_PER_EPOCH, math.inf] + [None] * 8]
    run_folder = folder / "runs" / run_id
    run_folder.mkdir(parents=True)
    (run_folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    status = {
        "run_id": run_id,
        "seed": config["train"]["seed"],
        "status": "diverged" if diverged else "completed",
        "final_loss": None if diverged else final_loss,
        "final_test_acc": test_accs[-1] if test_accs else None,
        "final_val_acc": val_accs[-1] if val_accs else None,
        "steps_done": epochs * STEPS_PER_EPOCH,
        "wall_s": 1.0,
    }
    (run_folder / "status.json").write_text(json.dumps(status))
    (run_folder / "metrics.csv").write_text(csv_text(EPOCH_COLUMNS, rows))
    return run_id


WITH_BN = [0.3, 0.6, 0.8, 0.9]
WITHOUT_BN = {
    1.0: [0.5, 0.7, 0.85, 0.95],  # without learns faster: mean 0.75 against 0.65
    0.1: [0.3, 0.6, 0.8, 0.905],  # level: the means differ by 0.00125
    0.01: [0.1, 0.1, 0.1, 0.1],  # stuck at chance: batch norm leads by 0.55
    0.001: [0.1, 0.1, 0.1, 0.15],  # batch norm leads by 0.5375
}


def batch_norm_experiment(
    root: Path, scales: Sequence[float] = tuple(WITHOUT_BN), seeds: int = 1, diverged: float | None = None
) -> Path:
    """Each weight scale with and without batch normalisation, training accuracy per epoch; without
    it, the runs at the scale `diverged` diverge."""
    folder = root / "batch-norm"
    ids = []
    for scale in scales:
        for bn in (True, False):
            for seed in range(seeds):
                config = dataset_config(
                    folder.name, "sgd", 0.01, seed, 1, init={"name": "normal", "std": scale}
                )
                config["model"]["batch_norm"] = bn
                accs = WITH_BN if bn else WITHOUT_BN.get(scale, [0.1, 0.2, 0.3, 0.4])
                blew_up = not bn and scale == diverged
                run_id = f"sgd-std{scale:g}-bn{int(bn)}-s{seed}"
                ids.append(epoch_run(folder, run_id, config, accs, diverged=blew_up))
    varied = ["model.init.std", "model.batch_norm", *(["train.seed"] if seeds > 1 else [])]
    return finish_experiment(folder, "dataset", varied, ids)


def overfit_experiment(root: Path, penalties: Sequence[float] = (0.0, 0.1), in_epochs: bool = True) -> Path:
    """λ = 0: training accuracy reaches 100 % and test 70 %; λ = 0.1: 90 % and 75 % (the runs set up
    in epochs, or else in steps)."""
    folder = root / "overfit"
    curves = {0.0: ([0.5, 0.8, 1.0], [0.4, 0.6, 0.7]), 0.1: ([0.5, 0.7, 0.9], [0.4, 0.6, 0.75])}
    ids = []
    for i, l2 in enumerate(penalties):
        config = dataset_config(folder.name, "sgd", 0.01, 0, 1)
        config["model"]["l2"] = l2
        config["task"]["train_size"] = 300
        train, test = curves.get(l2, ([0.5, 0.6, 0.65 + 0.01 * i], [0.4, 0.5, 0.6]))
        ids.append(epoch_run(folder, f"sgd-l2{l2:g}-s0", config, train, test, in_epochs=in_epochs))
    return finish_experiment(folder, "dataset", ["model.l2"], ids)


def test_runs_pair_by_weight_scale_with_and_without_batch_norm(tmp_path: Path) -> None:
    pairs = batch_norm_pairs(read_experiment(batch_norm_experiment(tmp_path)))
    assert [p.label for p in pairs] == ["std = 1", "std = 0.1", "std = 0.01", "std = 0.001"]
    assert [p.scale for p in pairs] == [1.0, 0.1, 0.01, 0.001]
    assert all(p.with_bn is not None and p.without is not None for p in pairs)
    assert pairs[0].with_bn is not None and pairs[0].with_bn.config["model"]["batch_norm"] is True


def test_the_batch_norm_finding_counts_the_scales_it_learns_faster_at(tmp_path: Path) -> None:
    found = report.findings(read_experiment(batch_norm_experiment(tmp_path)))
    head = found[0].text
    assert found[0].headline
    assert head.startswith(
        "Batch normalisation learned faster at 2 of 4 weight scales (slower at std = 1; level at std = 0.1)."
    )
    assert (
        "over the 4 evaluations (the area under the training-accuracy curve) by more than 1.0 "
        "percentage points;" in head
    )
    assert "the largest lead is 55.0 points at std = 0.01." in head
    # last epoch: 90 % with batch norm everywhere; without 95, 90.5, 10, 15
    assert found[1].text == (
        "At the last epoch, training accuracy was higher with batch normalisation at 2 of 4 weight "
        "scales: 90.0–90.0 % with it, 10.0–95.0 % without."
    )


def test_the_gap_finding_compares_training_and_test_accuracy_at_the_end(tmp_path: Path) -> None:
    found = report.findings(read_experiment(overfit_experiment(tmp_path)))
    assert found[0].text == (
        "At the last epoch, sgd l2=0: training 100.0 %, test 70.0 %, a gap of 30.0 points; "
        "sgd l2=0.1: training 90.0 %, test 75.0 %, a gap of 15.0 points."
    )
    assert found[1].text == (
        "The gap between training and test accuracy at the last epoch is narrowest for sgd l2=0.1 "
        "(15.0 points) and widest for sgd l2=0 (30.0 points); test accuracy is higher with the "
        "narrower gap (75.0 against 70.0 %). Averaged over the evaluations, the gap is (in points, "
        "narrowest first): sgd l2=0.1 11.7, sgd l2=0 20.0."
    )
    assert found[1].headline


def test_batch_norm_and_overfitting_experiments_get_their_figures(tmp_path: Path) -> None:
    bn = plots.experiment_figures(batch_norm_experiment(tmp_path))
    assert {BATCH_NORM_PNG, BATCH_NORM_SUMMARY_PNG} <= {p.name for p in bn}
    assert TRAIN_TEST_PNG not in {p.name for p in bn}
    overfit = plots.experiment_figures(overfit_experiment(tmp_path))
    assert TRAIN_TEST_PNG in {p.name for p in overfit}
    assert BATCH_NORM_PNG not in {p.name for p in overfit}
    text = report.write_report(tmp_path / "overfit").read_text()
    assert "![train_test](train_test.png)" in text


# A random search of lr and λ: trial k drew SEARCH[k] and reached the validation accuracy given
SEARCH = [
    (1e-3, 1e-6, 0.50),  # trial 0: the base setting
    (1e-2, 1e-8, 0.80),
    (5e-3, 1e-7, 0.78),
    (2e-3, 1e-5, 0.70),
    (1e-6, 1e-4, 0.10),
    (1e-5, 1e-6, 0.11),
    (4e-3, 3e-8, 0.75),
    (3e-3, 1e-6, 0.74),
    (1e-4, 1e-7, 0.20),
]


def search_study(root: Path, search: Sequence[tuple[float, float, float]] = SEARCH) -> Path:
    """A one-optimizer study of lr and model.l2, each trial one run with training and validation
    accuracy per epoch (training accuracy 10 points above the validation one at the end)."""
    folder = root / "search"
    trials, ids = [], []
    for number, (lr, l2, acc) in enumerate(search):
        config = dataset_config(folder.name, "sgd", lr, 0, 1)
        config["model"]["l2"] = l2
        config["task"]["validation"] = 100
        val = [0.1 + (acc - 0.1) * k / 4 for k in range(1, 5)]
        train = [min(v + 0.1 * k / 4, 1.0) for k, v in enumerate(val, start=1)]
        run_id = epoch_run(folder, f"sgd-trial{number}", config, train, test_accs=val, val_accs=val)
        ids.append(run_id)
        params = {"lr": lr, "model.l2": l2}
        trials.append(
            {"optimizer": "sgd", "trial": number, "role": "trial", "params": params, "runs": [run_id]}
        )
    finish_experiment(folder, "dataset", ["optimizer.lr", "model.l2"], ids)
    info = yaml.safe_load((folder / "experiment.yaml").read_text())
    search_space = {"lr": {"log_uniform": [1e-6, 1e-2]}, "model.l2": {"log_uniform": [1e-8, 1e-4]}}
    spec = {
        "budget": len(search),
        "sampler": "random",
        "metric": "val_acc",
        "mode": "final",
        "trial_seeds": 1,
        "final_seeds": 0,
        "optimizers": [{"name": "sgd", "search": search_space}],
    }
    info["tune"] = {"spec": spec, "trials": trials}
    (folder / "experiment.yaml").write_text(yaml.safe_dump(info, sort_keys=False))
    return folder


def test_the_best_trials_and_the_good_region_of_a_search(tmp_path: Path) -> None:
    tune = read_tune(search_study(tmp_path))
    assert [t.number for t in best_trials(tune, "sgd")] == [1, 2, 6, 7, 3, 0, 8, 5, 4]
    region = search_region(tune, "sgd")
    assert region is not None and region.keys == ("lr", "model.l2")
    assert [t.number for t in region.trials] == [1, 2, 6, 7, 3]
    assert region.ranges == ((2e-3, 1e-2), (1e-8, 1e-5))
    found = [f.text for f in report.tune_findings(tune) if f.text.startswith("The good region")]
    # lr: log10(1e-2 / 2e-3) = 0.70 of 4 decades; λ: log10(1e-5 / 1e-8) = 3 of 4
    assert found == [
        "The good region: the best 5 of 9 trials (final validation accuracy 70.0%–80.0%) drew lr "
        "0.002–0.01 (0.7 of the 4 decades searched) and model.l2 1e-08–1e-05 (3.0 of the 4 decades "
        "searched); a narrow range says the value matters, one that fills the range searched says it "
        "hardly does."
    ]


def test_a_search_gets_its_region_and_best_trials_figures(tmp_path: Path) -> None:
    drawn = {p.name for p in plots.experiment_figures(search_study(tmp_path))}
    assert {SEARCH_REGION_PNG, BEST_TRIALS_PNG} <= drawn
    text = report.write_report(tmp_path / "search").read_text()
    assert "![search_region](search_region.png)" in text and "![best_trials](best_trials.png)" in text


def test_the_index_lists_experiments_under_the_sections_of_the_chapter(tmp_path: Path) -> None:
    search = search_study(tmp_path)
    overfit = overfit_experiment(tmp_path)
    bn = batch_norm_experiment(tmp_path)
    plain = tmp_path / "plain"
    config = dataset_config("plain", "adam", 0.001, 0, 1)
    finish_experiment(plain, "dataset", [], [epoch_run(plain, "adam-s0", config, [0.5, 0.9])])
    index = report.write_index(tmp_path, [search, overfit, plain, bn]).read_text()
    headings = [line for line in index.splitlines() if line.startswith("## ") or line.startswith("### ")]
    assert headings == [
        "## 6.1 Updating the parameters: the optimizers",
        "### [plain](plain/report.md)",
        "## 6.3 Batch normalisation",
        "### [batch-norm](batch-norm/report.md)",
        "## 6.4 Regularisation: overfitting, weight decay, dropout",
        "### [overfit](overfit/report.md)",
        "## 6.5 Validating hyperparameters",
        "### [search](search/report.md)",
    ]
    assert "- The good region: the best 5 of 9 trials" in index


def test_a_small_batch_norm_sweep_keeps_the_line_figures_a_large_one_its_grid_only(tmp_path: Path) -> None:
    small = {p.name for p in plots.experiment_figures(batch_norm_experiment(tmp_path / "small"))}
    assert {BATCH_NORM_PNG, BATCH_NORM_SUMMARY_PNG, LOSS_PNG, ACCURACY_PNG} <= small
    scales = [0.5**k for k in range(7)]  # 14 variants
    large = {p.name for p in plots.experiment_figures(batch_norm_experiment(tmp_path / "large", scales))}
    assert large == {BATCH_NORM_PNG, BATCH_NORM_SUMMARY_PNG}


def test_more_than_three_variants_at_chance_level_read_as_one_sentence(tmp_path: Path) -> None:
    def stuck_at_chance(count: int) -> list[str]:
        folder = tmp_path / f"stuck{count}"
        ids = []
        for k in range(count + 1):
            config = dataset_config(folder.name, "sgd", 0.01, 0, 1, init={"name": "normal", "std": 0.1**k})
            loss = 2.30 if k else 0.3  # ln 10 = 2.3026: every scale but the first is at chance level
            ids.append(epoch_run(folder, f"sgd-std{k}", config, [0.1, 0.1], final_loss=loss))
        finish_experiment(folder, "dataset", ["model.init.std"], ids)
        return [f.text for f in report.findings(read_experiment(folder)) if "did not learn" in f.text]

    three = stuck_at_chance(3)
    assert len(three) == 3 and three[0].startswith("sgd init=normal(std=0.1) did not learn: its final")
    (four,) = stuck_at_chance(4)
    assert four == (
        "4 of 5 variants did not learn, their final training loss within 0.05 of ln 10 = 2.3026, the "
        "loss of a uniform guess: sgd init=normal(std=0.1), sgd init=normal(std=0.01), "
        "sgd init=normal(std=0.001) and sgd init=normal(std=0.0001)."
    )


def test_runs_set_up_in_steps_get_no_gap_sentence_nor_train_test_figure(tmp_path: Path) -> None:
    folder = overfit_experiment(tmp_path, in_epochs=False)
    assert not any("gap" in f.text for f in report.findings(read_experiment(folder)))
    assert TRAIN_TEST_PNG not in {p.name for p in plots.experiment_figures(folder)}


def test_a_scale_at_which_the_plain_net_diverged_counts_for_batch_norm(tmp_path: Path) -> None:
    exp = read_experiment(batch_norm_experiment(tmp_path, diverged=1.0))
    head = report.findings(exp)[0].text
    # std = 1 was slower with batch norm; now the plain net diverges there: 3 of 4, none slower
    assert head.startswith(
        "Batch normalisation learned faster at 3 of 4 weight scales (level at std = 0.1; without it the "
        "runs at std = 1 diverged)."
    )
    assert "or training where the other diverged;" in head


def test_the_search_region_spans_the_searched_range_not_only_the_trials(tmp_path: Path) -> None:
    from optbench.plots.axes import label_log_axis
    from optbench.plots.search import search_region_figure

    narrow = [(1e-3 * (1 + k), 1e-7 * (1 + k), 0.5 + 0.05 * k) for k in range(4)]  # λ in 1e-7..4e-7
    fig = search_region_figure(read_tune(search_study(tmp_path, narrow)))
    ax = fig.axes[0]
    label_log_axis(ax)  # as saving the figure does
    assert ax.get_ylim() == pytest.approx((1e-8, 1e-4))
    low, high = ax.get_xlim()
    assert low < 1e-6 and high > 1e-2


def test_the_index_says_what_ran_in_epochs_on_a_training_subset(tmp_path: Path) -> None:
    index = report.write_index(tmp_path, [overfit_experiment(tmp_path)]).read_text()
    assert (
        "Ran: dataset `mnist` (no validation split, trained on the first 300 images left), MLP "
        "784-4-4-10 (relu, init he), batch 8, 3 epochs, 9 updates; 2 variants varying `model.l2`"
    ) in index
