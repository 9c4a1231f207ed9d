"""Any `torch.optim.Optimizer` subclass as an optbench optimizer, stepping on optbench's own buffers.

`adapt(torch_cls, spec)` makes an `Optimizer` dataclass whose hyperparameters are the torch class's
arguments, read from its signature: their defaults, a type taken from the annotation or else from the
default (float, int, bool, str, a tuple of floats) and the meaning its docstring gives. torch's
switches (`foreach`, `fused`, `capturable`, `differentiable`, `maximize`) are left out and pinned to
false: `foreach=False` runs torch's single-tensor code, the exact one. An argument with no default is
refused, except `lr` (older torch wrote `lr=required`), which gets `DEFAULT_LR`.

Each update runs the torch optimizer over the flat buffers without copying them: the parameter is a
`torch.from_numpy` view of the parameter buffer and its `.grad` a view of the gradient buffer, made
once and kept while the buffers are the same arrays. The learning rate optbench's schedule gives for
the update is set in `param_groups` before `step()`, which runs under `no_grad`; clipping has already
scaled the gradient buffer in place. The first update sets torch to one thread.

The state torch keeps lives in the torch optimizer; `state_dict` copies it out as plain arrays (see
`TorchOptimizer.state_dict` for the names), and `load_state_dict` puts it back with the same dtypes,
so that a stopped run resumes bit-identically.

torch is imported only inside these functions: optbench runs without it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import numpy as np

from optbench.hparams import hyper
from optbench.optim import Array, Optimizer

SWITCHES = ("foreach", "fused", "capturable", "differentiable", "maximize")
"""torch's implementation switches: not hyperparameters; each one the class takes is passed as False."""

DEFAULT_LR = 1e-3
"""The learning rate given to a torch class whose `lr` has no default."""

TENSOR, NUMBER, NONE, GROUP = "", "number.", "none.", "group."
"""Prefixes of the names in a state dict: a tensor of the parameter's state (under torch's name), a
Python number of it, a None of it; GROUP before either of the first two marks a value the class keeps
in its parameter group besides its arguments."""


def is_torch_optimizer(obj: object) -> bool:
    """Whether `obj` is a subclass of `torch.optim.Optimizer` (False, without importing torch, when
    torch is not loaded: then nothing can be one)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer)


def _torch() -> Any:
    """The torch module, set to one thread in the calling thread (OpenMP counts threads per thread)."""
    import torch

    torch.set_num_threads(1)
    return torch


class _Binding:
    """The torch optimizer of one adapter and the views it steps on, valid while the buffers are the same."""

    __slots__ = ("grads", "no_grad", "optimizer", "params", "tensor")

    def __init__(self, torch: Any, optimizer: Any, tensor: Any, params: Array, grads: Array) -> None:
        self.no_grad = torch.no_grad
        self.optimizer = optimizer
        self.tensor = tensor
        self.params = params
        self.grads = grads


@dataclass
class TorchOptimizer(Optimizer):
    """The base of every adapted torch class: one torch optimizer over views of optbench's buffers.

    `adapt` makes the subclasses; they declare the torch class's arguments as hyperparameters.
    """

    torch_class: ClassVar[type[Any]]
    torch_name: ClassVar[str]
    """How messages name the torch class: `torch.optim.Adam`, or its module and name."""
    whole_as_int: ClassVar[frozenset[str]] = frozenset()
    """Arguments with an unannotated int default: declared float, a whole value passed as an int."""

    _binding: _Binding | None = field(default=None, init=False, repr=False, compare=False)
    _pending: dict[str, Array] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # torch checks its arguments when the optimizer is made: made once here on a throwaway
        # parameter, a bad value is a ValueError that config validation reports.
        torch = _torch()
        self._make(torch, torch.zeros(1, dtype=torch.float64))

    def torch_arguments(self) -> dict[str, Any]:
        """The keyword arguments the torch class is made with: the hyperparameters and the pinned switches."""
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if "doc" in f.metadata:
                value = getattr(self, f.name)
                if f.name in self.whole_as_int and float(value).is_integer():
                    value = int(value)
                kwargs[f.name] = value
        accepted = inspect.signature(self.torch_class).parameters
        kwargs.update({switch: False for switch in SWITCHES if switch in accepted})
        return kwargs

    def _make(self, torch: Any, tensor: Any) -> Any:
        try:
            return self.torch_class([tensor], **self.torch_arguments())
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{self.torch_name}: {exc}") from None

    def update(self, params: Array, grads: Array, lr: float) -> float:
        binding = self._binding
        if binding is None or binding.params is not params or binding.grads is not grads:
            binding = self._bind(params, grads)
        optimizer = binding.optimizer
        optimizer.param_groups[0]["lr"] = lr
        with binding.no_grad():
            optimizer.step()
        return lr

    def _bind(self, params: Array, grads: Array) -> _Binding:
        """Views of new buffers: the torch optimizer is made on the first update, and keeps its state
        (moved to the new parameter view) when the buffers change."""
        torch = _torch()
        binding = self._binding
        if binding is not None and binding.params is params:
            binding.tensor.grad = torch.from_numpy(grads)
            binding.grads = grads
            return binding
        tensor = torch.from_numpy(params)
        tensor.grad = torch.from_numpy(grads)
        if binding is None:
            binding = _Binding(torch, self._make(torch, tensor), tensor, params, grads)
        else:
            optimizer = binding.optimizer
            optimizer.param_groups[0]["params"] = [tensor]
            if binding.tensor in optimizer.state:
                optimizer.state[tensor] = optimizer.state.pop(binding.tensor)
            binding.tensor, binding.params, binding.grads = tensor, params, grads
        self._binding = binding
        if self._pending is not None:
            _restore(torch, binding.optimizer, tensor, self._pending)
            self._pending = None
        return binding

    def init_state(self, params: Array) -> dict[str, Array]:
        """Nothing: the torch optimizer keeps the state, and `state_dict` reads it from there."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The update count and copies of torch's state, as plain arrays.

        Each tensor in the parameter's state is saved under torch's name with its dtype and shape
        (`exp_avg`; `step`, which torch keeps as a float32 scalar tensor); a Python number under
        `number.<name>` (0-d int64, float64 or bool); a None under `none.<name>` (empty). A tensor or
        number the class keeps in its parameter group, besides its arguments, gets `group.` before
        its name.
        """
        if self._binding is not None:
            state = _plain(self._binding.optimizer, self._binding.tensor, self.torch_name)
        else:
            state = {key: value.copy() for key, value in (self._pending or {}).items()}
        return {"name": self.name, "t": self.t, "state": state}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Continue from `saved`: torch's state is put back at once, or made on the next update."""
        super().load_state_dict(saved)
        pending, self.state = self.state, {}
        if self._binding is not None:
            _restore(_torch(), self._binding.optimizer, self._binding.tensor, pending)
        else:
            self._pending = pending


def _plain(optimizer: Any, tensor: Any, owner: str) -> dict[str, Array]:
    """The torch optimizer's state for `tensor` (and its group's own values) as named plain arrays."""
    torch = _torch()
    saved: dict[str, Array] = {}
    for key, value in optimizer.state.get(tensor, {}).items():
        name, array = _plain_value(torch, key, value, owner)
        saved[name] = array
    group = optimizer.param_groups[0]
    arguments = inspect.signature(type(optimizer)).parameters
    for key, value in group.items():
        if key != "params" and key not in arguments and isinstance(value, (int, float, torch.Tensor)):
            name, array = _plain_value(torch, key, value, owner)
            saved[GROUP + name] = array
    return saved


def _plain_value(torch: Any, key: Any, value: Any, owner: str) -> tuple[str, Array]:
    if isinstance(value, torch.Tensor):
        return TENSOR + str(key), value.detach().cpu().numpy().copy()
    if isinstance(value, (bool, int, float)):
        return NUMBER + str(key), np.array(value)
    if value is None:
        return NONE + str(key), np.zeros(0)
    raise ValueError(
        f"{owner} keeps {key!r} in its state as {type(value).__name__}, which a checkpoint cannot hold"
    )


def _restore(torch: Any, optimizer: Any, tensor: Any, saved: dict[str, Array]) -> None:
    """Put `saved` (as `_plain` wrote it) back into the torch optimizer's state for `tensor`."""
    state: dict[str, Any] = {}
    group = optimizer.param_groups[0]
    for name, array in saved.items():
        target, key = (group, name.removeprefix(GROUP)) if name.startswith(GROUP) else (state, name)
        if key.startswith(NUMBER):
            target[key.removeprefix(NUMBER)] = array[()].item()
        elif key.startswith(NONE):
            target[key.removeprefix(NONE)] = None
        else:
            target[key] = torch.from_numpy(np.array(array, copy=True))
    optimizer.state[tensor] = state


# --------------------------------------------------------------------------------------------------
# Making the class
# --------------------------------------------------------------------------------------------------

_ADAPTED: dict[tuple[type[Any], str], type[Optimizer]] = {}


def adapt(torch_cls: type, spec: str) -> type[Optimizer]:
    """An optbench optimizer class, registered nowhere, named `spec`, that runs `torch_cls`.

    ValueError, with the reason, for a class that is not a torch optimizer, needs a closure (LBFGS),
    has an argument without a default (other than `lr`) or named like an attribute of `Optimizer`,
    takes no `lr`, or fails to step on a flat parameter vector (SparseAdam, Muon).
    """
    known = _ADAPTED.get((torch_cls, spec))
    if known is not None:
        return known
    torch = _torch()
    if not (isinstance(torch_cls, type) and issubclass(torch_cls, torch.optim.Optimizer)):
        raise ValueError(f"{spec} is not a subclass of torch.optim.Optimizer")
    owner = _display_name(torch, torch_cls)
    _refuse_closures(torch_cls, owner)
    declared, whole_as_int = _declared_arguments(torch_cls, owner)
    doc = inspect.getdoc(torch_cls) or ""
    first_line = doc.splitlines()[0].strip().rstrip(".") if doc else f"the torch optimizer {owner}"
    namespace = {
        "name": spec,
        "summary": f"{first_line} ({owner})",
        "torch_class": torch_cls,
        "torch_name": owner,
        "whole_as_int": frozenset(whole_as_int),
        "__doc__": f"{owner} run by optbench over its flat buffers (see optbench.plugins.torch_adapter).",
        "__module__": __name__,
    }
    adapted = dataclasses.make_dataclass(
        f"Torch{torch_cls.__name__}", declared, bases=(TorchOptimizer,), namespace=namespace
    )
    _probe(torch, cast(type[TorchOptimizer], adapted), owner)
    _ADAPTED[(torch_cls, spec)] = adapted
    return cast(type[Optimizer], adapted)


def _display_name(torch: Any, torch_cls: type) -> str:
    if getattr(torch.optim, torch_cls.__name__, None) is torch_cls:
        return f"torch.optim.{torch_cls.__name__}"
    return f"{torch_cls.__module__}.{torch_cls.__qualname__}"


def _refuse_closures(torch_cls: type[Any], owner: str) -> None:
    step = inspect.signature(torch_cls.step).parameters
    closure = step.get("closure")
    if closure is not None and closure.default is inspect.Parameter.empty:
        raise ValueError(
            f"{owner} needs a closure in step() (it evaluates the loss again within an update); "
            "optbench gives one gradient per update"
        )


def _declared_arguments(torch_cls: type, owner: str) -> tuple[list[tuple[str, Any, Any]], list[str]]:
    """The (name, type, field) of each hyperparameter, and those whose whole values go as ints."""
    import torch.optim.optimizer as torch_optimizer

    required = getattr(torch_optimizer, "required", inspect.Parameter.empty)
    try:
        signature = inspect.signature(torch_cls, eval_str=True)
    except (NameError, SyntaxError, TypeError):
        signature = inspect.signature(torch_cls)
    meanings = _argument_meanings(inspect.getdoc(torch_cls) or "")
    own = {f.name for f in dataclasses.fields(Optimizer)} | set(dir(Optimizer))
    declared: list[tuple[str, Any, Any]] = []
    whole_as_int: list[str] = []
    arguments = list(signature.parameters.values())[1:]  # the first takes the parameters
    for param in arguments:
        if param.name in SWITCHES or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.kind is param.POSITIONAL_ONLY:
            raise ValueError(f"{owner} takes {param.name!r} by position only; optbench passes keywords")
        if param.name != "lr" and (param.name in own or param.name.startswith("_")):
            raise ValueError(f"{owner}'s argument {param.name!r} has the name of an attribute of Optimizer")
        default = param.default
        no_default = default is inspect.Parameter.empty or default is required
        if no_default and param.name != "lr":
            raise ValueError(f"{owner}'s argument {param.name!r} has no default, which optbench needs")
        meaning = meanings.get(param.name)
        where = f"argument of {owner}"
        if no_default:
            default = DEFAULT_LR
            where += f", which has no default (optbench's: {DEFAULT_LR:g})"
        typed = _typed(param.annotation, default)
        if typed is None:
            continue  # a default no config can spell (a callable, say): torch's stays
        hint, value, as_int = typed
        if as_int:
            whole_as_int.append(param.name)
        doc = f"{meaning} ({where})" if meaning else where
        declared.append((param.name, hint, hyper(value, doc)))
    if "lr" not in {name for name, _, _ in declared}:
        raise ValueError(f"{owner} takes no lr, which optbench's schedules set through param_groups")
    return declared, whole_as_int


def _mentions(annotation: Any) -> set[str]:
    """The simple type names an annotation mentions (float, int, bool, str, None, Tensor, tuple)."""
    if annotation is inspect.Parameter.empty:
        return set()
    if isinstance(annotation, str):
        return set(re.findall(r"\b(float|int|bool|str|None|Tensor|tuple|Tuple)\b", annotation))
    if annotation is None or annotation is type(None):
        return {"None"}
    found = {annotation.__name__} if isinstance(annotation, type) else set()
    for arg in typing.get_args(annotation):
        found |= _mentions(arg)
    origin = typing.get_origin(annotation)
    if origin is tuple:
        found.add("tuple")
    return found


SCALARS: dict[str, type] = {"float": float, "int": int, "bool": bool, "str": str}


def _typed(annotation: Any, default: Any) -> tuple[Any, Any, bool] | None:
    """(type hint, default as declared, whole values passed as ints) for one argument, or None when
    its default is of no kind a config can give."""
    named = _mentions(annotation)
    if isinstance(default, bool):
        return bool, default, False
    if isinstance(default, int):
        if "int" in named and "float" not in named:
            return int, default, False
        return float, float(default), not named & {"float", "Tensor"}
    if isinstance(default, float):
        return float, default, False
    if isinstance(default, str):
        return str, default, False
    if default is None:
        kinds = [SCALARS[n] for n in ("float", "int", "bool", "str") if n in named]
        if len(kinds) == 1 and not (kinds[0] is int and "float" in named):
            return kinds[0] | None, None, False
        return None
    if isinstance(default, (tuple, list)) and default:
        hints: list[Any] = []
        for item in default:
            if item is None:
                hints.append(float | None)
            elif isinstance(item, (int, float)) and not isinstance(item, bool) and math.isfinite(item):
                hints.append(float)
            else:
                return None
        value = tuple(None if item is None else float(item) for item in default)
        return types.GenericAlias(tuple, tuple(hints)), value, False
    return None


def _argument_meanings(doc: str) -> dict[str, str]:
    """Each argument's meaning from the `Args:` section of a docstring in torch's (Google) style:
    its first sentence, without the default, on one line."""
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if re.fullmatch(r"\s*(Args|Arguments):\s*", line)), None)
    if start is None:
        return {}
    header = _indent(lines[start])
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    entry_indent: int | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        indent = _indent(line)
        if indent <= header:
            break
        entry_indent = indent if entry_indent is None else entry_indent
        match = re.fullmatch(r"\s*(\w+)\s*(?:\([^:]*\))?\s*:\s*(.*)", line)
        if indent == entry_indent and match:
            current = entries[match[1]] = [match[2]]
        elif current is not None and indent > entry_indent:
            current.append(line.strip())
    meanings = {name: _first_sentence(" ".join(text)) for name, text in entries.items()}
    return {name: meaning for name, meaning in meanings.items() if meaning}


MEANING_MAX = 140
"""A meaning longer than this (characters) is not taken: it would not fit `optbench list`'s line."""


def _first_sentence(text: str) -> str:
    text = re.sub(r":\w+:`([^`]*)`", r"\1", text)  # :math:`\beta` -> \beta
    text = re.sub(r"`([^`]*)`_?", r"\1", text).replace("``", "")
    text = re.split(r"\(default[s]?\s*[:=]", text, maxsplit=1)[0]
    text = re.split(r"(?<=[a-z0-9)\]])\.\s", text + " ", maxsplit=1)[0]
    text = " ".join(text.split()).rstrip(" .,;")
    return text if len(text) <= MEANING_MAX else ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


PROBE_SIZE = 2


def _probe(torch: Any, adapted: type[TorchOptimizer], owner: str) -> None:
    """One update with the defaults on a small flat vector: a class that cannot step there is refused
    now, with torch's reason, rather than inside a run."""
    try:
        optimizer = cast(Callable[[], TorchOptimizer], adapted)()
        optimizer.step(np.ones(PROBE_SIZE), np.ones(PROBE_SIZE))
    except Exception as exc:  # whatever the class raises is its reason for refusing the buffer
        reason = str(exc).removeprefix(f"{owner}: ")
        raise ValueError(f"{owner} cannot step on optbench's flat parameter buffer: {reason}") from None
