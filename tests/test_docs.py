"""docs/plugins.md works as written: its plugin files pass `optbench check`, its configs load and run,
its two Signums take the same steps, its pyproject snippet registers what `optbench list` then
shows, and its shell commands run in the order it gives them."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import need

from optbench import plugins
from optbench.check import CHECKS
from optbench.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
FILE_NAME = re.compile(r"# ([\w.-]+\.(?:py|yaml|toml))\b")


@dataclass(frozen=True)
class Block:
    """A fenced code block of the doc: its language, its text and the file it is (its first line,
    `# signum.py`), if it names one."""

    lang: str
    text: str

    @property
    def file(self) -> str | None:
        match = FILE_NAME.match(self.text)
        return match[1] if match else None

    @property
    def needs_torch(self) -> bool:
        return "torch" in self.text


def blocks(lang: str | None = None) -> list[Block]:
    found = [Block(lang_, text) for lang_, text in FENCE.findall(DOC.read_text(encoding="utf-8"))]
    return [b for b in found if lang is None or b.lang == lang]


def files(suffix: str) -> list[Block]:
    return [b for b in blocks() if b.file is not None and b.file.endswith(suffix)]


def write_files(folder: Path) -> None:
    """Every python and YAML file of the doc, written into `folder`, and the .npz its script makes."""
    for block in [*files(".py"), *files(".yaml")]:
        assert block.file is not None
        (folder / block.file).write_text(block.text, encoding="utf-8")
    subprocess.run([sys.executable, "make_data.py"], cwd=folder, check=True)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), prog_name="optbench")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_doc_has_the_blocks_these_tests_run() -> None:
    # So that a renamed or dropped block fails here rather than leaving its test with nothing to check.
    assert [b.file for b in files(".py")] == ["signum.py", "my_parts.py", "make_data.py", "torch_signum.py"]
    assert len(files(".yaml")) == 6 and len(files(".toml")) == 1
    assert len(blocks("sh")) == 3


def optimizer_classes(block: Block) -> list[str]:
    return re.findall(r"^class (\w+)\((?:Optimizer|torch\.optim\.Optimizer)\):", block.text, re.MULTILINE)


@pytest.mark.parametrize("block", files(".py"), ids=lambda b: b.file)
def test_every_optimizer_of_the_doc_passes_every_check(folder: Path, block: Block) -> None:
    if block.needs_torch:
        need("torch")
    for name in optimizer_classes(block):
        code, out, err = invoke("check", f"{block.file}:{name}")
        assert (code, err) == (0, ""), out
        assert [line.split()[0] for line in out.splitlines()] == ["PASS"] * len(CHECKS)


@pytest.mark.parametrize("block", files(".yaml"), ids=lambda b: b.file)
def test_every_config_of_the_doc_loads_with_the_plugins_it_names(folder: Path, block: Block) -> None:
    if block.needs_torch:
        need("torch")
    assert block.file is not None
    code, out, err = invoke("compare", block.file, "--dry-run")
    assert code == 0, err
    for spec in re.findall(r"\b([\w.]+:[A-Z]\w*)", block.text):
        assert f" {spec}: " in out  # each plugin the dry run would load


def test_the_docs_function_tasks_run_and_its_parts_are_what_they_say(folder: Path) -> None:
    for config in ("my_parts_demo.yaml", "formula_demo.yaml"):
        code, _, err = invoke("compare", config, "-q")
        assert code == 0, err
    parts = plugins.load(plugins.read("my_parts.py:TILTED_BOWL", folder), "functions")
    for point in [(-7.0, 2.0), (1.5, -0.5), (3.0, 4.0)]:
        p, h = np.array(point), 1e-6
        central = [(parts.value(*(p + h * e)) - parts.value(*(p - h * e))) / (2 * h) for e in np.eye(2)]
        np.testing.assert_allclose(parts.grad(p), central, rtol=1e-7, atol=1e-9)
    he = plugins.load(plugins.read("my_parts.py:ScaledHe", folder), "initializers")
    weights = he(gain=0.5)(np.random.default_rng(0), 400, 300, np.float64)
    assert weights.std() == pytest.approx(0.5 * np.sqrt(2 / 400), rel=0.01)


@pytest.mark.torch
def test_the_docs_two_signums_take_the_same_steps_in_float64(folder: Path) -> None:
    need("torch")
    from optbench.optim import OPTIMIZERS

    for spec in ("signum.py:Signum", "torch_signum.py:TorchSignum"):
        plugins.install(plugins.read(spec, folder), "optimizers")
    native = OPTIMIZERS["signum.py:Signum"](lr=0.01, beta=0.8)
    torch_made = OPTIMIZERS["torch_signum.py:TorchSignum"](lr=0.01, beta=0.8)
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1000)
    b = a.copy()
    for _ in range(200):
        g = rng.standard_normal(1000) + a
        native.step(a, g.copy())
        torch_made.step(b, g.copy())
    assert a.tobytes() == b.tobytes()


def test_the_docs_pyproject_registers_what_list_then_shows(folder: Path, tmp_path: Path) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    (block,) = files(".toml")
    project = tomllib.loads(block.text)
    groups = project["project"]["entry-points"]
    assert set(groups) == {"optbench.optimizers", "optbench.initializers", "optbench.functions"}
    # The package the snippet describes, installed as pip would: its modules are the doc's files.
    site = tmp_path / "site"
    package = site / "my_optimizers"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for module, source in [
        ("signum", "signum.py"),
        ("torch_signum", "torch_signum.py"),
        ("parts", "my_parts.py"),
    ]:
        (package / f"{module}.py").write_text((folder / source).read_text())
    name, version = project["project"]["name"], project["project"]["version"]
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, entries in groups.items():
        lines += [f"[{group}]", *(f"{k} = {v}" for k, v in entries.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "optbench", "list"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    shown = {line.split()[0]: line for line in done.stdout.splitlines() if line.startswith("  ")}
    assert shown["signum"].endswith(
        "the sign of a momentum of the gradient (Bernstein et al. 2018) [from my-optimizers 0.1.0]"
    )
    assert shown["scaled_he"].endswith("He's std times a gain [from my-optimizers 0.1.0]")
    assert shown["tilted_bowl"].endswith("[from my-optimizers 0.1.0]")
    # Without torch, the torch class is one error line in its place, and the rest is listed.
    has_torch = importlib.util.find_spec("torch") is not None
    assert ("error:" not in shown["torch_signum"]) == has_torch


def commands(block: Block) -> list[list[str]]:
    """The commands of a shell block, as words, without their comments (`a && b` is two)."""
    out: list[list[str]] = []
    for line in block.text.splitlines():
        command: list[str] = []
        for word in [*shlex.split(line, comments=True), "&&"]:
            if word != "&&":
                command.append(word)
            elif command:
                out.append(command)
                command = []
    return out


SMALL = ["train.steps=20", "train.eval_every=10", "tune.budget=2", "tune.final_seeds=1"]
"""What the doc's full study is cut down to here: the same commands, a smaller study."""


@pytest.mark.slow
def test_the_docs_commands_run_in_order_from_an_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist: object
) -> None:
    has_torch = importlib.util.find_spec("torch") is not None
    monkeypatch.chdir(tmp_path)
    for block in blocks("sh"):
        for words in commands(block):
            line = shlex.join(words)
            if "torch" in line and not has_torch:
                continue  # as the tests marked torch are skipped without it
            if words[0] == "mkdir":
                Path(words[1]).mkdir()
                continue
            if words[0] == "cd":
                os.chdir(words[1])
                write_files(Path.cwd())  # the doc's files, beside the study its first block starts
                continue
            assert words[0] == "optbench", line
            if words[1:3] == ["tune", "my_optimizer.yaml"] and "--dry-run" not in words:
                words += [*SMALL, "-q"]
            code, out, err = invoke(*words[1:])
            assert code == 0, f"{line}: {err}"
            if words[1] == "check":
                assert out.count("PASS") == len(CHECKS), line
    report = Path("results/my-optimizer/report.md").read_text()
    assert "adabelief.py:AdaBelief" in report


def test_the_docs_say_a_plugin_runs_code() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert "A plugin is code, and optbench runs it" in text
    assert textwrap.shorten("Name only files and packages you trust", 80) in text
