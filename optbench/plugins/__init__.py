"""Plugins: optimizers from outside optbench's catalogue.

- `adapt(torch_cls, spec)`: any `torch.optim.Optimizer` subclass as an optbench `Optimizer`, stepping
  on optbench's flat buffers (`torch_adapter`; torch is needed only when a torch class is adapted);
- `is_torch_optimizer(obj)`: whether an object is such a class, without importing torch;
- `TorchOptimizer`: the base of the adapted classes.

Callers import from this package, not from its modules.
"""

from optbench.plugins.torch_adapter import TorchOptimizer, adapt, is_torch_optimizer

__all__ = ["TorchOptimizer", "adapt", "is_torch_optimizer"]
