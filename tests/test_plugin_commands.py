"""The command line of plugins: `optbench check SPEC`, the entry points installed packages register in
`optbench list`, and the `my_optimizer` template with its example plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import need

from optbench import catalogue, plugins
from optbench.check import CHECKS
from optbench.cli import main
from optbench.optim import OPTIMIZERS

CHECK_NAMES = [name for name, _ in CHECKS]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), prog_name="optbench")
    return result.exit_code, result.stdout, result.stderr


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def marks(out: str) -> dict[str, str]:
    """Each check's mark (PASS, FAIL, WARN) from the lines of `optbench check`."""
    found = {}
    for line in out.splitlines():
        mark, rest = line.split("  ", 1)
        name = next(n for n in CHECK_NAMES if rest.startswith(n + " ") or rest == n)
        found[name] = mark
    return found


# --------------------------------------------------------------------------------------------------
# optbench check
# --------------------------------------------------------------------------------------------------

HEADER = """
from dataclasses import dataclass

import numpy as np

from optbench import POSITIVE, UNIT_INTERVAL, Optimizer, hyper
"""

PLUGINS = (
    HEADER
    + '''

@dataclass
class HeavyBall(Optimizer):
    """Polyak's heavy ball: v ← μ·v + g, θ ← θ − η·v."""

    name = "heavy_ball"
    summary = "gradient descent with momentum"
    state_names = ("velocity",)

    lr: float = hyper(0.05, "learning rate η", POSITIVE)
    momentum: float = hyper(0.9, "momentum μ", UNIT_INTERVAL)

    def update(self, params, grads, lr):
        v = self.state["velocity"]
        v *= self.momentum
        v += grads
        params -= lr * v
        return lr


@dataclass
class Copying(Optimizer):
    """Makes a new array: the caller's buffer never moves."""

    name = "copying"
    summary = "not in place"

    lr: float = hyper(0.1, "learning rate", POSITIVE)

    def update(self, params, grads, lr):
        params = params - lr * grads
        return lr


@dataclass
class Widening(Optimizer):
    """Keeps its momentum in float64 whatever the parameters' dtype."""

    name = "widening"
    summary = "changes the dtype of its state"

    lr: float = hyper(0.05, "learning rate", POSITIVE)

    def init_state(self, params):
        return {"velocity": np.zeros(params.shape, dtype=np.float64)}

    def update(self, params, grads, lr):
        v = self.state["velocity"]
        v *= 0.9
        v += grads
        params -= (lr * v).astype(params.dtype)
        return lr


@dataclass
class Noisy(Optimizer):
    """Adds noise from the unseeded global generator."""

    name = "noisy"
    summary = "unseeded randomness"

    lr: float = hyper(0.05, "learning rate", POSITIVE)

    def update(self, params, grads, lr):
        params -= lr * (grads + 0.01 * np.random.standard_normal(params.shape))
        return lr


@dataclass
class Counting(Optimizer):
    """Counts its updates in an attribute: a resumed run starts the count again."""

    name = "counting"
    summary = "state outside state_names"

    lr: float = hyper(0.1, "learning rate", POSITIVE)

    def __post_init__(self):
        self.calls = 0

    def update(self, params, grads, lr):
        self.calls += 1
        params -= lr / self.calls * grads
        return lr / self.calls


@dataclass
class OutOfRange(Optimizer):
    """A default outside its declared range."""

    name = "out_of_range"
    summary = "momentum 1.5 in [0, 1]"

    lr: float = hyper(0.05, "learning rate", POSITIVE)
    momentum: float = hyper(1.5, "momentum", UNIT_INTERVAL)

    def update(self, params, grads, lr):
        params -= lr * grads
        return lr


@dataclass
class Meaningless(Optimizer):
    """A hyperparameter without a meaning."""

    name = "meaningless"
    summary = "no meaning"

    lr: float = hyper(0.05, "", POSITIVE)

    def update(self, params, grads, lr):
        params -= lr * grads
        return lr


@dataclass
class Exploding(Optimizer):
    """A step far too large from its defaults: the iterates run off to infinity."""

    name = "exploding"
    summary = "diverges from its defaults"

    lr: float = hyper(1e3, "learning rate", POSITIVE)

    def update(self, params, grads, lr):
        params -= lr * grads * np.abs(params)
        return lr


@dataclass
class Stalling(Optimizer):
    """A rate so small that 100 updates lower nothing visibly: a warning, not a failure."""

    name = "stalling"
    summary = "needs tuning"

    lr: float = hyper(1e-3, "learning rate", POSITIVE)

    def update(self, params, grads, lr):
        params += lr * grads
        return lr
'''
)


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path, "opts.py", PLUGINS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", ["sgd", "adam", "lion"])
def test_check_of_a_built_in_passes_every_check_one_line_each(name: str) -> None:
    code, out, err = invoke("check", name)
    assert (code, err) == (0, "")
    assert marks(out) == dict.fromkeys(CHECK_NAMES, "PASS")
    assert len(out.splitlines()) == len(CHECK_NAMES)


def test_check_of_a_good_plugin_file_passes_and_names_the_file_relative_to_the_current_folder(
    plugin_dir: Path,
) -> None:
    code, out, _ = invoke("check", "opts.py:HeavyBall")
    assert code == 0 and marks(out) == dict.fromkeys(CHECK_NAMES, "PASS")
    code, out, _ = invoke("check", str(plugin_dir / "opts.py") + ":HeavyBall", "--dtype", "float32")
    assert code == 0 and "(float32)" in out and "float64" not in out


@pytest.mark.parametrize(
    ("cls", "check", "reason"),
    [
        ("Copying", "in place", "update must change params in place"),
        ("Widening", "dtype", "keeps state 'velocity' in float64 for float32 parameters"),
        ("Noisy", "deterministic", "two identical runs of 20 updates differ"),
        ("Counting", "resume", "state kept outside self.state and self.t"),
        ("OutOfRange", "declaration", "the default of 'momentum' is outside its declared range"),
        ("Meaningless", "declaration", "hyperparameter 'lr' has no meaning"),
        ("Exploding", "quadratic", "not finite"),
    ],
)
def test_check_of_a_wrong_plugin_fails_its_check_with_the_reason_and_exit_status_1(
    plugin_dir: Path, cls: str, check: str, reason: str
) -> None:
    code, out, err = invoke("check", f"opts.py:{cls}")
    assert code == 1 and err == ""
    assert marks(out)[check] == "FAIL"
    (line,) = [line for line in out.splitlines() if line.startswith(f"FAIL  {check} ")]
    assert reason in line


def test_check_of_a_rule_that_only_needs_tuning_warns_and_exits_0(plugin_dir: Path) -> None:
    code, out, _ = invoke("check", "opts.py:Stalling")
    assert code == 0
    assert marks(out) == {**dict.fromkeys(CHECK_NAMES, "PASS"), "quadratic": "WARN", "book": "WARN"}
    assert "it may need other hyperparameters" in out
    # With a rate of the right sign it lowers both.
    code, out, _ = invoke("check", "opts.py:Stalling", "--hyper", "lr=-0.1")
    assert code == 2 and out == ""  # lr is declared POSITIVE: the value is refused first


def test_check_takes_hyperparameter_values_as_a_config_gives_them(plugin_dir: Path) -> None:
    code, out, _ = invoke("check", "opts.py:OutOfRange", "--hyper", "momentum=0.5")
    assert code == 1 and marks(out)["declaration"] == "FAIL"  # the default stays out of range
    code, out, _ = invoke("check", "opts.py:HeavyBall", "--hyper", "lr=1e-2", "--hyper", "momentum=0.5")
    assert code == 0 and "with lr=0.01, momentum=0.5, lowers" in out


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["missing.py:X"], "error: missing.py:X: no such file: missing.py"),
        (["opts.py:Nothing"], "error: opts.py:Nothing: opts.py defines no Nothing (it defines: "),
        (["json:dumps"], "error: json:dumps: is the function dumps, not a subclass of optbench.Optimizer"),
        (["no_such_module_here:X"], "error: no_such_module_here:X: cannot import no_such_module_here: "),
        (["adma"], "error: unknown optimizer 'adma'; did you mean 'adam'?"),
        (
            ["opts.py:HeavyBall", "--hyper", "momentun=0.5"],
            "error: --hyper momentun: optimizer 'opts.py:HeavyBall' has no hyperparameter 'momentun'; "
            "did you mean 'momentum'?",
        ),
        (["opts.py:HeavyBall", "--hyper", "lr"], "error: --hyper 'lr': expected NAME=VALUE"),
        (["adam", "--dtype", "float16"], "error: --dtype: 'float16' is not one of 'float32', 'float64'"),
    ],
)
def test_check_of_a_spec_that_cannot_be_loaded_is_one_line_and_exit_status_2(
    plugin_dir: Path, args: list[str], line: str
) -> None:
    code, out, err = invoke("check", *args)
    assert code == 2 and out == ""
    (only,) = err.splitlines()
    assert only.startswith(line)


def complete(words: str) -> list[tuple[str, str]]:
    env = {
        "_OPTBENCH_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
    }
    result = CliRunner(env=env).invoke(main, [], prog_name="optbench")
    return [(kind, value) for kind, value in (line.split(",", 1) for line in result.stdout.splitlines())]


def test_check_completes_optimizer_names_else_files() -> None:
    assert complete("optbench check ada") == [
        ("plain", name) for name in ("adagrad", "adam", "adamw", "adadelta", "adamax")
    ]
    assert complete("optbench check my_o") == [("file", "my_o")]


@pytest.mark.torch
def test_check_of_a_torch_class_runs_it_through_the_adapter() -> None:
    need("torch")
    code, out, _ = invoke("check", "torch.optim:Adamax", "--hyper", "lr=0.01")
    assert code == 0 and marks(out) == dict.fromkeys(CHECK_NAMES, "PASS")
    assert out.splitlines()[0].endswith(
        "4 hyperparameters declared, with defaults and meanings, each default in its range"
    )


def test_list_of_a_plugin_file_shows_it_in_its_family_as_a_config_would(plugin_dir: Path) -> None:
    write(plugin_dir, "more.py", PACKAGE)
    code, out, _ = invoke("list", "opts.py:HeavyBall")
    assert code == 0 and out.splitlines()[1:] == [
        "  opts.py:HeavyBall  gradient descent with momentum",
        "                       lr=0.05       learning rate η",
        "                       momentum=0.9  momentum μ",
    ]
    code, out, _ = invoke("list", "more.py:Quarter")
    assert code == 0 and out.startswith("initialisers (model.init):\n  more.py:Quarter  std 0.25")
    code, out, _ = invoke("list", "more.py:BOWL")
    assert code == 0 and out.startswith("functions (task.function):\n  more.py:BOWL  x² + y²")
    code, _, err = invoke("list", "json:dumps")
    assert code == 2 and err.startswith("error: json:dumps: is the function dumps, not an optimizer (")
    code, _, err = invoke("list", "gone.py:X")
    assert code == 2 and err == "error: gone.py:X: no such file: gone.py\n"


TORCH_WRONG = '''
import torch


class TorchNoisy(torch.optim.Optimizer):
    """Gradient descent with noise from torch's global generator."""

    def __init__(self, params, lr=0.05):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(p.grad + 0.01 * torch.randn_like(p), alpha=-group["lr"])


class TorchCounting(torch.optim.Optimizer):
    """A 1/k decay whose count is an attribute of the optimizer, not in its state."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})
        self.calls = 0

    @torch.no_grad()
    def step(self, closure=None):
        self.calls += 1
        for group in self.param_groups:
            for p in group["params"]:
                p.add_(p.grad, alpha=-group["lr"] / self.calls)
'''


@pytest.mark.torch
@pytest.mark.parametrize(
    ("cls", "failing"),
    [
        ("TorchNoisy", ["deterministic", "resume"]),  # a resumed run draws other noise too
        ("TorchCounting", ["resume"]),
    ],
)
def test_check_of_a_wrong_torch_class_fails_its_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cls: str, failing: list[str]
) -> None:
    need("torch")
    write(tmp_path, "wrong_torch.py", TORCH_WRONG)
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("check", f"wrong_torch.py:{cls}")
    assert code == 1
    assert marks(out) == {**dict.fromkeys(CHECK_NAMES, "PASS"), **dict.fromkeys(failing, "FAIL")}


# --------------------------------------------------------------------------------------------------
# Entry points in optbench list
# --------------------------------------------------------------------------------------------------

PACKAGE = (
    HEADER
    + '''
from optbench import Initializer, Objective


@dataclass
class SignDescent(Optimizer):
    """θ ← θ − η·sign(g)."""

    name = "sign_descent"
    summary = "the sign of the gradient, scaled"

    lr: float = hyper(0.01, "step length η of every weight", POSITIVE)

    def update(self, params, grads, lr):
        params -= lr * np.sign(grads)
        return lr


@dataclass(frozen=True)
class Quarter(Initializer):
    """std = 1/4."""

    name = "quarter"
    summary = "std 0.25 whatever the width"

    def scale(self, n_in, n_out):
        return 0.25


BOWL = Objective(
    name="bowl",
    formula="x² + y²",
    summary="a round bowl",
    source="none",
    f=lambda x, y: x**2 + y**2,
    grad=lambda p: 2 * p,
    minima=((0.0, 0.0),),
    min_value=0.0,
    start=(3.0, -4.0),
    xlim=(-5.0, 5.0),
    ylim=(-5.0, 5.0),
)
'''
)

ENTRY_POINTS = """
[optbench.optimizers]
sign_descent = mypkg:SignDescent
lost_module = mypkg_missing.sub:Thing
lost_name = mypkg:NoSuchClass

[optbench.initializers]
quarter = mypkg:Quarter

[optbench.functions]
bowl = mypkg:BOWL
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution mypkg 0.1, installed in a folder on sys.path (and PYTHONPATH for subprocesses)."""
    folder = tmp_path / "site"
    write(folder, "mypkg/__init__.py", PACKAGE)
    write(folder, "mypkg-0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1\n")
    write(folder, "mypkg-0.1.dist-info/entry_points.txt", ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    plugins.entry_points.cache_clear()
    catalogue.installed_entry_points.cache_clear()
    yield folder
    plugins.entry_points.cache_clear()
    catalogue.installed_entry_points.cache_clear()


def optbench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed command in a fresh process: entry points as a user's shell finds them."""
    return subprocess.run(
        [sys.executable, "-m", "optbench", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_list_shows_installed_entry_points_like_built_ins_with_where_they_come_from(site: Path) -> None:
    done = optbench("list", "optimizers")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    (row,) = [line for line in lines if line.lstrip().startswith("sign_descent ")]
    assert row.split(None, 1)[1] == "the sign of the gradient, scaled [from mypkg 0.1]"
    below = lines[lines.index(row) + 1]
    assert below.split() == ["lr=0.01", "step", "length", "η", "of", "every", "weight"]
    assert lines.index(row) > lines.index(next(line for line in lines if line.lstrip().startswith("adam ")))

    done = optbench("list", "initializers")
    assert done.returncode == 0
    assert any(
        line.split(None, 1) == ["quarter", "std 0.25 whatever the width [from mypkg 0.1]"]
        for line in done.stdout.splitlines()
    )
    done = optbench("list", "functions")
    assert any(
        line.split() == ["bowl", "x²", "+", "y²", "[start", "(3,", "-4)]", "[from", "mypkg", "0.1]"]
        for line in done.stdout.splitlines()
    )


def test_a_broken_entry_point_is_one_error_line_in_list_and_the_listing_stands(site: Path) -> None:
    done = optbench("list", "optimizers")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    errors = [line.split(None, 1) for line in done.stdout.splitlines() if "error:" in line]
    assert errors == [
        [
            "lost_module",
            "error: entry point mypkg_missing.sub:Thing fails to load: no module named 'mypkg_missing' "
            "[from mypkg 0.1]",
        ],
        [
            "lost_name",
            "error: entry point mypkg:NoSuchClass fails to load: AttributeError: module 'mypkg' has no "
            "attribute 'NoSuchClass' [from mypkg 0.1]",
        ],
    ]
    assert "sign_descent" in done.stdout and "adam " in done.stdout
    # Bare `list` lists every family, the broken entries among them; other commands never load them.
    assert optbench("list").stdout.count("error:") == 2
    assert optbench("check", "adam").returncode == 0


def test_list_of_one_entry_point_by_name_and_check_by_its_name(site: Path) -> None:
    code, out, _ = invoke("list", "sign_descent")
    assert code == 0 and out.splitlines()[1].split(None, 1)[1].endswith("[from mypkg 0.1]")
    code, out, _ = invoke("list", "lost_name")
    assert code == 0 and "error: entry point mypkg:NoSuchClass fails to load" in out
    assert "sign_descent" in catalogue.completions()
    code, out, _ = invoke("check", "sign_descent")
    assert code == 0 and marks(out) == dict.fromkeys(CHECK_NAMES, "PASS")
    code, _, err = invoke("check", "lost_module")
    assert code == 2 and err == (
        "error: lost_module: entry point mypkg_missing.sub:Thing fails to load: "
        "no module named 'mypkg_missing'\n"
    )


def test_a_config_names_an_entry_point_as_a_built_in(site: Path, tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "c.yaml",
        """
        experiment: ep
        task: {function: bowl}
        optimizer: {name: sign_descent, lr: 0.5}
        train: {steps: 4}
        """,
    )
    done = optbench("train", str(config), "--out", str(tmp_path / "results"), "-q")
    assert done.returncode == 0, done.stderr
    (metrics,) = (tmp_path / "results" / "ep" / "runs").glob("*/metrics.csv")
    rows = metrics.read_text().splitlines()
    # sign descent from (3, -4) with step 0.5: (2.5, -3.5), (2, -3), (1.5, -2.5), (1, -2).
    assert [tuple(float(v) for v in row.split(",")[1:3]) for row in rows[1:]] == [
        (3.0, -4.0),
        (2.5, -3.5),
        (2.0, -3.0),
        (1.5, -2.5),
        (1.0, -2.0),
    ]


# --------------------------------------------------------------------------------------------------
# The my_optimizer template
# --------------------------------------------------------------------------------------------------


def test_init_my_optimizer_writes_the_config_and_its_plugin_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("init", "my_optimizer")
    assert code == 0 and out.splitlines() == [
        "wrote my_optimizer.yaml",
        "wrote adabelief.py",
        "check it with: optbench check adabelief.py:AdaBelief",
        "run it with: optbench tune my_optimizer.yaml",
    ]
    shipped = resources.files("optbench").joinpath("templates", "adabelief.py").read_text(encoding="utf-8")
    assert Path("adabelief.py").read_text() == shipped
    Path("my_optimizer.yaml").unlink()
    Path("adabelief.py").write_text("mine\n")
    code, _, err = invoke("init", "my_optimizer")
    assert (
        code == 2 and err == "error: adabelief.py: already exists; choose another path, or remove it first\n"
    )
    assert not Path("my_optimizer.yaml").exists() and Path("adabelief.py").read_text() == "mine\n"
    code, out, _ = invoke("init", "my_optimizer", "study/mine.yaml")
    assert code == 0 and "check it with: optbench check study/adabelief.py:AdaBelief" in out
    assert sorted(p.name for p in Path("study").iterdir()) == ["adabelief.py", "mine.yaml"]


def test_the_example_optimizer_is_not_built_in_and_passes_every_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    invoke("init", "my_optimizer")
    assert "adabelief" not in OPTIMIZERS and not any("belief" in name.lower() for name in OPTIMIZERS)
    code, out, _ = invoke("check", "adabelief.py:AdaBelief")
    assert code == 0 and marks(out) == dict.fromkeys(CHECK_NAMES, "PASS")


def test_the_example_optimizer_follows_the_papers_first_update(tmp_path: Path) -> None:
    # Update 1 by hand (Zhuang et al. 2020, Algorithm 2): m = (1 − β1)g, s = (1 − β2)(g − m)² + ε,
    # so m̂ = g and ŝ = β1²g² + ε/(1 − β2): the step is η·g / (β1·|g| + ε'), η/β1 per weight.
    import numpy as np

    invoke("init", "my_optimizer", str(tmp_path))
    cls = plugins.load(plugins.read("adabelief.py:AdaBelief", tmp_path), "optimizers")
    g = np.array([0.5, -2.0, 1e-3])
    params = np.zeros(3)
    cls(lr=0.1).step(params, g.copy())
    beta1, beta2, eps = 0.9, 0.999, 1e-16
    expected = -0.1 * g / (np.sqrt(beta1**2 * g**2 + eps / (1 - beta2)) + eps)
    np.testing.assert_allclose(params, expected, rtol=1e-12)
    np.testing.assert_allclose(params, -0.1 / beta1 * np.sign(g), rtol=1e-6)


def test_the_example_optimizer_follows_the_papers_algorithm_over_several_updates(tmp_path: Path) -> None:
    import numpy as np

    invoke("init", "my_optimizer", str(tmp_path))
    cls = plugins.load(plugins.read("adabelief.py:AdaBelief", tmp_path), "optimizers")
    lr, (beta1, beta2), eps = 0.01, (0.8, 0.99), 1e-8
    opt = cls(lr=lr, betas=(beta1, beta2), eps=eps)
    rng = np.random.default_rng(0)
    params, theta = np.zeros(5), np.zeros(5)
    m, s = np.zeros(5), np.zeros(5)
    for t in range(1, 8):
        g = rng.standard_normal(5)
        opt.step(params, g.copy())
        m = beta1 * m + (1 - beta1) * g
        s = beta2 * s + (1 - beta2) * (g - m) ** 2 + eps
        theta = theta - lr * (m / (1 - beta1**t)) / (np.sqrt(s / (1 - beta2**t)) + eps)
    np.testing.assert_allclose(params, theta, rtol=1e-12)


def test_the_my_optimizer_study_tunes_the_plugin_against_adam_and_sgd(tmp_path: Path) -> None:
    invoke("init", "my_optimizer", str(tmp_path))
    code, out, err = invoke("tune", str(tmp_path / "my_optimizer.yaml"), "--dry-run")
    assert code == 0, err
    optimizers = {line.split()[0] for line in out.splitlines()[1:] if line[:1] not in (" ", "")}
    assert {"adabelief.py:AdaBelief", "adam", "sgd"} <= optimizers
    assert "each optimizer's best trial, chosen on validation, at seeds 1 2 3" in out


@pytest.mark.slow
def test_the_my_optimizer_study_runs_end_to_end_with_its_report(tmp_path: Path, mnist: object) -> None:
    invoke("init", "my_optimizer", str(tmp_path))
    small = ["train.steps=30", "train.eval_every=10", "tune.budget=2", "tune.final_seeds=2"]
    code, _, err = invoke(
        "tune", str(tmp_path / "my_optimizer.yaml"), *small, "--out", str(tmp_path / "results"), "-q"
    )
    assert code == 0, err
    report = (tmp_path / "results" / "my-optimizer" / "report.md").read_text()
    section = report[report.index("## Tuned optimizers") :].splitlines()
    first = next(i for i, line in enumerate(section) if line.startswith("| optimizer |"))
    table = section[first : section.index("", first)]
    assert [row.split(" | ")[0].removeprefix("| ") for row in table[2:]] == [
        "adabelief.py:AdaBelief",
        "adam",
        "sgd",
    ]
