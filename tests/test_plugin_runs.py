"""Plugins through configs, runs and executors: a plugin named in a config trains as a built-in does
(overrides, grids, tuning, any executor, the same bytes), its code is recorded and kept with the runs,
a changed file makes new runs, and every way of naming a plugin wrongly is one line, exit 2."""

from __future__ import annotations

import hashlib
import json
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from conftest import need
from test_cluster import Cluster, start_cluster

from optbench import plugins
from optbench.cli import main
from optbench.config import load_experiment
from optbench.executors import Scheduler
from optbench.executors.local import forks
from optbench.layout import PLUGINS_DIR, RUNS_DIR, TRACEBACK_FILE, read_status
from optbench.runner import run_experiment

SCALED = '''
from dataclasses import dataclass

from optbench import POSITIVE, Optimizer, hyper


@dataclass
class Scaled(Optimizer):
    """θ ← θ − η·s·g: gradient descent with its step scaled by s."""

    name = "scaled"
    summary = "gradient descent, its step scaled"

    lr: float = hyper(0.1, "learning rate", POSITIVE)
    scale: float = hyper(1.0, "factor of the step", POSITIVE)

    def update(self, params, grads, lr):
        params -= lr * self.scale * grads
        return lr
'''

FAILING = '''
from dataclasses import dataclass

from optbench import Optimizer, hyper


@dataclass
class Failing(Optimizer):
    """Gradient descent that raises at its third update, or writes NaN there."""

    name = "failing"
    summary = "fails on purpose"

    lr: float = hyper(0.1, "learning rate")
    nan: bool = hyper(False, "NaN at the third update instead of raising")

    def update(self, params, grads, lr):
        if self.t == 3:
            if self.nan:
                params[:] = float("nan")
                return lr
            raise RuntimeError("the plugin gives up at update 3")
        params -= lr * grads
        return lr
'''

PATHS = """experiment: paths
task: {function: book}
optimizer: {name: scaled.py:Scaled, lr: 0.5}
train: {steps: 25}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def rows(run_folder: Path) -> np.ndarray:
    """The (x, y) path of a function run."""
    lines = (run_folder / "metrics.csv").read_text().splitlines()[1:]
    return np.array([[float(v) for v in line.split(",")[1:3]] for line in lines])


def book_path(step: float, n: int) -> np.ndarray:
    """Gradient descent on x²/20 + y² from (−7, 2) in closed form: x_k = −7(1 − η/10)^k, y_k = 2(1 − 2η)^k."""
    k = np.arange(n + 1)
    return np.stack([-7.0 * (1 - step / 10) ** k, 2.0 * (1 - 2 * step) ** k], axis=1)


def only_run(out: Path, experiment: str) -> Path:
    (folder,) = (out / experiment / RUNS_DIR).iterdir()
    return folder


# --------------------------------------------------------------------------------------------------
# A native plugin trains as a built-in does
# --------------------------------------------------------------------------------------------------


def test_a_file_plugin_follows_gradient_descent_in_closed_form_with_its_hyperparameter_overridden(
    tmp_path: Path,
) -> None:
    write(tmp_path, "scaled.py", SCALED)
    config = write(tmp_path, "paths.yaml", PATHS)
    code, _, err = cli("train", str(config), "optimizer.scale=0.5", "--out", str(tmp_path / "out"), "-q")
    assert code == 0, err
    run = only_run(tmp_path / "out", "paths")
    assert run.name.startswith("Scaled-lr0.5-s0-")
    np.testing.assert_allclose(rows(run), book_path(0.25, 25), rtol=1e-12, atol=1e-300)
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["optimizer"]["name"] == "scaled.py:Scaled" and resolved["optimizer"]["scale"] == 0.5
    (entry,) = resolved["plugins"]
    source = (tmp_path / "scaled.py").read_text()
    assert entry["source"] == source and entry["sha256"] == hashlib.sha256(source.encode()).hexdigest()


def test_a_grid_over_a_plugins_hyperparameter_and_beside_a_built_in_gives_one_run_each(
    tmp_path: Path,
) -> None:
    write(tmp_path, "scaled.py", SCALED)
    config = write(
        tmp_path,
        "grid.yaml",
        PATHS
        + "runs:\n  - optimizer: {name: sgd}\n  - optimizer: {scale: 0.5}\n  - optimizer: {scale: 1.5}\n"
        + "grid:\n  optimizer.lr: [0.1, 0.3]\n",
    )
    exp = load_experiment(config)
    assert len(exp.runs) == 6 and len({r.run_id for r in exp.runs}) == 6
    run_experiment(exp, tmp_path / "out", progress=False)
    for run in exp.runs:
        step = run.optimizer.lr * float(run.optimizer.hyper.get("scale", 1.0))
        np.testing.assert_allclose(
            rows(tmp_path / "out" / "paths" / RUNS_DIR / run.run_id), book_path(step, 25), rtol=1e-12
        )
    sgd = next(r for r in exp.runs if r.optimizer.name == "sgd" and r.optimizer.lr == 0.1)
    scaled = next(r for r in exp.runs if r.optimizer.name != "sgd" and r.optimizer.lr == 0.1)
    assert (
        not sgd.plugins
        and "plugins" not in (tmp_path / "out/paths/runs" / sgd.run_id / "config.yaml").read_text()
    )
    assert (tmp_path / "out/paths/runs" / scaled.run_id / "metrics.csv").exists()


def test_runs_without_plugins_keep_their_ids(tmp_path: Path) -> None:
    """The configs of the lecture get the ids they had before plugins existed."""
    exp = load_experiment(Path(__file__).parent.parent / "configs" / "mnist_sgd.yaml")
    assert exp.runs[0].run_id == "sgd-lr0.1-he-relu-s0-36ca07d2"


def test_a_tune_searches_a_plugins_hyperparameter(tmp_path: Path) -> None:
    write(tmp_path, "scaled.py", SCALED)
    config = write(
        tmp_path,
        "tune.yaml",
        """experiment: tune-scaled
task: {function: book}
train: {steps: 20}
tune:
  budget: 4
  sampler: random
  seed: 0
  metric: loss
  mode: final
  optimizers:
    - name: scaled.py:Scaled
      lr: 0.5
      search: {scale: {uniform: [0.1, 1.5]}}
""",
    )
    code, _, err = cli("tune", str(config), "--out", str(tmp_path / "out"), "-q")
    assert code == 0, err
    runs = list((tmp_path / "out" / "tune-scaled" / RUNS_DIR).iterdir())
    assert len(runs) == 4
    for run in runs:
        resolved = yaml.safe_load((run / "config.yaml").read_text())
        scale = resolved["optimizer"]["scale"]
        np.testing.assert_allclose(rows(run), book_path(0.5 * scale, 20), rtol=1e-12, atol=1e-300)
    assert len({yaml.safe_load((r / "config.yaml").read_text())["optimizer"]["scale"] for r in runs}) == 4


def test_a_plugin_gives_the_same_bytes_with_one_job_two_forked_and_two_spawned_workers(
    tmp_path: Path,
) -> None:
    write(tmp_path, "scaled.py", SCALED)
    config = write(tmp_path, "paths.yaml", PATHS + "grid:\n  optimizer.scale: [0.5, 1.0, 1.5]\n")
    exp = load_experiment(config)
    run_experiment(exp, tmp_path / "one", jobs=1, progress=False)
    run_experiment(exp, tmp_path / "two", jobs=2, progress=False)
    release = threading.Event()
    waiting = threading.Thread(target=release.wait)
    waiting.start()  # with another thread running, the pool spawns its workers instead of forking
    try:
        assert not forks()
        run_experiment(exp, tmp_path / "spawned", jobs=2, progress=False)
    finally:
        release.set()
        waiting.join()
    for run in exp.runs:
        for name in ("metrics.csv", "config.yaml"):
            one = (tmp_path / "one/paths/runs" / run.run_id / name).read_bytes()
            assert one == (tmp_path / "two/paths/runs" / run.run_id / name).read_bytes()
            assert one == (tmp_path / "spawned/paths/runs" / run.run_id / name).read_bytes()


def test_a_workers_plugin_comes_from_the_recorded_text_not_the_file(tmp_path: Path) -> None:
    """The file is gone by the time the workers run: they install the text the config carries."""
    write(tmp_path, "scaled.py", SCALED)
    exp = load_experiment(write(tmp_path, "paths.yaml", PATHS + "grid:\n  optimizer.scale: [0.5, 1.0]\n"))
    (tmp_path / "scaled.py").unlink()
    results = run_experiment(exp, tmp_path / "out", jobs=2, progress=False)
    assert {s["status"] for s in results.statuses.values()} == {"completed"}


# --------------------------------------------------------------------------------------------------
# The code a run used: its id, its copy, its record
# --------------------------------------------------------------------------------------------------


def test_a_changed_plugin_file_makes_new_runs_the_old_code_runs_are_never_reused(tmp_path: Path) -> None:
    plugin = write(tmp_path, "scaled.py", SCALED)
    config = write(tmp_path, "paths.yaml", PATHS)
    out = tmp_path / "out"
    assert cli("compare", str(config), "--out", str(out), "-q")[0] == 0
    (first,) = (out / "paths" / RUNS_DIR).iterdir()
    assert cli("compare", str(config), "--out", str(out), "-q")[0] == 0  # unchanged: nothing new
    assert [p.name for p in (out / "paths" / RUNS_DIR).iterdir()] == [first.name]
    changed = SCALED.replace("params -= lr * self.scale * grads", "params -= 0.5 * lr * self.scale * grads")
    plugin.write_text(changed)
    old, new = (hashlib.sha256(t.encode()).hexdigest()[:12] for t in (SCALED, changed))
    code, _, err = cli("compare", str(config), "--out", str(out), "-q")
    assert code == 2  # the folder holds the old code's runs: not mixed, not reused
    (line,) = err.strip().splitlines()
    assert f"scaled.py:Scaled: sha256 {old} then, sha256 {new} now" in line and "experiment=NAME" in line
    assert [p.name for p in (out / "paths" / RUNS_DIR).iterdir()] == [first.name]
    code, _, err = cli("compare", str(config), "experiment=paths-v2", "--out", str(out), "-q")
    assert code == 0, err
    second = only_run(out, "paths-v2")
    assert second.name != first.name and read_status(second)["status"] == "completed"  # type: ignore[index]
    np.testing.assert_allclose(rows(first), book_path(0.5, 25), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(rows(second), book_path(0.25, 25), rtol=1e-12, atol=1e-300)
    for experiment, text, sha in (("paths", SCALED, old), ("paths-v2", changed, new)):
        (kept,) = (out / experiment / PLUGINS_DIR).iterdir()
        assert kept.name == f"scaled-{sha}.py" and kept.read_text() == text
        (run,) = (out / experiment / RUNS_DIR).iterdir()
        (entry,) = json.loads((run / "status.json").read_text())["plugins"]
        assert entry["copy"] == f"{PLUGINS_DIR}/{kept.name}"
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == entry["sha256"]
        report = (out / experiment / "report.md").read_text()
        assert "## Plugin code" in report and f"sha256 {sha}" in report and run.name in report


def test_a_runs_config_yaml_reruns_the_recorded_code_without_the_file(tmp_path: Path) -> None:
    plugin = write(tmp_path, "scaled.py", SCALED)
    config = write(tmp_path, "paths.yaml", PATHS)
    assert cli("compare", str(config), "optimizer.scale=0.5", "--out", str(tmp_path / "a"), "-q")[0] == 0
    run = only_run(tmp_path / "a", "paths")
    plugin.write_text("raise SystemExit('not this code')\n")
    code, _, err = cli("train", str(run / "config.yaml"), "--out", str(tmp_path / "b"), "-q")
    assert code == 0, err
    again = only_run(tmp_path / "b", "paths")
    assert again.name == run.name
    assert (again / "metrics.csv").read_bytes() == (run / "metrics.csv").read_bytes()


def test_dry_run_names_the_plugin_files_it_loads_and_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path, "scaled.py", SCALED)
    code, out, err = cli(
        "compare", str(write(tmp_path, "paths.yaml", PATHS)), "--out", str(tmp_path / "o"), "--dry-run"
    )
    assert code == 0, err
    sha = hashlib.sha256(SCALED.encode()).hexdigest()[:12]
    assert f"plugin optimizer scaled.py:Scaled: the file's Python code (sha256 {sha})" in out
    assert "runs here and in every worker" in out
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------------

FAULTS = [
    ("optimizer.name=absent.py:Scaled", "optimizer.name", "absent.py:Scaled: no such file"),
    ("optimizer.name=scaled.py:Nothing", "optimizer.name", "scaled.py defines no Nothing"),
    (
        "optimizer.name=json:dumps",
        "optimizer.name",
        "is the function dumps, not a subclass of optbench.Optimizer",
    ),
    ("model.init=scaled.py:Scaled", "model.init", "not a subclass of optbench.Initializer"),
    ("optimizer.name=imports.py:Scaled", "optimizer.name", "no module named 'optbench_absent_dependency'"),
    (
        "optimizer.name=optbench_absent_module.sub:X",
        "optimizer.name",
        "no module named 'optbench_absent_module'",
    ),
    ("optimizer.gamma=0.5", "optimizer.gamma", "optimizer 'scaled.py:Scaled' has no hyperparameter 'gamma'"),
    ("optimizer.scale=-1", "optimizer.scale", "scale"),
    ("task.function=scaled.py:Scaled", "task.function", "is the class Scaled, not an optbench.Objective"),
    ("optimizer.name=kinds.py:Plain", "optimizer.name", "Plain must be a @dataclass"),
    (
        "optimizer.name=./scaled.py",
        "optimizer.name",
        "name the class or object in the file, as ./scaled.py:Name",
    ),
    ("optimizer.name=kinds.py:Unfinished", "optimizer.name", "Unfinished does not implement update("),
]

KINDS = """
from dataclasses import dataclass

from optbench import Optimizer


class Plain(Optimizer):
    name = "plain"
    summary = "no dataclass: its fields would be the base class's"

    def update(self, params, grads, lr):
        params -= lr * grads
        return lr


@dataclass
class Unfinished(Optimizer):
    name = "unfinished"
    summary = "no update"
"""


@pytest.mark.parametrize(("override", "key", "message"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_wrongly_named_plugin_is_one_line_naming_where_exit_2_and_nothing_written(
    tmp_path: Path, override: str, key: str, message: str
) -> None:
    write(tmp_path, "scaled.py", SCALED)
    write(tmp_path, "imports.py", "import optbench_absent_dependency\n")
    write(tmp_path, "kinds.py", KINDS)
    config = write(tmp_path, "paths.yaml", PATHS)
    code, _, err = cli("compare", str(config), override, "--out", str(tmp_path / "out"))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert key in line and message in line
    assert not (tmp_path / "out").exists()


def test_a_fault_in_the_config_file_names_the_file_and_key(tmp_path: Path) -> None:
    config = write(tmp_path, "paths.yaml", PATHS.replace("scaled.py:Scaled", "nowhere/scaled.py:Scaled"))
    code, _, err = cli("compare", str(config), "--out", str(tmp_path / "out"))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {config}: optimizer.name: nowhere/scaled.py:Scaled: no such file")
    assert not (tmp_path / "out").exists()


def test_a_torch_class_without_torch_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("torch", "torch.optim"):
        monkeypatch.setitem(__import__("sys").modules, name, None)  # as if torch were not installed
    config = write(tmp_path, "paths.yaml", PATHS.replace("scaled.py:Scaled", "torch.optim:Adamax"))
    code, _, err = cli("compare", str(config), "--out", str(tmp_path / "out"))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "optimizer.name: torch.optim:Adamax" in line and "pip install 'optbench[torch]'" in line
    assert not (tmp_path / "out").exists()


def test_a_plugin_that_raises_fails_its_run_with_a_traceback_and_nan_diverges_while_others_finish(
    tmp_path: Path,
) -> None:
    write(tmp_path, "failing.py", FAILING)
    config = write(
        tmp_path,
        "f.yaml",
        """experiment: f
task: {function: book}
train: {steps: 10}
runs:
  - optimizer: {name: sgd, lr: 0.5}
  - optimizer: {name: failing.py:Failing}
  - optimizer: {name: failing.py:Failing, nan: true}
""",
    )
    exp = load_experiment(config)
    result = run_experiment(exp, tmp_path / "out", jobs=2, progress=False)
    by_name = {(r.optimizer.name, r.optimizer.hyper.get("nan")): r.run_id for r in exp.runs}
    statuses = result.statuses
    assert statuses[by_name[("sgd", None)]]["status"] == "completed"
    failed = statuses[by_name[("failing.py:Failing", False)]]
    assert failed["status"] == "failed" and "the plugin gives up at update 3" in failed["error"]
    trace = (tmp_path / "out/f/runs" / by_name[("failing.py:Failing", False)] / TRACEBACK_FILE).read_text()
    assert 'raise RuntimeError("the plugin gives up at update 3")' in trace  # the plugin's own line
    diverged = statuses[by_name[("failing.py:Failing", True)]]
    assert diverged["status"] == "diverged" and diverged["diverged_step"] == 3
    assert not (tmp_path / "out/f/runs" / by_name[("failing.py:Failing", True)] / TRACEBACK_FILE).exists()


# --------------------------------------------------------------------------------------------------
# Formulas, .npz datasets, entry points, torch classes
# --------------------------------------------------------------------------------------------------


def test_a_formula_function_follows_the_same_path_as_the_built_in_it_writes_down(tmp_path: Path) -> None:
    need("sympy")
    formula = """experiment: formula
task:
  function: {formula: "x**2/20 + y**2", start: [-7, 2]}
optimizer: {name: sgd, lr: 0.3}
train: {steps: 25}
"""
    config = write(tmp_path, "formula.yaml", formula)
    code, _, err = cli("compare", str(config), "--out", str(tmp_path / "out"), "-q")
    assert code == 0, err
    run = only_run(tmp_path / "out", "formula")
    np.testing.assert_allclose(rows(run), book_path(0.3, 25), rtol=1e-12, atol=1e-300)
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["task"]["function"] == {"formula": "x**2/20 + y**2"}
    report = (tmp_path / "out/formula/report.md").read_text()
    assert "no minimum was given (task.function.minimum)" in report  # bounded, but not said
    assert "unbounded below" not in report
    assert "differ between runs" not in report  # the plugins' code has its own section
    other = write(tmp_path, "other.yaml", formula.replace("y**2", "2*y**2"))
    exp = load_experiment(other)
    assert exp.runs[0].run_id != run.name  # the formula is part of the run's identity
    assert (tmp_path / "out/formula/paths.png").exists()


def write_npz(path: Path, seed: int = 0) -> Path:
    """Two separable classes of 6 float32 features: 240 training and 60 test examples."""
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, n)
        x = rng.standard_normal((n, 6)).astype(np.float32) + 2.0 * y[:, None].astype(np.float32)
        return x, y.astype(np.uint8)

    x_train, y_train = draw(240)
    x_test, y_test = draw(60)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


NPZ = """experiment: own-data
task: {dataset: data/own.npz, validation: 40}
model: {hidden: [8], init: he}
optimizer: {name: scaled.py:Scaled, lr: 0.1}
train: {steps: 30, batch_size: 16, eval_every: 10}
"""


def test_a_plugin_trains_on_an_npz_dataset_whose_hash_is_recorded_and_identifies_the_run(
    tmp_path: Path,
) -> None:
    write(tmp_path, "scaled.py", SCALED)
    (tmp_path / "data").mkdir()
    data = write_npz(tmp_path / "data" / "own.npz")
    config = write(tmp_path, "own.yaml", NPZ)
    code, _, err = cli("compare", str(config), "optimizer.scale=0.5", "--out", str(tmp_path / "out"), "-q")
    assert code == 0, err
    run = only_run(tmp_path / "out", "own-data")
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["task"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert resolved["task"]["dataset"] == str(data.resolve())
    status = read_status(run)
    assert status is not None and status["status"] == "completed"
    assert status["final_test_acc"] is not None and status["final_test_acc"] > 0.8  # separable classes
    write_npz(data, seed=1)
    assert load_experiment(config, ["optimizer.scale=0.5"]).runs[0].run_id != run.name


HEAVY_BALL = '''
from dataclasses import dataclass

from optbench import Optimizer, hyper


@dataclass
class HeavyBall(Optimizer):
    """v ← μv + g; θ ← θ − ηv."""

    name = "heavy_ball"
    summary = "momentum, its velocity kept as state"
    state_names = ("velocity",)

    lr: float = hyper(0.05, "learning rate")
    mu: float = hyper(0.9, "momentum factor")

    def update(self, params, grads, lr):
        v = self.state["velocity"]
        v *= self.mu
        v += grads
        params -= lr * v
        return lr
'''


def test_a_stateful_plugin_resumed_from_a_checkpoint_writes_the_rows_of_a_run_never_stopped(
    tmp_path: Path,
) -> None:
    from optbench import train
    from optbench.checkpoints import pack, unpack

    write(tmp_path, "heavy.py", HEAVY_BALL)
    (tmp_path / "data").mkdir()
    write_npz(tmp_path / "data" / "own.npz")
    config = NPZ.replace("scaled.py:Scaled, lr: 0.1", "heavy.py:HeavyBall").replace(
        "eval_every: 10", "eval_every: 10, checkpoint_every: 10"
    )
    (run,) = load_experiment(write(tmp_path, "own.yaml", config)).runs
    rows: list[tuple[object, ...]] = []
    saved: list[tuple[int, bytes]] = []
    outcome = train.run(run, rows.append, None, lambda step, c: saved.append((step, pack(c))))
    assert [step for step, _ in saved] == [10, 20]
    for step, data in saved:
        after: list[tuple[object, ...]] = []
        resumed = train.run(run, after.append, None, lambda *_: None, unpack(data))
        assert [r[:-1] for r in after] == [r[:-1] for r in rows[step:]]  # elapsed_s aside
        assert resumed == outcome


def test_a_changed_npz_against_a_recorded_hash_is_one_line(tmp_path: Path) -> None:
    write(tmp_path, "scaled.py", SCALED)
    (tmp_path / "data").mkdir()
    write_npz(tmp_path / "data" / "own.npz")
    config = write(
        tmp_path, "own.yaml", NPZ.replace("validation: 40", "validation: 40, sha256: " + "ab" * 32)
    )
    code, _, err = cli("compare", str(config), "--out", str(tmp_path / "out"))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "task.sha256" in line and "has changed" in line
    assert not (tmp_path / "out").exists()


def test_an_entry_point_of_an_installed_package_is_a_name_in_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    write(site, "scaled_plugin.py", SCALED)
    write(
        site,
        "scaled_plugin-1.2.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: scaled-plugin\nVersion: 1.2\n",
    )
    write(
        site,
        "scaled_plugin-1.2.dist-info/entry_points.txt",
        "[optbench.optimizers]\nscaled_ep = scaled_plugin:Scaled\n",
    )
    monkeypatch.syspath_prepend(str(site))
    plugins.entry_points.cache_clear()
    try:
        config = write(tmp_path, "paths.yaml", PATHS.replace("scaled.py:Scaled", "scaled_ep"))
        code, _, err = cli(
            "compare", str(config), "optimizer.scale=0.5", "--out", str(tmp_path / "out"), "-q"
        )
        assert code == 0, err
    finally:
        plugins.entry_points.cache_clear()
    run = only_run(tmp_path / "out", "paths")
    np.testing.assert_allclose(rows(run), book_path(0.25, 25), rtol=1e-12, atol=1e-300)
    status = read_status(run)
    assert status is not None
    (entry,) = status["plugins"]
    assert (
        entry["kind"] == "entry point"
        and entry["distribution"] == "scaled-plugin"
        and entry["version"] == "1.2"
    )


@pytest.mark.torch
def test_torch_adamax_through_a_config_follows_optbenchs_adamax(tmp_path: Path) -> None:
    need("torch")
    config = write(
        tmp_path,
        "adamax.yaml",
        """experiment: adamax
task: {function: book}
train: {steps: 30}
runs:
  - optimizer: {name: adamax, lr: 0.3}
  - optimizer: {name: torch.optim:Adamax, lr: 0.3}
""",
    )
    code, _, err = cli("compare", str(config), "--out", str(tmp_path / "out"), "-q", "--jobs", "2")
    assert code == 0, err
    exp = load_experiment(config)
    ours, theirs = (tmp_path / "out/adamax/runs" / r.run_id for r in exp.runs)
    np.testing.assert_allclose(rows(theirs), rows(ours), rtol=1e-10, atol=1e-12)
    status = read_status(theirs)
    assert status is not None
    (entry,) = status["plugins"]
    assert entry["spec"] == "torch.optim:Adamax" and entry["distribution"] == "torch"


# --------------------------------------------------------------------------------------------------
# On a Dask cluster: a scheduler and two workers on 127.0.0.1, ports chosen by the OS
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    need("distributed")
    started = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield started
    started.stop()


def test_a_file_plugin_on_the_cluster_gives_the_bytes_of_a_local_sweep_without_its_file(
    tmp_path: Path, cluster: Cluster
) -> None:
    write(tmp_path, "scaled.py", SCALED)
    exp = load_experiment(
        write(tmp_path, "paths.yaml", PATHS + "grid:\n  optimizer.scale: [0.5, 1.0, 1.5]\n")
    )
    run_experiment(exp, tmp_path / "local", jobs=2, progress=False)
    (tmp_path / "scaled.py").unlink()  # the workers have no file: the text travels with each run
    result = run_experiment(
        exp, tmp_path / "cluster", progress=False, scheduler=Scheduler(address=cluster.address)
    )
    assert {s["status"] for s in result.statuses.values()} == {"completed"}
    assert {s["pid"] for s in result.statuses.values()} <= cluster.worker_pids
    for run in exp.runs:
        for name in ("metrics.csv", "config.yaml"):
            local = (tmp_path / "local/paths/runs" / run.run_id / name).read_bytes()
            assert local == (tmp_path / "cluster/paths/runs" / run.run_id / name).read_bytes()


def test_a_module_plugin_missing_on_the_workers_stops_the_command_naming_the_module_and_the_worker(
    tmp_path: Path, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    here_only = tmp_path / "here-only"
    write(here_only, "lonely_plugin.py", SCALED)
    monkeypatch.syspath_prepend(str(here_only))  # importable in this process, not on the workers
    config = write(tmp_path, "paths.yaml", PATHS.replace("scaled.py:Scaled", "lonely_plugin:Scaled"))
    code, _, err = cli(
        "compare", str(config), "--out", str(tmp_path / "out"), "-q", "--scheduler", cluster.address
    )
    assert code == 1
    (line,) = err.strip().splitlines()
    assert "Dask worker tcp://127.0.0.1:" in line and "no module named 'lonely_plugin'" in line
    assert "install it on every worker" in line


# --------------------------------------------------------------------------------------------------
# On MNIST
# --------------------------------------------------------------------------------------------------


def train_losses(run_folder: Path) -> np.ndarray:
    lines = (run_folder / "metrics.csv").read_text().splitlines()
    column = lines[0].split(",").index("train_loss")
    return np.array([float(line.split(",")[column]) for line in lines[1:]])


@pytest.mark.slow
def test_a_file_plugin_trains_on_mnist_as_the_gradient_descent_it_scales(
    tmp_path: Path, mnist: object
) -> None:
    """Scaled(lr 0.2, scale 0.5) is SGD at 0.1: the same losses, update for update."""
    write(tmp_path, "scaled.py", SCALED)
    config = write(
        tmp_path,
        "mnist.yaml",
        """experiment: mnist-plugin
task: {dataset: mnist}
model: {hidden: [32, 32]}
train: {steps: 60, eval_every: 30}
runs:
  - optimizer: {name: sgd, lr: 0.1}
  - optimizer: {name: scaled.py:Scaled, lr: 0.2, scale: 0.5}
""",
    )
    exp = load_experiment(config)
    result = run_experiment(exp, tmp_path / "out", jobs=2, progress=False)
    assert {s["status"] for s in result.statuses.values()} == {"completed"}
    sgd, scaled = (train_losses(tmp_path / "out/mnist-plugin/runs" / r.run_id) for r in exp.runs)
    np.testing.assert_allclose(scaled, sgd, rtol=1e-6)
    assert scaled[-10:].mean() < scaled[:10].mean()  # it learns


@pytest.mark.slow
@pytest.mark.torch
def test_torch_adam_named_in_a_config_follows_optbenchs_adam_over_200_mnist_updates_in_float64(
    tmp_path: Path, mnist: object
) -> None:
    need("torch")
    config = write(
        tmp_path,
        "adam.yaml",
        """experiment: adam64
task: {dataset: mnist}
model: {dtype: float64}
train: {steps: 200, eval_every: 100}
runs:
  - optimizer: {name: adam, lr: 0.001}
  - optimizer: {name: torch.optim:Adam, lr: 0.001}
""",
    )
    exp = load_experiment(config)
    run_experiment(exp, tmp_path / "out", jobs=2, progress=False)
    ours, theirs = (train_losses(tmp_path / "out/adam64/runs" / r.run_id) for r in exp.runs)
    assert len(ours) == 200
    np.testing.assert_allclose(theirs, ours, rtol=1e-10)


def test_an_npz_dataset_takes_the_first_rows_of_its_training_part_and_counts_epochs_over_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").mkdir()
    write_npz(tmp_path / "data" / "own.npz")
    config = write(
        tmp_path,
        "own.yaml",
        NPZ.replace("validation: 40}", "validation: 40, train_size: 64}")
        .replace("scaled.py:Scaled", "sgd")
        .replace("steps: 30", "epochs: 3")
        .replace("eval_every: 10", "eval_every: epoch"),
    )
    (run,) = load_experiment(config).runs
    assert run.task.train_size == 64 and run.task.sha256 is not None
    code, _, err = cli("compare", str(config), "--out", str(tmp_path / "out"), "-q")
    assert code == 0, err
    metrics = (only_run(tmp_path / "out", "own-data") / "metrics.csv").read_text().splitlines()
    header = metrics[0].split(",")
    steps = [int(line.split(",")[header.index("step")]) for line in metrics[1:]]
    rows = [dict(zip(header, line.split(","), strict=True)) for line in metrics[1:]]
    evaluated = [float(row["epoch"]) for row in rows if row["train_acc"]]
    assert steps[-1] == 3 * (64 // 16)  # three epochs of 64 rows in batches of 16
    assert evaluated[-3:] == [1.0, 2.0, 3.0]
