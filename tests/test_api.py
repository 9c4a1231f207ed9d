"""The public API: the names users extend, importable from `optbench`, where the docs say they are;
and the rule that keeps everything else internal (no module imports another's private names)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import optbench

PUBLIC = {
    "Optimizer": "optbench.optim.base",
    "Schedule": "optbench.optim.schedules",
    "hyper": "optbench.hparams",
    "Bounds": "optbench.hparams",
    "POSITIVE": "optbench.hparams",
    "NON_NEGATIVE": "optbench.hparams",
    "UNIT_INTERVAL": "optbench.hparams",
    "UNIT_INTERVAL_OPEN_TOP": "optbench.hparams",
    "Initializer": "optbench.init",
    "Objective": "optbench.functions",
    "Layer": "optbench.nn.layers",
}
"""Each public name and the module that defines it: moving one fails this test, as it would break
users' code that subclasses it."""

PACKAGE = Path(optbench.__file__).parent


def test_the_public_names_are_those_the_docs_list_and_nothing_else() -> None:
    assert set(optbench.__all__) == {*PUBLIC, "__version__"}
    for name in PUBLIC:
        assert name in (optbench.__doc__ or ""), f"{name} is not in optbench's docstring"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_public_name_is_the_object_defined_where_it_lives_with_its_documentation(name: str) -> None:
    value = getattr(optbench, name)
    module = sys.modules[PUBLIC[name]]
    assert getattr(module, name) is value
    if inspect.isclass(value) or inspect.isfunction(value):
        assert value.__module__ == PUBLIC[name]
        assert inspect.getdoc(value)
        functions = (
            [value]
            if inspect.isfunction(value)
            else [
                member
                for key, member in vars(value).items()
                if inspect.isfunction(member) and not key.startswith("_")
            ]
        )
        for function in functions:
            hints = inspect.get_annotations(function)
            params = [p for p in inspect.signature(function).parameters if p != "self"]
            assert set(params) | {"return"} <= set(hints), f"{function.__qualname__} is not fully typed"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Adam'"):
        optbench.Adam  # noqa: B018


def test_importing_optbench_imports_no_numpy() -> None:
    # The BLAS setting of optbench/__init__.py works only before NumPy loads: the public names load lazily.
    code = (
        "import sys, optbench; assert 'numpy' not in sys.modules; "
        "optbench.Optimizer; print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def test_a_package_ships_its_type_hints() -> None:
    assert (PACKAGE / "py.typed").is_file()


@dataclasses.dataclass
class HalfStep(optbench.Optimizer):
    """θ ← θ − η·g/2, with a running count kept as state: an optimizer written from the public API
    alone, as a user would."""

    name = "half_step"
    summary = "half a gradient step"
    state_names = ("count",)

    lr: float = optbench.hyper(0.1, "learning rate η", optbench.POSITIVE)
    half: float = optbench.hyper(0.5, "the fraction of the step", optbench.Bounds(0.0, 1.0))

    def update(self, params: Any, grads: Any, lr: float) -> float:
        self.state["count"] += 1
        params -= lr * self.half * grads
        return lr


def test_an_optimizer_written_from_the_public_api_steps_and_lists_its_hyperparameters() -> None:
    from optbench.hparams import hyperparameters

    opt = HalfStep(lr=0.25)
    params, grads = np.ones(3), np.full(3, 2.0)
    opt.step(params, grads)
    opt.step(params, grads)
    assert params.tolist() == [0.5] * 3  # 1 − 2 × 0.25·0.5·2, exactly
    assert opt.state["count"].tolist() == [2.0] * 3 and opt.t == 2
    declared = {h.name: (h.default, h.doc) for h in hyperparameters(HalfStep)}
    assert declared == {"lr": (0.1, "learning rate η"), "half": (0.5, "the fraction of the step")}
    assert optbench.Bounds(0.0, 1.0).problem(1.5) == "must be >= 0 and <= 1, got 1.5"


def private_imports(path: Path) -> list[str]:
    """`module: name` for each underscore name `path` imports from another optbench module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("optbench")):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{node.module}: {alias.name}")
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    offenders = {
        str(path.relative_to(PACKAGE.parent)): names
        for path in sorted(PACKAGE.rglob("*.py"))
        if (names := private_imports(path))
    }
    assert offenders == {}
