"""Plugins: optimizers, initialisers and 2-D functions from outside the package.

Modules: `loading` (what `file.py:Name`, `module:Name` and entry points name, read, recorded and
loaded wherever a run executes).
"""

from optbench.plugins.loading import (
    FAMILIES,
    PluginCode,
    PluginError,
    entry_point_code,
    entry_points,
    file_part,
    is_spec,
    load,
    read,
    sha256_text,
)

__all__ = [
    "FAMILIES",
    "PluginCode",
    "PluginError",
    "entry_point_code",
    "entry_points",
    "file_part",
    "is_spec",
    "load",
    "read",
    "sha256_text",
]
