"""Plugins named by file, by module and by entry point: read, recorded, loaded where a run executes,
and every way of getting one wrong reported in one line."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from optbench import plugins
from optbench.plugins import PluginCode, PluginError

OPTIMIZER_FILE = '''
from dataclasses import dataclass

from optbench import POSITIVE, Optimizer, hyper


@dataclass
class HalfStep(Optimizer):
    """θ ← θ − η·g/2."""

    name = "half_step"
    summary = "half a gradient step"

    lr: float = hyper(0.1, "learning rate", POSITIVE)

    def update(self, params, grads, lr):
        params -= lr * grads / 2
        return lr
'''


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_file_plugin_is_read_relative_to_the_config_and_carries_its_text_and_hash(tmp_path: Path) -> None:
    write(tmp_path / "cfg", "opts/half.py", OPTIMIZER_FILE)
    code = plugins.read("opts/half.py:HalfStep", tmp_path / "cfg")
    assert code.kind == "file" and code.file_name == "half.py"
    assert code.source == (tmp_path / "cfg/opts/half.py").read_text()
    assert code.sha256 == plugins.sha256_text(code.source) and len(code.sha256) == 64
    cls = plugins.load(code, "optimizers")
    assert cls.__name__ == "HalfStep" and cls.name == "half_step"
    assert cls.__module__ in sys.modules  # dataclasses resolve their fields through it


def test_a_recorded_file_plugin_loads_without_the_file_and_a_changed_text_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "half.py", OPTIMIZER_FILE)
    record = plugins.read("half.py:HalfStep", tmp_path).record()
    (tmp_path / "half.py").unlink()
    code = PluginCode.from_record(record)
    assert plugins.load(code, "optimizers").name == "half_step"
    with pytest.raises(PluginError, match="does not match its sha256"):
        PluginCode.from_record({**record, "source": record["source"] + "\n# changed\n"})


def test_two_versions_of_a_file_load_as_two_modules(tmp_path: Path) -> None:
    first = plugins.read("a.py:HalfStep", tmp_path) if write(tmp_path, "a.py", OPTIMIZER_FILE) else None
    write(tmp_path, "a.py", OPTIMIZER_FILE.replace("lr / 2", "lr / 4").replace("g/2", "g/4"))
    second = plugins.read("a.py:HalfStep", tmp_path)
    assert first is not None and first.sha256 != second.sha256
    assert plugins.load(first, "optimizers") is not plugins.load(second, "optimizers")


def test_a_traceback_from_inside_a_file_plugin_shows_its_line(tmp_path: Path) -> None:
    import traceback

    write(tmp_path, "boom.py", "def explode():\n    raise RuntimeError('inside the plugin')\n")
    explode = plugins.load(plugins.read("boom.py:explode", tmp_path), "functions")
    with pytest.raises(RuntimeError) as info:
        explode()
    text = "".join(traceback.format_exception(info.value))
    assert "raise RuntimeError('inside the plugin')" in text and "boom.py" in text


@pytest.mark.parametrize(
    ("files", "spec", "message"),
    [
        ({}, "missing.py:X", r"missing.py:X: no such file: .*missing.py"),
        ({"a.py": "x = 1\n"}, "a.py:Y", r"a.py:Y: a.py defines no Y \(it defines: x\)"),
        ({"a.py": "def f(:\n"}, "a.py:f", r"a.py:f: the file fails to run: SyntaxError: .*\(line 1\)"),
        (
            {"a.py": "import numpy_is_not_here\n"},
            "a.py:X",
            r"a.py:X: the file fails to run: no module named 'numpy_is_not_here'",
        ),
        (
            {},
            "no_such_package.sub:X",
            r"cannot import no_such_package.sub: no module named 'no_such_package'",
        ),
        ({}, "json:NoSuchThing", r"json:NoSuchThing: json defines no NoSuchThing"),
        ({}, "a.py:not-a-name", r"expected file.py:Name or package.module:Name"),
    ],
)
def test_each_broken_plugin_is_one_line_saying_why(
    tmp_path: Path, files: dict[str, str], spec: str, message: str
) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(PluginError, match=message) as info:
        plugins.load(plugins.read(spec, tmp_path), "optimizers")
    assert "\n" not in str(info.value)


def test_a_plugin_module_that_imports_something_missing_names_that_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "site/myopts/__init__.py", "import scipy_does_not_exist_here\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(
        PluginError, match="cannot import myopts: no module named 'scipy_does_not_exist_here'"
    ):
        plugins.load(plugins.read("myopts:Opt", None), "optimizers")


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution `optbench-extras` 2.5 installed on sys.path, registering entry points."""
    site = tmp_path / "site"
    write(site, "extras_pkg/__init__.py", OPTIMIZER_FILE + "\nBROKEN = None\n")
    write(
        site,
        "optbench_extras-2.5.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: optbench-extras\nVersion: 2.5\n",
    )
    write(
        site,
        "optbench_extras-2.5.dist-info/entry_points.txt",
        "[optbench.optimizers]\nhalf_step = extras_pkg:HalfStep\nbroken = extras_pkg_missing:Thing\n",
    )
    write(site, "optbench_extras-2.5.dist-info/top_level.txt", "extras_pkg\n")
    monkeypatch.syspath_prepend(str(site))
    plugins.entry_points.cache_clear()
    yield site
    plugins.entry_points.cache_clear()


def test_an_installed_entry_point_loads_by_its_name_and_records_its_distribution(installed: Path) -> None:
    assert set(plugins.entry_points("optimizers")) >= {"half_step", "broken"}
    code = plugins.entry_point_code("optimizers", "half_step")
    assert code == PluginCode("half_step", "entry point", distribution="optbench-extras", version="2.5")
    assert plugins.load(code, "optimizers").name == "half_step"
    assert plugins.entry_point_code("optimizers", "no_such") is None
    broken = plugins.entry_point_code("optimizers", "broken")
    assert broken is not None
    with pytest.raises(
        PluginError, match="broken: entry point extras_pkg_missing:Thing fails to load: no module"
    ):
        plugins.load(broken, "optimizers")


def test_a_module_plugin_records_the_version_of_its_distribution(installed: Path) -> None:
    code = plugins.read("extras_pkg:HalfStep", None)
    assert (code.kind, code.distribution, code.version) == ("module", "optbench-extras", "2.5")
    assert plugins.load(code, "optimizers").name == "half_step"
