"""The command line as a user meets it: exit statuses, one-line errors, files written and not written."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from optbench.cli import main
from optbench.data import DATASETS
from optbench.functions import FUNCTIONS
from optbench.init import INITIALIZERS
from optbench.nn import ACTIVATIONS
from optbench.optim import OPTIMIZERS, SCHEDULES

BOOK = """experiment: book
task: {function: book, start: [-7.0, 2.0]}
optimizer: {name: sgd, lr: 0.95}
train: {steps: 30}
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_help_and_version() -> None:
    code, out, _ = invoke("--help")
    assert code == 0 and "compare" in out and "activations" in out
    code, out, _ = invoke("--version")
    assert code == 0 and "optbench" in out


@pytest.mark.parametrize(
    ("family", "registry"),
    [
        ("optimizers", OPTIMIZERS),
        ("schedules", SCHEDULES),
        ("inits", INITIALIZERS),
        ("activations", ACTIVATIONS),
        ("functions", FUNCTIONS),
        ("datasets", DATASETS),
    ],
)
def test_list_shows_every_registered_name(family: str, registry: dict[str, object]) -> None:
    code, out, _ = invoke("list", family)
    assert code == 0
    listed = {
        line.split()[0]
        for line in out.splitlines()[1:]
        if line.startswith("  ") and not line.startswith("    ")
    }
    assert listed == set(registry)


def test_list_optimizers_shows_hyperparameters_with_defaults() -> None:
    _, out, _ = invoke("list", "optimizers")
    assert "betas=[0.9, 0.999]" in out and "lr_decay=0" in out and "momentum=0.9" in out


def test_sgd_function_run_follows_the_update_rule_to_the_last_bit(tmp_path: Path) -> None:
    code, out, err = invoke("train", str(write(tmp_path, BOOK)), "--out", str(tmp_path / "r"), "-q")
    assert code == 0, err
    (run_folder,) = (tmp_path / "r" / "book" / "runs").iterdir()
    assert str(run_folder) in out
    with (run_folder / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 31 and rows[0]["step"] == "0"
    x, y = -7.0, 2.0
    assert (float(rows[0]["x"]), float(rows[0]["y"])) == (x, y)
    for row in rows[1:]:
        x, y = x - 0.95 * (x / 10.0), y - 0.95 * (2.0 * y)
        assert (float(row["x"]), float(row["y"])) == (x, y)
        assert float(row["loss"]) == x**2 / 20.0 + y**2
        assert float(row["lr"]) == 0.95
    assert {"path.png", "loss.png"} <= {p.name for p in run_folder.iterdir()}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "- a\n",
        "task: {function: book\n",
        "task:\n  function: book\n  function: beale\n",
        BOOK + "trian: {}\n",
        BOOK.replace("lr: 0.95", "lr: true"),
        BOOK.replace("lr: 0.95", "lr: .nan"),
        BOOK.replace("lr: 0.95", "lr: -1"),
        BOOK.replace("steps: 30", "steps: 0"),
        BOOK.replace("[-7.0, 2.0]", "[1]"),
        BOOK.replace("name: sgd", "name: sgdd"),
        BOOK.replace("function: book", "function: bok"),
        BOOK.replace("lr: 0.95", "lr: 0.95, betas: [0.9, 0.99]"),
        "experiment: '../escape'\n" + BOOK.split("\n", 1)[1],
        "experiment: /abs\n" + BOOK.split("\n", 1)[1],
        BOOK + "grid: {optimizer.lr: []}\n",
        BOOK + "grid: {optimizer.lrr: [1]}\n",
        "task: {dataset: mnist}\nmodel: {hidden: []}\n",
        "task: {dataset: mnist}\nmodel: {hidden: [100, 0]}\n",
        "task: {dataset: mnist}\ntrain: {batch_size: 100000}\n",
        "task: {dataset: mnist}\nmodel: {activation: relu6, init: xaiver}\n",
        "task: {dataset: fashion}\n",
    ],
)
@pytest.mark.parametrize("command", ["train", "compare"])
def test_config_errors_exit_2_with_one_line_each_and_write_nothing(
    tmp_path: Path, text: str, command: str, request: pytest.FixtureRequest
) -> None:
    if "batch_size" in text:
        request.getfixturevalue("mnist")  # the training-set size is read from the data
    config = write(tmp_path, text)
    out = tmp_path / "results"
    code, _, err = invoke(command, str(config), "--out", str(out))
    assert code == 2
    lines = err.strip().splitlines()
    assert lines and all(line.startswith(f"error: {config}: ") for line in lines), err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optimizer.lr", "expected KEY=VALUE"),
        ("=0.1", "missing key before '='"),
        ("optimizer.lr=abc", "optimizer.lr: must be a number, got 'abc'"),
        ("optimizer.lrr=0.1", "did you mean 'lr'?"),
        ("train.steps=[1", "train.steps: line 1"),
    ],
)
def test_malformed_overrides_exit_2_and_write_nothing(tmp_path: Path, override: str, expected: str) -> None:
    out = tmp_path / "results"
    code, _, err = invoke("compare", str(write(tmp_path, BOOK)), override, "--out", str(out))
    assert code == 2 and expected in err and err.startswith("error: command line: ")
    assert not out.exists()


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke("train", str(tmp_path / "nope.yaml"))
    assert code == 2 and "no such file" in err


def test_out_pointing_at_a_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = invoke("compare", str(write(tmp_path, BOOK)), "--out", str(tmp_path / "file"))
    assert code == 2 and "is a file" in err and "Traceback" not in err


def test_dry_run_prints_the_runs_and_writes_nothing(tmp_path: Path) -> None:
    config = write(tmp_path, BOOK + "grid:\n  optimizer.lr: [0.1, 0.2]\n  train.seed: [0, 1]\n")
    code, out, _ = invoke("compare", str(config), "--dry-run", "--out", str(tmp_path / "r"))
    assert code == 0
    assert "optimizer.lr" in out and "train.seed" in out and "4 runs" in out
    assert not (tmp_path / "r").exists()


def test_compare_reports_and_a_rerun_skips_finished_runs(tmp_path: Path) -> None:
    config = write(tmp_path, BOOK + "grid:\n  optimizer.lr: [0.1, 0.2]\n  train.seed: [0, 1]\n")
    args = ("compare", str(config), "--out", str(tmp_path / "r"), "-q", "--jobs", "1")
    code, out, _ = invoke(*args)
    assert code == 0 and "results:" in out
    folder = tmp_path / "r" / "book"
    assert {"summary.csv", "report.md", "paths.png", "loss.png"} <= {p.name for p in folder.iterdir()}
    code, out, _ = invoke(*args)
    assert code == 0 and "4 run(s) already finished, skipped" in out


def test_a_failed_run_makes_compare_exit_1(tmp_path: Path, mnist: object) -> None:
    config = write(
        tmp_path,
        BOOK + "runs:\n  - {}\n  - {task: {dataset: mnist, function: null, start: null}, "
        "model: {hidden: [10000000, 10000000]}}\n",
    )
    code, out, err = invoke("compare", str(config), "--out", str(tmp_path / "r"), "-q")
    assert code == 1 and "failed" in out and "completed" in out and "Traceback" not in err + out
    assert err.startswith("error: run sgd-") and "MemoryError" in err


@pytest.mark.parametrize("command", ["train", "compare"])
def test_missing_data_exits_1_with_the_command_that_fetches_it(tmp_path: Path, command: str) -> None:
    config = write(tmp_path, "task: {dataset: mnist}\ntrain: {steps: 5}\n")
    env_dir = tmp_path / "empty-cache"
    result = CliRunner(env={"OPTBENCH_DATA": str(env_dir)}).invoke(
        main, [command, str(config), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: MNIST is not in {env_dir} (the folder does not exist); fetch it with: optbench data fetch"
    ]
    assert not (tmp_path / "r").exists()


def test_a_read_only_results_folder_gives_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated, as the tests may run as root, which ignores permissions."""

    def read_only(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    code, _, err = invoke("compare", str(write(tmp_path, BOOK)), "--out", str(tmp_path / "ro"), "-q")
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"error: {tmp_path / 'ro' / 'book'}: cannot create the results folder: no permission to create a "
        f"folder in {tmp_path} (Permission denied); choose another --out"
    ]


@pytest.mark.parametrize("where", ["/proc", "a file", "a broken link"])
def test_an_out_folder_that_cannot_be_created_says_why_in_one_line_exit_2(tmp_path: Path, where: str) -> None:
    if where == "/proc" and not Path("/proc/self").is_dir():
        pytest.skip("no /proc on this system")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    out, why = {
        "/proc": (Path("/proc/x"), "/proc accepts no new folders (No such file or directory)"),
        "a file": (tmp_path / "notes.txt" / "x", f"{tmp_path / 'notes.txt'} is a file, not a folder"),
        "a broken link": (
            tmp_path / "link" / "x",
            f"{tmp_path / 'link'} is a link to {tmp_path / 'gone'}, which does not exist",
        ),
    }[where]
    code, _, err = invoke("compare", str(write(tmp_path, BOOK)), "--out", str(out), "-q")
    assert code == 2
    assert err == f"error: {out / 'book'}: cannot create the results folder: {why}; choose another --out\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "link", "notes.txt"]


def test_python_dash_m_works_like_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "optbench", "list", "functions"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "rosenbrock" in result.stdout


def test_unexpected_errors_are_one_line_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optbench.runner

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something broke")

    monkeypatch.setattr(optbench.runner, "run_experiments", boom)
    code, _, err = invoke("compare", str(write(tmp_path, BOOK)), "--out", str(tmp_path / "r"))
    assert code == 1 and err.startswith("error: internal error: RuntimeError: something broke")
    assert "Traceback" not in err


def test_a_full_disk_fails_the_run_with_its_reason_and_leaves_whole_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC part-way through metrics.csv: the run fails, the file keeps only complete rows."""
    real_write = os.write
    calls = {"n": 0}

    def full_disk_write(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("metrics.csv"):
            calls["n"] += 1
            if calls["n"] == 10:
                real_write(fd, data[:7])  # part of the row reaches the disk before it fills
                raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk_write)
    code, out, err = invoke(
        "compare", str(write(tmp_path, BOOK)), "--out", str(tmp_path / "r"), "-q", "-j", "1"
    )
    assert code == 1 and "Traceback" not in out + err
    assert err.startswith("error: run sgd-lr0.95-s0-") and err.rstrip().endswith("No space left on device")
    (run_folder,) = (tmp_path / "r" / "book" / "runs").iterdir()
    rows = (run_folder / "metrics.csv").read_text().splitlines()
    assert len(rows) == 9 and all(len(r.split(",")) == 5 for r in rows)
    assert '"status": "failed"' in (run_folder / "status.json").read_text()


def test_report_on_a_results_root_redraws_every_experiment_and_the_index(tmp_path: Path) -> None:
    out = tmp_path / "r"
    for name in ("one", "two"):
        config = write(tmp_path, BOOK.replace("experiment: book", f"experiment: {name}"), f"{name}.yaml")
        assert invoke("compare", str(config), "--out", str(out), "-q")[0] == 0
    for png in out.rglob("*.png"):
        png.unlink()
    code, stdout, _ = invoke("report", str(out))
    assert code == 0 and f"index: {out / 'index.md'}" in stdout
    assert (out / "one" / "paths.png").is_file() and (out / "two" / "loss.png").is_file()
    assert "[one](one/report.md)" in (out / "index.md").read_text()


def test_a_function_sweep_of_many_variants_skips_the_unreadable_panel_figure(tmp_path: Path) -> None:
    lrs = ", ".join(str(0.01 * (i + 1)) for i in range(25))
    config = write(tmp_path, BOOK.replace("steps: 30", "steps: 3") + f"grid:\n  optimizer.lr: [{lrs}]\n")
    assert invoke("compare", str(config), "--out", str(tmp_path / "r"), "-q")[0] == 0
    names = {p.name for p in (tmp_path / "r" / "book").glob("*.png")}
    assert names == {"paths.png", "loss.png"}
