"""Installing plugins: a loaded plugin checked for its kind and added to its family's registry.

A plugin joins the registry of its family (`OPTIMIZERS`, `INITIALIZERS`, `FUNCTIONS`) under the name
the config gives it, `file.py:Name`, `module:Name` or an entry point's name, so that validation,
overrides, grids, tuning, the runs and the reports treat it as a built-in. What it must be:

- an optimizer: a `@dataclass` subclass of `optbench.Optimizer`, or any `torch.optim.Optimizer`
  subclass (run through `torch_adapter.adapt`);
- an initialiser: a `@dataclass` subclass of `optbench.Initializer`;
- a 2-D function: an `optbench.Objective`.

The code installed in this process is kept by name (`installed`), so that a resolved run records the
code it used, and a worker installs the same code from that record (`install_records`) before it
validates the run: nothing is pickled, and no worker needs the plugin's file.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optbench.functions import FUNCTIONS, Objective
from optbench.init import INITIALIZERS, Initializer
from optbench.optim import OPTIMIZERS, Optimizer
from optbench.plugins.loading import (
    FAMILIES,
    PluginCode,
    PluginError,
    entry_point_code,
    is_spec,
    load,
    read,
)
from optbench.plugins.torch_adapter import adapt, is_torch_optimizer
from optbench.registry import Registry

REGISTRIES: dict[str, Registry[Any]] = {
    "optimizers": OPTIMIZERS,
    "initializers": INITIALIZERS,
    "functions": FUNCTIONS,
}
"""The registry each family of plugins joins."""

_INSTALLED: dict[tuple[str, str], PluginCode] = {}
"""The code installed in this process, by (family, name)."""


def resolve(name: str, family: str, base_dir: Path | None) -> PluginCode | None:
    """The plugin code a config's `name` stands for, read now (a file relative to `base_dir`); None
    for a built-in name, or a name nothing provides (validation reports it as unknown)."""
    if is_spec(name):
        return read(name, base_dir)
    registry = REGISTRIES[family]
    if name in registry and name not in registry.plugins:
        return None
    return entry_point_code(family, name)


def install(code: PluginCode, family: str) -> None:
    """Load `code` and add it to the registry of `family` under its spec, once per code.

    PluginError, one line, for code that fails to load or is not a plugin of the family.
    """
    if _INSTALLED.get((family, code.spec)) == code:
        return
    entry = _entry(load(code, family), code.spec, family)
    try:
        REGISTRIES[family].register_plugin(code.spec, entry)
    except ValueError as exc:
        raise PluginError(str(exc)) from None
    _INSTALLED[(family, code.spec)] = code


def installed(family: str, name: str) -> PluginCode | None:
    """The plugin code installed in this process under `name`; None for a built-in."""
    return _INSTALLED.get((family, name))


def all_installed() -> list[tuple[str, PluginCode]]:
    """(family, code) of every plugin installed in this process, in the order installed."""
    return [(family, code) for (family, _), code in _INSTALLED.items()]


def forget() -> None:
    """Remove every installed plugin from the registries and forget its code, so that a process (a
    test module, say) starts again from the built-ins alone."""
    for registry in REGISTRIES.values():
        registry.forget_plugins()
    _INSTALLED.clear()


def record(code: PluginCode, family: str) -> dict[str, Any]:
    """A plugin as a resolved config's `plugins:` section lists it: its family and its code."""
    return {"family": family, **code.record()}


def install_records(records: Any) -> list[tuple[PluginCode, str]]:
    """Install the plugins a resolved config lists (its `plugins:` section); (code, family) of each.

    PluginError, one line, for a malformed record, a file's text that does not match its hash, or code
    that fails to load here (a module missing on this worker names the module).
    """
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise PluginError("plugins: must be a list of {family, spec, kind, ...} records")
    codes = []
    for entry in records:
        family = entry.get("family")
        if family not in FAMILIES or not isinstance(entry.get("spec"), str) or "kind" not in entry:
            raise PluginError(f"plugins: {entry.get('spec')!r}: a record needs family, spec and kind")
        code = PluginCode.from_record(entry)
        install(code, family)
        codes.append((code, family))
    return codes


def short_name(name: str) -> str:
    """A registered name as a run id spells it: a plugin by the name after its `:`, in characters
    a folder name may hold (a built-in's name is its own)."""
    shown = name.rpartition(":")[2] if is_spec(name) else name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", shown).strip("._") or "plugin"


# --------------------------------------------------------------------------------------------------
# What each family accepts
# --------------------------------------------------------------------------------------------------


def _entry(obj: Any, spec: str, family: str) -> Any:
    if family == "optimizers":
        if isinstance(obj, type) and issubclass(obj, Optimizer):
            return _renamed(obj, spec, "update(self, params, grads, lr)")
        if is_torch_optimizer(obj):
            try:
                return adapt(obj, spec)
            except ValueError as exc:
                raise PluginError(f"{spec}: {exc}") from None
        wanted = "a subclass of optbench.Optimizer or of torch.optim.Optimizer"
    elif family == "initializers":
        if isinstance(obj, type) and issubclass(obj, Initializer):
            return _renamed(obj, spec, "scale(self, n_in, n_out)")
        wanted = "a subclass of optbench.Initializer"
    else:
        if isinstance(obj, Objective):
            return dataclasses.replace(obj, name=spec)
        wanted = "an optbench.Objective"
    raise PluginError(f"{spec}: is {_describe(obj)}, not {wanted}")


def _renamed(cls: type[Any], spec: str, method: str) -> type[Any]:
    """`cls` under the registry name `spec` (a subclass, so the plugin's own class is left as it is)."""
    if "__dataclass_fields__" not in vars(cls):  # its own decorator: a plain subclass hides its fields
        raise PluginError(f"{spec}: {cls.__name__} must be a @dataclass (its hyperparameters are its fields)")
    if inspect.isabstract(cls):
        raise PluginError(f"{spec}: {cls.__name__} does not implement {method}")
    doc = inspect.getdoc(cls) or ""
    summary = getattr(cls, "summary", None) or (doc.splitlines()[0] if doc else cls.__name__)
    namespace = {
        "name": spec,
        "summary": summary,
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
    }
    return type(cls.__name__, (cls,), namespace)


def _describe(obj: Any) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    if inspect.isfunction(obj):
        return f"the function {obj.__name__}"
    if inspect.ismodule(obj):
        return f"the module {obj.__name__}"
    return f"a {type(obj).__name__}"
