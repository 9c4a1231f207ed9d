"""Plugins: optimizers, initialisers and 2-D functions from outside the package.

Modules: `loading` (what `file.py:Name`, `module:Name` and entry points name, read, recorded and
loaded wherever a run executes), `torch_adapter` (any `torch.optim.Optimizer` subclass as an
optbench optimizer, over the same flat buffers; torch imported only when one is used) and
`registering` (a loaded plugin checked for its kind and added to its family's registry).
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
from optbench.plugins.registering import (
    REGISTRIES,
    all_installed,
    forget,
    install,
    install_records,
    installed,
    record,
    resolve,
    short_name,
)
from optbench.plugins.torch_adapter import TorchOptimizer, adapt, is_torch_optimizer

__all__ = [
    "FAMILIES",
    "REGISTRIES",
    "PluginCode",
    "PluginError",
    "TorchOptimizer",
    "adapt",
    "all_installed",
    "entry_point_code",
    "entry_points",
    "file_part",
    "forget",
    "install",
    "install_records",
    "installed",
    "is_spec",
    "is_torch_optimizer",
    "load",
    "read",
    "record",
    "resolve",
    "sha256_text",
    "short_name",
]
