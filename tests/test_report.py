"""Tests of optbench.report: tables, the sentences of report.md (true to known numbers), the index,
and `optbench compare` / `optbench report` end to end."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from test_plots import dataset_run, finish_experiment, function_run, lr_sweep_experiment, zero_init_experiment

from optbench import report
from optbench.cli import main
from optbench.results import read_experiment

NO_SPLIT = "chosen on the test set: these runs hold out no validation split"
"""How a report says where it chose when the runs held out no validation split."""


def sentences(folder: Path) -> list[str]:
    return [f.text for f in report.findings(read_experiment(folder))]


def one_with(items: list[str], *parts: str) -> str:
    """The single sentence that contains every part."""
    found = [s for s in items if all(p in s for p in parts)]
    assert len(found) == 1, (parts, items)
    return found[0]


# --------------------------------------------------------------------------------------------------
# Terminal tables
# --------------------------------------------------------------------------------------------------


def test_the_variants_table_gives_mean_and_std_over_seeds_and_counts_what_did_not_complete(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "nan"
    ids = [
        dataset_run(folder, "sgd", 10.0, 0, [0.5, 0.6], final_loss=0.5, diverged_step=150),
        dataset_run(folder, "sgd", 10.0, 1, [0.5, 0.6], final_loss=0.5, diverged_step=120),
        dataset_run(folder, "sgd", 0.1, 0, [0.5, 0.875], final_loss=0.25),
        dataset_run(folder, "sgd", 0.1, 1, [0.5, 0.625], final_loss=0.75),
    ]
    finish_experiment(folder, "dataset", ["optimizer.lr", "train.seed"], ids)
    header, *rows = report.variants_table(folder).splitlines()
    assert header.split() == ["optimizer.lr", "seeds", "final_loss", "final_test_acc", "runs"]
    cells = {row.split()[0]: row.split()[1:] for row in rows}
    assert cells["0.1"] == ["2", "0.5", "±", "0.25", "0.7500", "±", "0.1250", "2", "completed"]
    assert cells["10"][:3] == ["2", "—", "—"] and cells["10"][-2:] == ["2", "diverged"]


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------


def test_report_names_the_lowest_final_loss_and_the_highest_accuracy(tmp_path: Path) -> None:
    folder = tmp_path / "winners"
    ids = [
        dataset_run(folder, "sgd", 0.1, 0, [0.5, 0.95], final_loss=0.3),
        dataset_run(folder, "adam", 0.001, 0, [0.5, 0.90], final_loss=0.1),
        dataset_run(folder, "momentum", 0.01, 0, [0.5, 0.92], final_loss=0.2),
    ]
    finish_experiment(folder, "dataset", ["optimizer.name", "optimizer.lr"], ids)
    found = sentences(folder)
    assert one_with(found, "Lowest final training loss") == (
        "Lowest final training loss: adam lr=0.001 (0.1), ahead of momentum lr=0.01 (0.2) by 0.1; with one "
        "seed each, whether this difference is real cannot be judged."
    )
    assert one_with(found, "Highest final test accuracy") == (
        f"Highest final test accuracy ({NO_SPLIT}): sgd lr=0.1 (95.00%), ahead of momentum lr=0.01 (92.00%) "
        "by 3.00 points; with one seed each, whether this difference is real cannot be judged."
    )


def test_with_a_validation_split_winners_are_chosen_on_validation_and_test_is_their_held_out_result(
    tmp_path: Path,
) -> None:
    """Validation and test disagree on purpose: every choice must follow validation."""
    folder = tmp_path / "held-out"
    ids = [
        dataset_run(folder, "sgd", 0.1, 0, [0.5, 0.99], val_accs=[0.5, 0.90], final_loss=0.3),
        dataset_run(folder, "adam", 0.001, 0, [0.5, 0.91], val_accs=[0.5, 0.97], final_loss=0.25),
        dataset_run(folder, "momentum", 0.01, 0, [0.5, 0.92], val_accs=[0.5, 0.93], final_loss=0.2),
    ]
    finish_experiment(folder, "dataset", ["optimizer.name", "optimizer.lr"], ids)
    found = sentences(folder)
    assert one_with(found, "Highest final validation accuracy") == (
        "Highest final validation accuracy (chosen on validation): adam lr=0.001 (97.00%), ahead of "
        "momentum lr=0.01 (93.00%) by 4.00 points; with one seed each, whether this difference is real "
        "cannot be judged; its held-out test accuracy is 91.00%."
    )
    # validation loss is 1.1 × the final training loss in these runs
    assert one_with(found, "Lowest final validation loss").startswith(
        "Lowest final validation loss (chosen on validation): momentum lr=0.01 (0.22"
    )
    assert one_with(found, "Steps to reach 97% validation accuracy").startswith(
        "Steps to reach 97% validation accuracy (the first evaluation at or above it): adam lr=0.001 200"
    )
    assert not [s for s in found if "Highest final test accuracy" in s]
    text = report.write_report(folder).read_text()
    assert "| final validation accuracy | final test accuracy |" in text


def test_the_best_learning_rate_follows_validation_where_test_would_choose_another(tmp_path: Path) -> None:
    folder = tmp_path / "lrs"
    ids = [
        dataset_run(folder, "sgd", 0.01, 0, [0.5, 0.99], val_accs=[0.5, 0.90], final_loss=0.3),
        dataset_run(folder, "sgd", 0.1, 0, [0.5, 0.92], val_accs=[0.5, 0.95], final_loss=0.2),
    ]
    finish_experiment(folder, "dataset", ["optimizer.lr"], ids)
    assert one_with(sentences(folder), "Best learning rate for sgd") == (
        "Best learning rate for sgd (by final validation accuracy, chosen on validation): 0.1 (95.00%), "
        "ahead of 0.01 (90.00%) by 5.00 points; with one seed each, whether this difference is real cannot "
        "be judged; held-out test accuracy 92.00%; tried 0.01, 0.1."
    )


def test_time_to_target_is_the_first_evaluation_at_97_percent_averaged_over_seeds(tmp_path: Path) -> None:
    folder = tmp_path / "ttt"
    ids = [
        dataset_run(folder, "adam", 0.001, 0, [0.9, 0.97, 0.99, 0.99, 0.99], final_loss=0.1),
        dataset_run(folder, "adam", 0.001, 1, [0.9, 0.95, 0.96, 0.98, 0.96], final_loss=0.1),
        dataset_run(folder, "sgd", 0.01, 0, [0.5, 0.8, 0.9, 0.95, 0.969], final_loss=0.4),
    ]
    finish_experiment(folder, "dataset", ["optimizer.name", "optimizer.lr", "train.seed"], ids)
    text = one_with(sentences(folder), "Steps to reach 97% test accuracy")
    assert "adam lr=0.001 300, mean over 2 seeds" in text  # steps 200 and 400
    assert text.endswith("; not reached in 500 steps: sgd lr=0.01.")


def test_time_to_target_says_so_when_no_variant_reached_it(tmp_path: Path) -> None:
    folder = tmp_path / "slow"
    ids = [
        dataset_run(folder, "sgd", 0.01, 0, [0.5, 0.969], final_loss=0.4),
        dataset_run(folder, "sgd", 0.1, 0, [0.6, 0.9], final_loss=0.3),
    ]
    finish_experiment(folder, "dataset", ["optimizer.lr"], ids)
    assert "No variant reached 97% test accuracy within 200 steps." in sentences(folder)


def test_time_to_target_says_how_many_seeds_reached_it(tmp_path: Path) -> None:
    folder = tmp_path / "some"
    ids = [
        dataset_run(folder, "adam", 0.001, 0, [0.97, 0.98], final_loss=0.1),
        dataset_run(folder, "adam", 0.001, 1, [0.90, 0.96], final_loss=0.1),
    ]
    finish_experiment(folder, "dataset", ["train.seed"], ids)
    text = one_with(sentences(folder), "Steps to reach 97% test accuracy")
    assert "adam 100 (mean of the 1 of 2 seeds that reached it; the others not in 200 steps)" in text


def test_only_the_variant_at_ln10_is_called_stuck_at_chance_level(tmp_path: Path) -> None:
    folder = tmp_path / "inits"
    ids = [
        dataset_run(
            folder,
            "sgd",
            0.01,
            0,
            [0.11, 0.11],
            final_loss=math.log(10) - 0.001,
            init={"name": "normal", "std": 0.01},
        ),
        dataset_run(folder, "sgd", 0.01, 0, [0.8, 0.9], final_loss=2.2, init={"name": "xavier"}),
        dataset_run(folder, "sgd", 0.01, 0, [0.8, 0.93], final_loss=0.3, init={"name": "he"}),
    ]
    finish_experiment(folder, "dataset", ["model.init.name", "model.init.std"], ids)
    stuck = [s for s in sentences(folder) if "chance level" in s]
    assert stuck == [
        "sgd init=normal(std=0.01) did not learn: its final training loss (2.3016) is within 0.05 "
        "of ln 10 = 2.3026, the loss of a uniform guess; it is stuck at chance level."
    ]


def test_best_learning_rate_is_reported_per_optimizer(tmp_path: Path) -> None:
    found = sentences(lr_sweep_experiment(tmp_path))
    # sgd: lr 0.01 reaches (0.9 + 0.92) / 2 = 91%, lr 0.1 reaches (0.98 + 0.975) / 2 = 97.75%. On two
    # seeds each (Welch): se² = 0.0002/2 + 0.0000125/2, so se = 1.0308 points, ν = 1.1245 and
    # t(0.975, ν) = 9.8195: the 95 % CI of the difference, 6.75 ± 10.12 points, includes 0
    assert one_with(found, "Best learning rate for sgd") == (
        f"Best learning rate for sgd (by final test accuracy, {NO_SPLIT}): no single winner: 0.1 (97.75%) "
        "and 0.01 (91.00%) are within noise of each other (0.1 ahead of 0.01 by 6.75 points; the 95 % CI "
        "of the difference, [-3.37, 16.87] points, includes 0; Welch's t, 2 seeds each); tried 0.01, 0.1."
    )
    assert not [s for s in found if "Best learning rate for adam" in s]  # one lr only: nothing to choose


def test_diverged_runs_are_reported_with_their_steps(tmp_path: Path) -> None:
    folder = tmp_path / "blowup"
    ids = [
        dataset_run(folder, "sgd", 10.0, 0, [0.5, 0.6], final_loss=0.5, diverged_step=150),
        dataset_run(folder, "sgd", 10.0, 1, [0.5, 0.6], final_loss=0.5, diverged_step=42),
        dataset_run(folder, "sgd", 0.1, 0, [0.5, 0.9], final_loss=0.3),
    ]
    finish_experiment(folder, "dataset", ["optimizer.lr", "train.seed"], ids)
    found = sentences(folder)
    assert (
        one_with(found, "diverged in")
        == "sgd lr=10 diverged in 2 of 2 seeds (loss not finite at step 150, 42)."
    )
    assert one_with(found, "Best learning rate") == (
        f"Best learning rate for sgd (by final test accuracy, {NO_SPLIT}): 0.1 (90.00%; the only one with "
        "a value); tried 0.1, 10 (diverged)."
    )


def test_function_report_gives_final_f_distance_to_the_minimum_and_who_got_there(tmp_path: Path) -> None:
    folder = tmp_path / "paths"
    ids = [
        function_run(folder, "sgd", 0.95, [(-7, 2), (-0.3, 0.4)]),
        function_run(folder, "adam", 0.3, [(-7, 2), (0.0006, -0.0008)]),
        function_run(folder, "momentum", 0.1, [(-7, 2), (-2.0, 1.0), (math.inf, math.inf)], diverged=True),
    ]
    finish_experiment(folder, "function", ["optimizer.name"], ids)
    found = sentences(folder)
    assert one_with(found, "sgd lr=0.95: final f") == (
        "sgd lr=0.95: final f = 0.1645 at (-0.3, 0.4), 0.5 from the nearest minimum (0, 0)."
    )
    assert (
        one_with(found, "Within 0.001 of a minimum") == "Within 0.001 of a minimum at the end: adam lr=0.3."
    )
    assert one_with(found, "Lowest final f").startswith("Lowest final f: adam lr=0.3 (")
    assert (
        one_with(found, "momentum lr=0.1 diverged") == "momentum lr=0.1 diverged (loss not finite at step 2)."
    )


def test_unfinished_runs_are_counted_with_their_errors(tmp_path: Path) -> None:
    folder = tmp_path / "partial"
    done = dataset_run(folder, "sgd", 0.1, 0, [0.5, 0.9], final_loss=0.3)
    (folder / "runs" / "sgd-lr0.1-he-s1").mkdir()
    (folder / "runs" / "sgd-lr0.1-he-s1" / "status.json").write_text(
        '{"status": "failed", "error": "no data"}'
    )
    finish_experiment(folder, "dataset", ["train.seed"], [done, "sgd-lr0.1-he-s1", "sgd-lr0.1-he-s2"])
    assert one_with(sentences(folder), "did not finish") == (
        "2 runs did not finish (1 failed, 1 pending): sgd-lr0.1-he-s1: no data."
    )


# --------------------------------------------------------------------------------------------------
# report.md and index.md
# --------------------------------------------------------------------------------------------------


def test_report_has_the_variant_table_and_links_only_figures_that_exist(tmp_path: Path) -> None:
    folder = lr_sweep_experiment(tmp_path)
    (folder / "loss.png").write_bytes(b"")
    text = report.write_report(folder).read_text()
    assert text.startswith(
        "# sweep\n\nRan: dataset `mnist` (no validation split), MLP 784-4-4-10 (relu, init he), batch 8, "
        "300 updates; 3 variants varying `optimizer.name`, `optimizer.lr`, 1–2 seeds each; 5 runs "
        "(5 completed). Config `synthetic.yaml`.\n\nA synthetic experiment.\n"
    )
    assert "| sgd lr=0.1 | 2 | 0.1100 ± 0.0100 | 0.9775 ± 0.0025 | 1.00 ± 0.00 | 2 completed |" in text
    assert "![loss](loss.png)" in text
    assert "test_accuracy.png" not in text
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_every_number_of_a_report_column_has_the_same_format() -> None:
    from optbench.report.tables import mean_std_cells, number_cells, percent_cells

    losses = [0.1402, 2.393, 38960.27, math.nan]  # from a learning-rate sweep where one rate blew up
    assert number_cells(losses) == ["0.140", "2.393", "38960.270", "—"]
    assert number_cells([1e-12, 0.5, 3.0]) == ["1.00e-12", "5.00e-01", "3.00e+00"]  # too many decimals
    assert number_cells([2.0, 3e5]) == ["2.00e+00", "3.00e+05"]  # too large for fixed point
    assert mean_std_cells([(0.1579, 3.1e-05), (2.393, 0.03)], [2, 2]) == ["0.158 ± 0.000", "2.393 ± 0.030"]
    assert percent_cells([0.643, 1e-5, 0.0, math.nan]) == ["64.3%", "<0.1%", "0.0%", "—"]


def test_report_says_what_the_final_training_loss_is_where_it_shows_it(tmp_path: Path) -> None:
    from optbench.measures import FINAL_LOSS_WINDOW

    text = report.write_report(lr_sweep_experiment(tmp_path)).read_text()
    definition = f"Final training loss: the mean minibatch loss over a run's last {FINAL_LOSS_WINDOW} steps"
    variants = text.index("## Variants")
    assert text.index(definition) > variants and text.index(definition) < text.index("| variant |")
    assert text.count(definition) == 1 and "| final training loss |" in text


def test_write_report_replaces_the_file_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = lr_sweep_experiment(tmp_path)
    (folder / "report.md").write_text("old report\n")

    def interrupted(text: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("optbench.files.os.replace", lambda *args: interrupted(""))
    with pytest.raises(KeyboardInterrupt):
        report.write_report(folder)
    assert (folder / "report.md").read_text() == "old report\n"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_index_links_each_report_and_its_figures_with_its_headlines(tmp_path: Path) -> None:
    sweep = lr_sweep_experiment(tmp_path)
    (sweep / "loss.png").write_bytes(b"")
    paths = tmp_path / "paths"
    finish_experiment(paths, "function", [], [function_run(paths, "sgd", 0.95, [(-7, 2), (0.0, 0.0)])])
    index = report.write_index(tmp_path, [sweep, paths]).read_text()
    assert "## [sweep](sweep/report.md)" in index
    assert "## [paths](paths/report.md)" in index
    assert "Figures: [loss](sweep/loss.png)" in index
    assert (
        "- Best learning rate for sgd (by final test accuracy, chosen on the test set: these runs hold out "
        "no validation split): no single winner: 0.1 (97.75%) and 0.01 (91.00%)" in index
    )
    assert "A synthetic experiment." not in index  # the config's prose is in report.md, not the index
    assert (
        "\nRan: function `book` from (-7, 2), 1 update; 1 variant, 1 seed each; 1 run (1 completed).\n"
        in index
    )
    assert "- Within 0.001 of a minimum at the end: sgd." in index


# --------------------------------------------------------------------------------------------------
# The zero-init study
# --------------------------------------------------------------------------------------------------


def test_zero_init_report_gives_distinct_units_per_layer_at_the_start_and_the_end(tmp_path: Path) -> None:
    found = sentences(zero_init_experiment(tmp_path))
    assert (
        "sgd init=zeros output_init=he: distinct units per layer at step 0 → step 300: layer 1: 1 → 1 of 4; "
        "layer 2: 1 → 4 of 4; layer 3 (output): 10 → 10 of 10." in found
    )
    assert (
        "sgd init=zeros output_init=he: training broke the symmetry of layer 2 only; layer 1 still has a "
        "single distinct unit (every unit identical)." in found
    )
    assert one_with(found, "sgd init=zeros: training did not break the symmetry").endswith(
        "layers 1–3 still have a single distinct unit (every unit identical)."
    )
    assert not [s for s in found if s.startswith(("sgd init=xavier:", "sgd init=he:"))]  # no subject


def test_weights_that_never_moved_are_said_to_have_stayed_exactly_zero(tmp_path: Path) -> None:
    found = sentences(zero_init_experiment(tmp_path))
    frozen = one_with(found, "stayed exactly zero")
    assert frozen.startswith(
        "sgd init=zeros: every weight stayed exactly zero (‖W‖ = 0 in every layer at every diagnostics step, "
        "0 to 300)"
    )
    assert "only the output bias learned" in frozen  # zeros with a He output layer moved: no such sentence


def test_zero_init_loss_is_timed_against_the_he_variant_at_step_100_and_at_its_end(tmp_path: Path) -> None:
    found = sentences(zero_init_experiment(tmp_path))
    slow = one_with(found, "sgd init=zeros output_init=he: final training loss")
    assert slow == (
        "sgd init=zeros output_init=he: final training loss 1 against 0.5 for sgd init=he. The smoothed "
        "training loss of sgd init=he is 2 at step 100, which sgd init=zeros output_init=he reaches at step "
        "206, and 0.5001 at step 300, which sgd init=zeros output_init=he never reaches in 300 steps."
    )
    stuck = one_with(found, "sgd init=zeros: final training loss")
    assert stuck.endswith(
        "is 2 at step 100 and 0.5001 at step 300; sgd init=zeros reaches neither in 300 steps."
    )


def test_zero_init_section_lists_every_layer_and_appears_only_for_such_a_study(tmp_path: Path) -> None:
    text = report.write_report(zero_init_experiment(tmp_path)).read_text()
    assert "## Zero-init study" in text
    assert "| sgd init=zeros output_init=he | 2 | 4 | 1 | 4 | 0.00 | 3.00e-01 |" in text
    assert "| sgd init=zeros | 3 (output) | 10 | 1 | 1 | 0.00 | 0.00e+00 |" in text
    sweep = report.write_report(lr_sweep_experiment(tmp_path)).read_text()
    assert "Zero-init" not in sweep and not [s for s in sentences(tmp_path / "sweep") if "distinct" in s]


def test_a_reference_at_chance_level_at_step_100_is_said_to_be(tmp_path: Path) -> None:
    folder = zero_init_experiment(tmp_path)
    he = next((folder / "runs").glob("*-he-s0"))
    metrics = (he / "metrics.csv").read_text().splitlines()
    rows = [line.split(",") for line in metrics[1:]]
    for row in rows[:100]:
        row[2] = "2.31"
    (he / "metrics.csv").write_text("\n".join([metrics[0], *(",".join(r) for r in rows)]) + "\n")
    text = one_with(sentences(folder), "sgd init=zeros output_init=he: final training loss")
    assert (
        "is 2.31 at step 100 (still at chance level), which sgd init=zeros output_init=he reaches at step 1"
        in text
    )


# --------------------------------------------------------------------------------------------------
# End to end through the command line
# --------------------------------------------------------------------------------------------------


def test_compare_then_report_redraws_the_figures_and_an_identical_report(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "experiment: tiny\ntask: {function: book}\noptimizer: {name: sgd, lr: 0.9}\n"
        "train: {steps: 12}\nruns:\n  - optimizer: {name: sgd, lr: 0.9}\n"
        "  - optimizer: {name: momentum, lr: 0.1}\n"
    )
    runner = CliRunner()
    result = runner.invoke(main, ["compare", str(config), "--out", str(tmp_path), "-q", "-j", "1"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "tiny"
    figures = sorted(p.name for p in folder.glob("*.png"))
    assert figures == ["loss.png", "paths.png", "paths_panels.png"]
    first = (folder / "report.md").read_bytes()
    assert b"Lowest final f: sgd lr=0.9" in first
    for name in figures:
        (folder / name).unlink()
    result = runner.invoke(main, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.glob("*.png")) == figures
    assert (folder / "report.md").read_bytes() == first
    assert f"report: {folder / 'report.md'}" in result.output


def test_report_of_a_folder_that_is_not_an_experiment_is_one_line_of_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"error: {tmp_path}: holds no optbench experiment folder"]


def test_the_report_stands_alone_with_its_command_overrides_split_and_shared_settings(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "experiment: alone\ndescription: SGD on the book function for 30 updates, three seeds.\n"
        "task: {function: book}\noptimizer: {name: sgd, lr: 0.9}\ntrain: {steps: 30}\n"
        "grid:\n  train.seed: [0, 1, 2]\n"
    )
    args = ["compare", str(config), "train.steps=20", "grid.train.seed=[0, 1]", "--out", str(tmp_path), "-q"]
    assert CliRunner().invoke(main, args).exit_code == 0
    text = (tmp_path / "alone" / "report.md").read_text()
    assert f"Run with `optbench compare {config} train.steps=20 'grid.train.seed=[0, 1]'`." in text
    assert "`train.steps` = 20 (the file has 30)" in text
    assert "`grid.train.seed` = [0, 1] (the file has [0, 1, 2])" in text
    assert "| `optimizer.lr` | 0.9 |" in text and "| `train.steps` | 20 |" in text
    assert "Seeds (`train.seed`): 0, 1." in text


def test_the_target_accuracy_of_time_to_target_is_the_configs(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "experiment: target\ntask: {function: book}\noptimizer: {name: sgd, lr: 0.9}\ntrain: {steps: 5}\n"
        "report: {target_accuracy: 0.9}\n"
    )
    assert CliRunner().invoke(main, ["compare", str(config), "--out", str(tmp_path), "-q"]).exit_code == 0
    assert read_experiment(tmp_path / "target").target_accuracy == 0.9
    bad = CliRunner().invoke(main, ["compare", str(config), "report.target_accuracy=2", "--dry-run"])
    assert bad.exit_code == 2
    assert "report.target_accuracy: must be > 0 and <= 1, got 2.0" in bad.stderr


def test_time_to_target_uses_the_target_it_is_given(tmp_path: Path) -> None:
    folder = tmp_path / "ninety"
    ids = [dataset_run(folder, "adam", 0.001, 0, [0.85, 0.91, 0.95], final_loss=0.1)]
    finish_experiment(folder, "dataset", [], ids)
    info = yaml.safe_load((folder / "experiment.yaml").read_text())
    info["report"] = {"target_accuracy": 0.9}
    (folder / "experiment.yaml").write_text(yaml.safe_dump(info))
    assert one_with(sentences(folder), "Steps to reach 90% test accuracy").startswith(
        "Steps to reach 90% test accuracy (the first evaluation at or above it): adam 200"
    )
