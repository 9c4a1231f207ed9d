"""The command line as a researcher lives in it: the same options on every command, errors that name
the command to use, configs to inspect, output through a pipe, results to list and export, templates."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optbench import export as export_module
from optbench.cli import main
from optbench.config import load_experiment, templates, to_dict
from optbench.config.schema import SECTIONS
from optbench.config.tune import TuneSpec
from optbench.files import FolderLock
from optbench.hparams import hyperparameters
from optbench.optim import OPTIMIZERS

BOOK = """experiment: book
description: The book's bowl. Second sentence.
task: {function: book, start: [-7.0, 2.0]}
optimizer: {name: sgd, lr: 0.95}
train: {steps: 30}
"""
SEEDS = BOOK + "grid: {train.seed: [0, 1]}\n"
MOMENTA = (
    BOOK
    + """runs:
  - {optimizer: {name: sgd, momentum: 0.5}}
  - {optimizer: {name: sgd, momentum: 0.9}}
  - {optimizer: {name: adam, lr: 0.3}}
"""
)
ACTIVATIONS = """experiment: acts
samples: 20
features: 5
layers: 2
nodes: 4
cases:
  - {init: he, activation: relu}
  - {init: {name: normal, std: 0.01}, activation: sigmoid}
"""


def invoke(*args: str, width: int = 80) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), terminal_width=width, prog_name="optbench")
    return result.exit_code, result.stdout, result.stderr


def write(folder: Path, text: str, name: str = "c.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def errors(err: str) -> list[str]:
    return err.strip().splitlines()


# --------------------------------------------------------------------------------------------------
# Help
# --------------------------------------------------------------------------------------------------


def test_bare_optbench_prints_the_help_and_exits_0() -> None:
    code, out, _ = invoke()
    assert code == 0 and out.startswith("Usage: optbench") and "Commands:" in out


@pytest.mark.parametrize("width", [60, 80, 120])
def test_no_command_summary_is_cut_mid_sentence(width: int) -> None:
    code, out, _ = invoke("--help", width=width)
    commands = out.split("Commands:")[1]
    assert code == 0 and "..." not in commands
    summaries = " ".join(line.strip() for line in commands.splitlines())
    for name, command in main.commands.items():  # type: ignore[attr-defined]
        assert command.short_help and command.short_help.endswith(".")
        assert " ".join(command.short_help.split()) in re.sub(rf"\b{name}\b", "", summaries, count=1)


def test_list_help_does_not_break_words() -> None:
    code, out, _ = invoke("list", "--help", width=60)
    usage = out.splitlines()[0]
    assert code == 0 and usage == "Usage: optbench list [OPTIONS] [WHAT]"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["compare", "c.yaml", "--jobs", "0"],
            "--jobs: 0 is not in the range x>=1 (see optbench compare --help)",
        ),
        (["tune", "c.yaml", "-j", "-2"], "--jobs: -2 is not in the range x>=1 (see optbench tune --help)"),
        (
            ["compare", "c.yaml", "--jbos", "2"],
            "no such option '--jbos'; did you mean '--jobs'? (see optbench compare --help)",
        ),
        (["comprae"], "no such command 'comprae'; did you mean 'compare'? (see optbench --help)"),
        (["compare"], "missing argument 'CONFIG' (see optbench compare --help)"),
        (
            ["report", "nowhere"],
            "RESULTS_DIR: directory 'nowhere' does not exist (see optbench report --help)",
        ),
        (["data", "fetch", "fashion"], "DATASET: 'fashion' is not 'mnist' (see optbench data fetch --help)"),
    ],
)
def test_a_usage_error_of_the_command_line_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, BOOK)
    code, out, err = invoke(*args)
    assert (code, out, err) == (2, "", f"error: {expected}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_a_group_without_its_command_shows_its_help() -> None:
    code, out, err = invoke("data")
    assert code == 2 and "Usage: optbench data" in out + err and "fetch" in out + err


# --------------------------------------------------------------------------------------------------
# Consistent options: train, activations, report, suite, data, list
# --------------------------------------------------------------------------------------------------


def test_train_skips_a_finished_run_unless_forced(tmp_path: Path) -> None:
    config, out = write(tmp_path, BOOK), str(tmp_path / "r")
    assert invoke("train", str(config), "--out", out, "-q")[0] == 0
    (run_folder,) = (tmp_path / "r" / "book" / "runs").iterdir()
    written = (run_folder / "metrics.csv").stat().st_mtime_ns
    code, stdout, err = invoke("train", str(config), "--out", out, "-q")
    assert code == 0 and "already finished; not trained again (--force trains it anew)" in err
    assert (run_folder / "metrics.csv").stat().st_mtime_ns == written and "completed" in stdout
    assert invoke("train", str(config), "--out", out, "-q", "--force")[0] == 0
    assert (run_folder / "metrics.csv").stat().st_mtime_ns != written


def test_train_dry_run_prints_the_first_run_and_writes_nothing(tmp_path: Path) -> None:
    config = write(tmp_path, MOMENTA)
    code, out, _ = invoke("train", str(config), "--dry-run", "--out", str(tmp_path / "r"))
    assert code == 0 and not (tmp_path / "r").exists()
    assert "1 run\n" in out and "would train 1 of 3 runs; compare runs them all" in out
    assert out.splitlines()[1].startswith(load_experiment(config).runs[0].run_id)


def test_train_of_a_config_with_several_runs_says_it_trained_one(tmp_path: Path) -> None:
    code, out, _ = invoke("train", str(write(tmp_path, MOMENTA)), "--out", str(tmp_path / "r"), "-q")
    assert code == 0 and out.rstrip().endswith("trained 1 of 3 runs; compare runs them all")
    code, out, _ = invoke("train", str(write(tmp_path, BOOK)), "--out", str(tmp_path / "r2"), "-q")
    assert code == 0 and "trained 1 of" not in out


def test_activations_dry_run_lists_the_cases_and_writes_nothing(tmp_path: Path) -> None:
    code, out, _ = invoke(
        "activations", str(write(tmp_path, ACTIVATIONS)), "--dry-run", "--out", str(tmp_path)
    )
    assert code == 0 and "he + relu" in out and "std=0.01 + sigmoid" in out
    assert "2 cases: 20×5 normal input through 2 layers of 4 units" in out
    assert not (tmp_path / "acts").exists()


def test_quiet_leaves_stderr_empty_and_otherwise_figures_are_announced(tmp_path: Path) -> None:
    config = write(tmp_path, ACTIVATIONS)
    code, _, err = invoke("activations", str(config), "--out", str(tmp_path / "r"), "-q")
    assert code == 0 and err == ""
    code, _, err = invoke("activations", str(config), "--out", str(tmp_path / "r"))
    assert code == 0 and err == "drawing figures…\n"


def test_report_defaults_to_results_and_takes_jobs_and_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("compare", str(write(tmp_path, BOOK)), "-q")[0] == 0
    code, out, err = invoke("report", "-j", "1", "-q")
    assert code == 0 and err == "" and "report: results/book/report.md" in out


def test_report_refuses_a_folder_a_running_command_holds(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert invoke("compare", str(write(tmp_path, BOOK)), "--out", str(out), "-q")[0] == 0
    folder = out / "book"
    before = (folder / "report.md").read_text()
    with FolderLock(folder):
        code, _, err = invoke("report", str(folder))
        assert (code, len(errors(err))) == (1, 1)
        assert err == (
            f"error: {folder}: another optbench process (pid {os.getpid()}) is writing here; "
            "run optbench report again once it has finished\n"
        )
        code, _, err = invoke("report", str(out))
        assert code == 1 and "is writing here" in err
    assert (folder / "report.md").read_text() == before
    assert invoke("report", str(folder), "-q")[0] == 0


def suite(tmp_path: Path, text: str = "compare: [c.yaml]\nactivations: [a.yaml]\n") -> Path:
    write(tmp_path, BOOK)
    write(tmp_path, ACTIVATIONS, "a.yaml")
    return write(tmp_path, text, "s.yaml")


def test_a_suite_trains_a_run_two_experiments_share_once_and_says_so_in_its_dry_run(tmp_path: Path) -> None:
    write(tmp_path, BOOK)
    rates = BOOK.replace("experiment: book", "experiment: rates") + "grid: {optimizer.lr: [0.95, 0.5]}\n"
    write(tmp_path, rates, "m.yaml")  # its first run is book's
    path = write(tmp_path, "compare: [c.yaml, m.yaml]\n", "s.yaml")
    code, out, _ = invoke("suite", str(path), "--dry-run")
    assert code == 0 and out.splitlines()[-1] == (
        "2 experiments; the compare experiments run 3 runs as one sweep, 2 trained (a run two of them "
        "share trains once)"
    )
    code, stdout, err = invoke("suite", str(path), "--out", str(tmp_path / "r"))
    assert code == 0, err
    counts = [line.split("]")[0] for line in err.splitlines() if line.startswith("[")]
    assert counts == ["[1/2", "[2/2"]
    assert f"{tmp_path / 'r' / 'rates'}: 2 of 2 runs finished" in stdout.splitlines()
    (shared,) = (tmp_path / "r" / "book" / "runs").iterdir()
    copy = tmp_path / "r" / "rates" / "runs" / shared.name
    assert (copy / "metrics.csv").read_bytes() == (shared / "metrics.csv").read_bytes()


def test_suite_overrides_go_to_every_config_that_has_the_key(tmp_path: Path) -> None:
    code, _, err = invoke(
        "suite", str(suite(tmp_path)), "train.steps=3", "samples=7", "-q", "--out", str(tmp_path / "r")
    )
    assert code == 0, err
    (run_folder,) = (tmp_path / "r" / "book" / "runs").iterdir()
    assert len((run_folder / "metrics.csv").read_text().splitlines()) == 1 + 4
    assert "samples: 7" in (tmp_path / "r" / "acts" / "config.yaml").read_text()


def test_suite_dry_run_lists_the_experiments_and_writes_nothing(tmp_path: Path) -> None:
    code, out, _ = invoke(
        "suite", str(suite(tmp_path)), "train.seed=4", "--dry-run", "--out", str(tmp_path / "r")
    )
    assert code == 0 and not (tmp_path / "r").exists()
    assert re.search(r"compare\s+book\s+\S*c\.yaml\s+1 run", out) and re.search(
        r"activations\s+acts.*2 cases", out
    )


def test_a_suite_override_no_listed_config_has_is_refused(tmp_path: Path) -> None:
    code, _, err = invoke("suite", str(suite(tmp_path)), "trian.steps=3", "--out", str(tmp_path / "r"))
    assert code == 2 and errors(err) == [
        "error: command line: trian.steps: unknown key 'trian'; did you mean 'train'? "
        "(in no config of this suite)"
    ]


def test_a_suite_override_a_listed_config_cannot_take_is_that_configs_error(tmp_path: Path) -> None:
    path = suite(tmp_path)
    code, _, err = invoke("suite", str(path), "optimizer.betas=[0.9,0.99]", "--out", str(tmp_path / "r"))
    assert code == 2 and errors(err) == [
        f"error: {tmp_path / 'c.yaml'}: command line: optimizer.betas: optimizer 'sgd' has no hyperparameter "
        "'betas' (it has: lr, momentum, dampening, nesterov, weight_decay)"
    ]
    assert not (tmp_path / "r").exists()


def test_data_info_and_fetch_take_a_dataset(tmp_path: Path) -> None:
    code, out, _ = invoke("data", "info", "mnist", "--data-dir", str(tmp_path))
    assert code == 1 and "missing" in out
    code, out, _ = invoke("data", "info", "--help")
    assert "Usage: optbench data info [OPTIONS] [DATASET]" in out
    code, _, err = invoke("data", "fetch", "fashion")
    assert code == 2 and err == "error: DATASET: 'fashion' is not 'mnist' (see optbench data fetch --help)\n"


def test_data_fetch_of_cached_data_says_so_once(mnist: object) -> None:
    code, out, err = invoke("data", "fetch")
    assert code == 0 and err == "" and len(out.splitlines()) == 1
    assert out.startswith("mnist: already cached and verified in ")


def idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_data_info_on_another_dataset_in_mnist_layout_says_it_is_not_mnist(tmp_path: Path) -> None:
    import gzip

    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (12, 4, 4)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 12),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 4, 4)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5),
    }
    for name, array in arrays.items():
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(idx(array)))
    code, out, err = invoke("data", "info", "--data-dir", str(tmp_path))
    assert code == 0 and err == "" and "MISMATCH" not in out and "fetch" not in out
    assert out.splitlines()[-1] == (
        "not MNIST (no file has MNIST's checksum), but a dataset in MNIST layout: 12 training and 5 test "
        f"images of 16 pixels; train on it with task.data_dir: {tmp_path}"
    )
    assert "train-images-idx3-ubyte.gz" in out


def test_list_takes_a_family_in_the_singular_or_one_name() -> None:
    code, out, _ = invoke("list", "optimizer")
    assert code == 0 and out == invoke("list", "optimizers")[1]
    code, out, _ = invoke("list", "adam")
    assert code == 0 and out.splitlines()[1].split()[0] == "adam" and "betas=[0.9, 0.999]" in out
    assert "sgd" not in out.split()
    code, out, _ = invoke("list", "rosenbrock")
    assert code == 0 and "rosenbrock" in out and "beale" not in out


def test_list_of_an_unknown_word_is_one_line_with_a_suggestion() -> None:
    code, _, err = invoke("list", "optimzers")
    assert code == 2 and errors(err) == [
        "error: nothing to list called 'optimzers'; did you mean 'optimizers'?"
    ]
    code, _, err = invoke("list", "adma")
    assert code == 2 and errors(err) == ["error: nothing to list called 'adma'; did you mean 'adam'?"]


def test_list_keys_shows_every_declared_field_with_type_default_and_meaning() -> None:
    code, out, _ = invoke("list", "keys")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    for section, cls in SECTIONS.items():
        for p in hyperparameters(cls):
            assert p.doc in rows[f"{section}.{p.name}"]
    for p in hyperparameters(TuneSpec):
        assert p.doc in rows[f"tune.{p.name}"]
    assert rows["train.sampling"].split()[1:3] == ["str", "epoch"]
    assert rows["task.start"].split()[1:6] == ["[float,", "float]", "|", "null", "null"]
    assert rows["optimizer.clip_norm"].split()[1:5] == ["float", "|", "null", "null"]
    assert rows["model.init"].split()[1:3] == ["initialiser", "he"]
    for name in {p.name for cls in OPTIMIZERS.values() for p in hyperparameters(cls)}:
        assert name in rows["optimizer.<hyperparameter>"]


def test_list_templates_lists_every_shipped_config_with_a_description() -> None:
    code, out, _ = invoke("list", "templates")
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert code == 0 and set(rows) == set(templates.names())
    assert "optbench train" in rows["mnist_sgd"] and "optbench suite" in rows["demo"]
    assert rows["init_compare"].endswith("Initialisation with ReLU")


# --------------------------------------------------------------------------------------------------
# Errors that say what to do
# --------------------------------------------------------------------------------------------------


def test_an_unknown_top_level_key_from_the_command_line_is_blamed_on_it(tmp_path: Path) -> None:
    code, _, err = invoke("compare", str(write(tmp_path, BOOK)), "optimzer.lr=0.1", "--dry-run")
    assert code == 2 and errors(err) == [
        "error: command line: optimzer.lr: unknown key 'optimzer'; did you mean 'optimizer'?"
    ]


@pytest.mark.parametrize(
    ("command", "text", "name", "runner"),
    [
        ("compare", ACTIVATIONS, "an activations config (it lists cases), not an experiment", "activations"),
        ("train", "compare: [c.yaml]\n", "a suite (it lists configs to run), not an experiment", "suite"),
        (
            "compare",
            BOOK + "tune: {budget: 2}\n",
            "a tuning study (it has a tune: section), not an experiment",
            "tune",
        ),
        (
            "tune",
            SEEDS,
            "an experiment config (task, model, optimizer, train), not a tuning study",
            "compare",
        ),
        (
            "activations",
            BOOK,
            "an experiment config (task, model, optimizer, train), not an activations config",
            "train",
        ),
        ("suite", BOOK, "an experiment config (task, model, optimizer, train), not a suite", "train"),
    ],
)
def test_a_config_of_another_kind_is_one_line_naming_its_command(
    tmp_path: Path, command: str, text: str, name: str, runner: str
) -> None:
    config = write(tmp_path, text, "x.yaml")
    code, _, err = invoke(command, str(config), "train.steps=5", "--out", str(tmp_path / "r"))
    assert code == 2 and not (tmp_path / "r").exists()
    assert errors(err) == [f"error: {config}: {name}; run it with: optbench {runner} {config} train.steps=5"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.lr=0.1,0.01", "'optimizer.lr=0.1,0.01': to sweep, use grid.optimizer.lr=[0.1,0.01]"),
        ("grid.train.seed=0,1,2", "'grid.train.seed=0,1,2': to sweep, use grid.train.seed=[0,1,2]"),
        ("lr=0.1", "lr: unknown key 'lr'; did you mean 'optimizer.lr'?"),
        ("steps=5", "steps: unknown key 'steps'; did you mean 'train.steps'?"),
        (
            "+optimizer.momentum=0.9",
            "'+optimizer.momentum=0.9': no '+' is needed to add a key: optimizer.momentum=0.9",
        ),
        (
            "~optimizer.lr",
            "'~optimizer.lr': a key cannot be deleted from the command line: remove optimizer.lr",
        ),
    ],
)
def test_hydra_habits_get_a_hint(tmp_path: Path, override: str, message: str) -> None:
    code, _, err = invoke("compare", str(write(tmp_path, BOOK)), override, "--dry-run")
    assert (
        code == 2 and len(errors(err)) == 1 and errors(err)[0].startswith(f"error: command line: {message}")
    )


def test_a_comma_in_a_description_is_no_sweep(tmp_path: Path) -> None:
    code, _, err = invoke("compare", str(write(tmp_path, BOOK)), "description=a, b", "--dry-run")
    assert code == 0, err


# --------------------------------------------------------------------------------------------------
# Seeing what will run
# --------------------------------------------------------------------------------------------------


def test_config_show_prints_the_first_run_with_every_default(tmp_path: Path) -> None:
    config = write(tmp_path, MOMENTA)
    code, out, _ = invoke("config", "show", str(config), "train.steps=7")
    assert code == 0
    exp = load_experiment(config, ["train.steps=7"])
    shown = yaml.safe_load(out)
    expected = to_dict(exp.runs[0])
    assert shown == {**expected, "description": exp.description, "report": {"target_accuracy": 0.97}}
    assert shown["optimizer"]["dampening"] == 0.0 and shown["train"]["steps"] == 7
    assert out.splitlines()[0] == f"# {config}: run 1 of 3, {exp.runs[0].run_id}"
    assert out.rstrip().endswith("# and 2 more runs: --all shows every one")


def test_config_show_all_prints_one_document_per_run(tmp_path: Path) -> None:
    config = write(tmp_path, MOMENTA)
    code, out, _ = invoke("config", "show", str(config), "--all")
    docs = list(yaml.safe_load_all(out))
    assert code == 0 and [d["optimizer"]["name"] for d in docs] == ["sgd", "sgd", "adam"]
    assert [d["optimizer"].get("momentum") for d in docs] == [0.5, 0.9, None]


def test_config_show_of_an_activations_config_and_of_a_tune(tmp_path: Path) -> None:
    code, out, _ = invoke("config", "show", str(write(tmp_path, ACTIVATIONS)), "bins=7")
    assert code == 0 and yaml.safe_load(out)["bins"] == 7 and yaml.safe_load(out)["readout_classes"] == 10
    tune = BOOK + "tune: {budget: 3, optimizers: [{name: adam, search: {lr: {log_uniform: [0.001, 1]}}}]}\n"
    code, out, _ = invoke("config", "show", str(write(tmp_path, tune, "t.yaml")))
    shown = yaml.safe_load(out)
    assert code == 0 and shown["optimizer"]["betas"] == [0.9, 0.999] and shown["tune"]["budget"] == 3


def test_config_show_of_a_bad_config_gives_its_errors(tmp_path: Path) -> None:
    code, out, err = invoke("config", "show", str(write(tmp_path, BOOK.replace("lr: 0.95", "lr: -1"))))
    assert (
        code == 2
        and out == ""
        and errors(err) == [f"error: {tmp_path / 'c.yaml'}: optimizer.lr: must be > 0, got -1.0"]
    )


def test_dry_run_shows_an_empty_cell_where_a_run_has_no_such_key(tmp_path: Path) -> None:
    code, out, _ = invoke("compare", str(write(tmp_path, MOMENTA)), "--dry-run")
    assert code == 0 and "null" not in out and "None" not in out
    header, *rows = out.splitlines()[:4]
    assert header.split() == ["run_id", "optimizer.name", "optimizer.momentum", "optimizer.lr"]
    assert rows[2].split()[1:] == ["adam", "0.3"]


# --------------------------------------------------------------------------------------------------
# Output while and after it runs
# --------------------------------------------------------------------------------------------------


def test_through_a_pipe_each_finished_run_is_one_line(tmp_path: Path) -> None:
    code, _, err = invoke("compare", str(write(tmp_path, SEEDS)), "--out", str(tmp_path / "r"), "-j", "1")
    lines = errors(err)
    assert code == 0 and len(lines) == 3 and lines[-1] == "drawing figures…"
    assert re.fullmatch(r"\[1/2\] sgd-lr0\.95-s[01]-\w+: completed, final_loss [\d.e-]+, \d+\.\d s", lines[0])
    assert lines[1].startswith("[2/2] sgd-lr0.95-s")


def test_compare_prints_one_row_per_variant_in_config_order_and_the_report(tmp_path: Path) -> None:
    config = write(tmp_path, MOMENTA + "grid: {train.seed: [0, 1]}\n")
    code, out, _ = invoke("compare", str(config), "--out", str(tmp_path / "r"), "-q")
    assert code == 0
    header, *rows = out.splitlines()[:4]
    assert header.split() == ["optimizer.name", "optimizer.momentum", "optimizer.lr", "seeds", "final_loss"]
    assert [r.split()[:3] for r in rows] == [
        ["sgd", "0.5", "0.95"],
        ["sgd", "0.9", "0.95"],
        ["adam", "0.3", "2"],
    ]
    assert all(" ± " in row for row in rows)  # two seeds of a function task give the same value: ± 0
    assert f"report:  {tmp_path / 'r' / 'book' / 'report.md'}" in out


# --------------------------------------------------------------------------------------------------
# Results you can find and take elsewhere
# --------------------------------------------------------------------------------------------------


def test_runs_lists_each_experiment_with_its_runs_by_status(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert invoke("compare", str(write(tmp_path, SEEDS)), "--out", str(out), "-q")[0] == 0
    assert invoke("activations", str(write(tmp_path, ACTIVATIONS, "a.yaml")), "--out", str(out), "-q")[0] == 0
    code, stdout, _ = invoke("runs", str(out))
    header, acts, book = stdout.splitlines()
    assert code == 0 and header.split()[:4] == ["experiment", "kind", "runs", "status"]
    assert book.split()[:5] == ["book", "experiment", "2", "2", "completed"]
    assert book.endswith("The book's bowl") and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", book)
    assert acts.split()[:4] == ["acts", "activations", "2", "cases"]


def test_export_writes_one_tidy_csv_of_every_metric_row(tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert invoke("compare", str(write(tmp_path, MOMENTA)), "--out", str(out), "-q")[0] == 0
    second = BOOK.replace("experiment: book", "experiment: other").replace("steps: 30", "steps: 4")
    assert invoke("compare", str(write(tmp_path, second, "o.yaml")), "--out", str(out), "-q")[0] == 0
    target = tmp_path / "all.csv"
    code, stdout, _ = invoke("export", "book", str(out / "other"), "--out", str(out), "-o", str(target))
    assert code == 0 and stdout == f"{target}: 98 rows of 4 runs from 2 experiments\n"
    with target.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 31 + 5 and {r["experiment"] for r in rows} == {"book", "other"}
    header = next(csv.reader(target.open()))
    assert header[:3] == ["experiment", "run_id", "status"] and len(set(header)) == len(header)
    adam = [r for r in rows if r["optimizer.name"] == "adam"]
    assert adam[0]["optimizer.momentum"] == "" and adam[0]["optimizer.betas"] == "[0.9, 0.999]"
    run_folder = out / "book" / "runs" / adam[0]["run_id"]
    logged = list(csv.DictReader((run_folder / "metrics.csv").open()))
    assert [r["loss"] for r in adam] == [r["loss"] for r in logged]  # every digit, as logged
    assert {r["status"] for r in rows} == {"completed"} and {r["train.steps"] for r in rows} == {"30", "4"}


def test_export_replaces_its_file_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r"
    assert invoke("compare", str(write(tmp_path, MOMENTA)), "--out", str(out), "-q")[0] == 0
    target = tmp_path / "all.csv"
    target.write_text("old\n")
    calls = {"n": 0}
    real = export_module._metric_rows

    def fail_on_the_third_run(folder: Path):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3 + 3:  # after the three headers, the rows of the third run
            raise OSError(5, "Input/output error", str(folder / "metrics.csv"))
        return real(folder)

    monkeypatch.setattr(export_module, "_metric_rows", fail_on_the_third_run)
    code, _, err = invoke("export", "book", "--out", str(out), "-o", str(target))
    assert code == 1 and err.endswith("metrics.csv: Input/output error\n")
    assert (
        target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    )


def test_export_of_an_unknown_experiment_is_one_line(tmp_path: Path) -> None:
    code, _, err = invoke("export", "nope", "--out", str(tmp_path), "-o", str(tmp_path / "x.csv"))
    assert code == 2 and errors(err) == [
        f"error: nope: no such folder, nor an experiment of that name in {tmp_path} "
        f"(optbench runs {tmp_path} lists them)"
    ]
    assert not (tmp_path / "x.csv").exists()


# --------------------------------------------------------------------------------------------------
# Templates, and completion
# --------------------------------------------------------------------------------------------------


def test_init_writes_a_template_that_runs_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("init")
    assert code == 0 and out == "wrote paths_book.yaml\nrun it with: optbench compare paths_book.yaml\n"
    assert Path("paths_book.yaml").read_text() == templates.text("paths_book")
    Path("paths_book.yaml").write_text("mine\n")
    code, _, err = invoke("init", "paths_book")
    assert code == 2 and errors(err) == [
        "error: paths_book.yaml: already exists; choose another path, or remove it first"
    ]
    assert Path("paths_book.yaml").read_text() == "mine\n"
    code, out, _ = invoke("init", "mnist_sgd", "mine.yaml")
    assert code == 0 and "run it with: optbench train mine.yaml" in out


def test_init_of_a_suite_writes_the_configs_it_lists(tmp_path: Path) -> None:
    code, out, _ = invoke("init", "demo", str(tmp_path / "demo"))
    written = {line.removeprefix("wrote ") for line in out.splitlines() if line.startswith("wrote")}
    assert code == 0 and written == {
        str(tmp_path / "demo" / f"{n}.yaml") for n in ["demo", *templates.listed_configs("demo")]
    }
    code, out, _ = invoke("suite", str(tmp_path / "demo" / "demo.yaml"), "--dry-run")
    assert code == 0 and "16 experiments" in out


def test_init_of_an_unknown_template_suggests_one() -> None:
    code, _, err = invoke("init", "paths_bok")
    assert code == 2 and errors(err) == [
        "error: unknown template 'paths_bok'; did you mean 'paths_book'? (optbench list templates)"
    ]


def complete(words: str) -> list[str]:
    env = {
        "_OPTBENCH_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
    }
    result = CliRunner(env=env).invoke(main, [], prog_name="optbench")
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_completion_offers_commands_options_templates_and_config_keys() -> None:
    assert complete("optbench ex") == ["export"]
    assert "--dry-run" in complete("optbench compare c.yaml --d")
    assert complete("optbench init paths_r") == ["paths_rosenbrock"]
    assert complete("optbench compare c.yaml optimizer.l") == ["optimizer.lr=", "optimizer.lr_decay="]
    assert complete("optbench train c.yaml train.sa") == ["train.sampling="]
    assert complete("optbench activations a.yaml sam") == ["samples="]
    assert "tune.budget=" in complete("optbench tune t.yaml tune.b")
    assert complete("optbench list optimizer") == ["optimizers", "optimizer"]


def test_the_light_commands_start_without_matplotlib() -> None:
    config = Path(__file__).resolve().parent.parent / "configs" / "mnist_sgd.yaml"
    commands = [["list", "keys"], ["list", "templates"], ["runs", "/"], ["config", "show", str(config)]]
    code = (
        "import sys; from optbench.cli import main\n"
        f"for args in {commands!r}:\n"
        "    try: main(args)\n"
        "    except SystemExit: pass\n"
        "print('matplotlib' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"


# --------------------------------------------------------------------------------------------------
# A copy installed from a wheel, outside the repository
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_wheel_ships_the_templates_and_an_installed_copy_starts_from_init(tmp_path: Path) -> None:
    import shutil
    import sysconfig
    import zipfile

    repo = Path(__file__).resolve().parent.parent
    source = tmp_path / "source"  # built from a copy: the build leaves nothing in the repository
    top = {
        ".venv",
        ".git",
        "build",
        "dist",
        "results",
        ".hypothesis",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }

    def junk(folder: str, names: list[str]) -> set[str]:
        here = set(names) & top if Path(folder) == repo else set()
        return here | {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}

    shutil.copytree(repo, source, symlinks=True, ignore=junk)
    # pypa's `build`, as a packager would run it; without isolation, the build-system requirements come
    # from the dev extra, and `build` refuses to start when this environment does not satisfy them.
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "-o",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    (wheel,) = (tmp_path / "dist").glob("optbench-*.whl")
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("optbench/templates/")}
    plugin_files = {
        f"optbench/templates/{file}" for name in templates.names() for file in templates.plugin_files(name)
    }
    assert plugin_files == {"optbench/templates/adabelief.py"}
    assert shipped == {f"optbench/templates/{name}.yaml" for name in templates.names()} | plugin_files

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], check=True
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies (numpy, click, ...) from this environment, after the copy's own site-packages.
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def optbench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "optbench"), *args], cwd=work, env=env, capture_output=True, text=True
        )

    where = subprocess.run(
        [str(python), "-c", "import optbench; print(optbench.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(site)
    result = optbench("list", "templates")
    assert result.returncode == 0 and "paths_book" in result.stdout and "tune_mnist" in result.stdout
    result = optbench("init")
    assert result.returncode == 0 and (work / "paths_book.yaml").is_file(), result.stderr
    result = optbench("compare", "paths_book.yaml", "-q", "--out", "r")
    assert result.returncode == 0, result.stderr
    assert (work / "r" / "paths-book" / "report.md").is_file() and (
        work / "r" / "paths-book" / "paths.png"
    ).is_file()
