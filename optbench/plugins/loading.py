"""Loading plugins: what a config names by `file.py:Name`, `module:Name` or an installed entry point.

Besides a registered name, every place of a config that names an optimizer, an initialiser or a 2-D
function accepts

- `path/to/file.py:Name`: a class or object defined in a Python file, the path relative to the
  config file (or absolute);
- `package.module:Name`: an object of an importable module (`torch.optim:Adamax`);
- a name that an installed package registers under the entry-point group of the family
  (`optbench.optimizers`, `optbench.initializers`, `optbench.functions`).

A file plugin is read once, by the command, and its text travels with each run's resolved config:
every worker, forked, spawned or on a Dask cluster, runs exactly the code the command read, and its
SHA-256 is part of the run's identity. A module or entry-point plugin must be installed where the run
executes; the version of the distribution that provides it is recorded with the run.

Loading a plugin runs its code, as importing any module does: name only files you trust.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import linecache
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAMILIES = ("optimizers", "initializers", "functions")
"""The families a plugin can join; each is the entry-point group `optbench.<family>`."""

KINDS = ("file", "module", "entry point")

TORCH_INSTALL = "install it with: pip install 'optbench[torch]'"


class PluginError(ValueError):
    """A plugin that cannot be loaded: one line saying why (the caller adds the file and the key)."""


@dataclass(frozen=True)
class PluginCode:
    """Where the code of a plugin comes from, as a run records it.

    `spec` is the name as the config writes it, and the name the run's resolved config gives it. A
    file plugin carries its text and the text's SHA-256; a module or entry-point plugin the
    distribution that provides it and its version (None for a module outside any distribution).
    """

    spec: str
    kind: str
    sha256: str | None = None
    source: str | None = None
    distribution: str | None = None
    version: str | None = None

    @property
    def file_name(self) -> str | None:
        """The file's name, for a file plugin."""
        path = file_part(self.spec)
        return None if path is None else Path(path).name

    @property
    def kept_name(self) -> str | None:
        """The name a copy of a file plugin's text is kept under: its stem and the start of its hash."""
        name = self.file_name
        return None if name is None or self.sha256 is None else f"{Path(name).stem}-{self.sha256[:12]}.py"

    def record(self) -> dict[str, Any]:
        """Plain data for the run's resolved config: enough for any worker to load the same code."""
        fields = {
            "kind": self.kind,
            "sha256": self.sha256,
            "source": self.source,
            "distribution": self.distribution,
            "version": self.version,
        }
        return {"spec": self.spec, **{k: v for k, v in fields.items() if v is not None}}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PluginCode:
        """The code a resolved config recorded (`record`), its text checked against its hash."""
        code = cls(
            spec=str(record["spec"]),
            kind=str(record["kind"]),
            sha256=record.get("sha256"),
            source=record.get("source"),
            distribution=record.get("distribution"),
            version=record.get("version"),
        )
        if code.kind == "file" and (code.source is None or sha256_text(code.source) != code.sha256):
            raise PluginError(f"{code.spec}: the recorded text does not match its sha256")
        return code


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_spec(name: str) -> bool:
    """Whether `name` names a plugin by file or module (it has a `:`), not by a registered name."""
    return ":" in name


def file_part(spec: str) -> str | None:
    """The path of a `file.py:Name` spec; None for a module spec."""
    where, _, _ = spec.rpartition(":")
    return where if where.endswith(".py") else None


def _split(spec: str) -> tuple[str, str]:
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise PluginError(f"{spec}: expected file.py:Name or package.module:Name")
    return where, name


# --------------------------------------------------------------------------------------------------
# Reading: the command side, where the config file is
# --------------------------------------------------------------------------------------------------


def read(spec: str, base_dir: Path | None) -> PluginCode:
    """The code `spec` names: a file's text read now (relative to `base_dir`, the config file's
    folder), or the distribution of a module; the module is not imported here."""
    where, _ = _split(spec)
    path = file_part(spec)
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_absolute() and base_dir is not None:
            file = base_dir / file
        try:
            source = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PluginError(f"{spec}: no such file: {file}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PluginError(
                f"{spec}: cannot read {file}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        return PluginCode(spec, "file", sha256=sha256_text(source), source=source)
    distribution, version = _distribution_of(where.split(".")[0])
    return PluginCode(spec, "module", distribution=distribution, version=version)


@functools.cache
def _distribution_of(top_module: str) -> tuple[str | None, str | None]:
    """The installed distribution that provides a top-level module, and its version (read once: the
    installed packages' metadata is scanned)."""
    for name in importlib.metadata.packages_distributions().get(top_module, []):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


@functools.cache
def entry_points(family: str) -> dict[str, importlib.metadata.EntryPoint]:
    """The entry points installed packages register for `family`, by name (read once per process)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=f"optbench.{family}")}


def entry_point_code(family: str, name: str) -> PluginCode | None:
    """The code of the entry point `name` of `family`, or None when no package registers it."""
    ep = entry_points(family).get(name)
    if ep is None:
        return None
    dist = ep.dist
    return PluginCode(
        name,
        "entry point",
        distribution=None if dist is None else dist.metadata["Name"],
        version=None if dist is None else dist.version,
    )


# --------------------------------------------------------------------------------------------------
# Loading: wherever the run executes
# --------------------------------------------------------------------------------------------------


_FILE_MODULES: dict[str, types.ModuleType] = {}
"""File plugins executed in this process, by the SHA-256 of their text."""


def load(code: PluginCode, family: str) -> Any:
    """The object `code` names: from the file's recorded text, an imported module, or an entry point.

    A module that fails to import is reported with the module that is really missing (a plugin's own
    import of something absent), not only the plugin's name.
    """
    if code.kind == "entry point":
        ep = entry_points(family).get(code.spec)
        if ep is None:
            raise PluginError(
                f"{code.spec}: no installed package registers it (entry points optbench.{family})"
            )
        try:
            return ep.load()
        except Exception as exc:
            raise PluginError(f"{code.spec}: entry point {ep.value} fails to load: {_reason(exc)}") from None
    where, name = _split(code.spec)
    if code.kind == "file":
        assert code.source is not None and code.sha256 is not None
        module = _file_module(code)
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise PluginError(f"{code.spec}: cannot import {where}: {_reason(exc)}") from None
    try:
        return getattr(module, name)
    except AttributeError:
        public = sorted(n for n in vars(module) if not n.startswith("_"))
        shown = ", ".join(public[:8]) + (", ..." if len(public) > 8 else "")
        raise PluginError(
            f"{code.spec}: {where} defines no {name} (it defines: {shown or 'nothing'})"
        ) from None


def _file_module(code: PluginCode) -> types.ModuleType:
    """The module of a file plugin's text, executed once per process.

    It is registered in sys.modules under a name made from its hash (dataclasses and pickle-free
    introspection look classes up there), and its lines in linecache under the file's name, so that
    a traceback from inside it shows its code on any worker.
    """
    assert code.sha256 is not None and code.source is not None
    module = _FILE_MODULES.get(code.sha256)
    if module is not None:
        return module
    filename = f"<plugin {code.file_name} {code.sha256[:12]}>"
    module = types.ModuleType(f"optbench_plugin_{code.sha256[:16]}")
    module.__file__ = filename
    linecache.cache[filename] = (len(code.source), None, code.source.splitlines(keepends=True), filename)
    sys.modules[module.__name__] = module
    try:
        exec(compile(code.source, filename, "exec"), module.__dict__)  # noqa: S102 (the user's plugin code)
    except Exception as exc:
        del sys.modules[module.__name__]
        raise PluginError(f"{code.spec}: the file fails to run: {_reason(exc)}") from None
    _FILE_MODULES[code.sha256] = module
    return module


def _reason(exc: BaseException) -> str:
    """Why loading failed, in one line: the module really missing, or the error and its message."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        if exc.name.split(".")[0] == "torch":
            return f"no module named {exc.name!r}: torch is an optional extra, {TORCH_INSTALL}"
        return f"no module named {exc.name!r}"
    # A SyntaxError's str() repeats the file's internal name and the line, given below once.
    line = str(exc.msg if isinstance(exc, SyntaxError) else exc).strip().splitlines()
    where = ""
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        where = f" (line {exc.lineno})"
    return f"{type(exc).__name__}: {line[0] if line else ''}{where}"
