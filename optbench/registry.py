"""One registry helper for every family a config can name: optimizers, schedules, initialisers,
activations, functions and datasets.

Each family is a `Registry`: entries found by name, in the order they were registered. Config
validation, `optbench list`, the figures and the tests all read the registries, so a new entry is
one definition registered once, and nothing else needs editing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, Protocol, TypeVar


class Named(Protocol):
    """What every entry has: the name configs use and a one-line summary for `optbench list`."""

    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str: ...


T = TypeVar("T", bound=Named)


class Registry(Mapping[str, T], Generic[T]):
    """The entries of one family by name; `register` adds one (and can decorate a class)."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: dict[str, T] = {}
        self.plugins: set[str] = set()
        """The names of the entries that plugins added (`register_plugin`)."""

    def register(self, entry: T) -> T:
        if entry.name in self._entries:
            raise ValueError(f"{self.family} {entry.name!r} is registered twice")
        self._entries[entry.name] = entry
        return entry

    def register_plugin(self, name: str, entry: T) -> T:
        """Add a plugin's entry under the name a config gives it (`file.py:Name`, `module:Name` or an
        entry point's name); a plugin loaded again under the same name (its file changed) replaces
        the earlier one, a built-in entry is never replaced."""
        if name in self._entries and name not in self.plugins:
            raise ValueError(f"{self.family} {name!r} is built in; a plugin cannot replace it")
        self._entries[name] = entry
        self.plugins.add(name)
        return entry

    def forget_plugins(self) -> None:
        """Remove every entry plugins added: the built-ins alone remain."""
        for name in self.plugins:
            del self._entries[name]
        self.plugins.clear()

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.family!r}: {', '.join(self._entries)})"
