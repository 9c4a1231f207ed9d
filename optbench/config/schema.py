"""The schema of a config: one frozen dataclass per section, a resolved run, an experiment.

Every section is a frozen dataclass whose fields are declared with `hyper` (meaning and range), like
the hyperparameters of optimizers, schedules and initialisers; one converter (`fields.py`) checks
all of them. The constants here say which keys and choices a config may use.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from optbench.config.serialise import run_id
from optbench.hparams import (
    AT_LEAST_ONE,
    NON_NEGATIVE,
    POSITIVE,
    UNIT_INTERVAL_OPEN_TOP,
    Bounds,
    hyper,
    hyperparameters,
)
from optbench.init import INITIALIZERS, Initializer
from optbench.nn import BATCH_NORM_EPS, BATCH_NORM_MOMENTUM
from optbench.optim import OPTIMIZERS, SCHEDULES, Optimizer, Schedule

DTYPES = ("float32", "float64")
SAMPLINGS = ("epoch", "replacement")


@dataclass(frozen=True)
class TaskConfig:
    """What is optimised: a dataset (with the MLP of `model`) or a 2-D function."""

    dataset: str | None = hyper(None, "dataset to train on (see `optbench list datasets`)")
    function: str | None = hyper(None, "2-D function to minimise (see `optbench list functions`)")
    data_dir: str | None = hyper(None, "folder with the four MNIST-layout IDX files; default: the cache")
    start: tuple[float, float] | None = hyper(None, "starting point (x, y) of a function task")
    validation: int = hyper(
        10000, "training images held out for validation (0: train on all, as the book does)", NON_NEGATIVE
    )
    split_seed: int = hyper(0, "seed of the validation split, shared by every run", NON_NEGATIVE)
    train_size: int | None = hyper(
        None,
        "train on the first N training images left after the validation split (null: all of them)",
        AT_LEAST_ONE,
    )

    @property
    def kind(self) -> Literal["dataset", "function"]:
        return "function" if self.function is not None else "dataset"


@dataclass(frozen=True)
class BatchNormSettings:
    """`model.batch_norm` when on: the settings of every batch-normalisation layer (`optbench.nn.BatchNorm`).

    A config writes `true` for these defaults (the book's) or a mapping with any of the keys."""

    config_spelling = "bool | {momentum, eps, unbiased}"
    """How `optbench list keys` names the type of `model.batch_norm`."""

    momentum: float = hyper(
        BATCH_NORM_MOMENTUM,
        "weight of a batch's statistics in the running ones (torch's convention; the book's 0.9 is 1 - this)",
        Bounds(0.0, 1.0, low_inclusive=False),
    )
    eps: float = hyper(BATCH_NORM_EPS, "added to the variance under the square root (torch: 1e-5)", POSITIVE)
    unbiased: bool = hyper(
        False, "running variance unbiased, B/(B-1) times the batch's (torch), or biased (book)"
    )


@dataclass(frozen=True)
class ModelConfig:
    """The MLP of a dataset task."""

    hidden: tuple[int, ...] = hyper((100, 100, 100, 100), "sizes of the hidden layers", AT_LEAST_ONE)
    activation: str = hyper("relu", "activation between layers (see `optbench list activations`)")
    init: Initializer = hyper(None, "weight initialiser: a name or {name: ..., std: ...}")
    output_init: Initializer | None = hyper(None, "initialiser of the last layer (null: as init)")
    dtype: str = hyper("float32", "float32 or float64")
    batch_norm: BatchNormSettings | None = hyper(
        None, "batch normalisation after each hidden affine layer, before its activation (false: none)"
    )
    dropout: float = hyper(
        0.0,
        "probability of dropping each hidden unit in training (inverted dropout; 0: none)",
        UNIT_INTERVAL_OPEN_TOP,
    )
    inverted_dropout: bool = hyper(
        True,
        "dropout scales kept units by 1/(1-p) in training (torch); false: all by 1-p in evaluation (book)",
    )
    l2: float = hyper(
        0.0, "weight penalty λ: ½λΣW² over the weight matrices (not biases) added to the loss", NON_NEGATIVE
    )


@dataclass(frozen=True)
class OptimizerSection:
    """The keys of the `optimizer:` section beside the optimizer's own hyperparameters."""

    name: str = hyper("sgd", "optimizer (see `optbench list optimizers`); its hyperparameters are keys here")
    schedule: Schedule | None = hyper(
        None, "learning-rate schedule: a name or {name: ..., ...} (see `optbench list schedules`)"
    )
    clip_norm: float | None = hyper(
        None, "clip the gradient's global norm to this (null: no clipping)", POSITIVE
    )


@dataclass(frozen=True)
class OptimizerConfig:
    """The optimizer, its hyperparameters (every one, defaults filled in), schedule and clipping."""

    name: str
    hyper: Mapping[str, Any]
    schedule: Schedule
    clip_norm: float | None

    def build(self) -> Optimizer:
        return OPTIMIZERS[self.name](**self.hyper, schedule=self.schedule, clip_norm=self.clip_norm)

    @property
    def lr(self) -> float:
        return float(self.hyper["lr"])


@dataclass(frozen=True)
class TrainConfig:
    """How long and how to train."""

    steps: int = hyper(2000, "number of updates (null when train.epochs gives them)", AT_LEAST_ONE)
    epochs: int | None = hyper(
        None,
        "train this many epochs instead of train.steps; an epoch is max(N // batch_size, 1) updates",
        AT_LEAST_ONE,
    )
    batch_size: int = hyper(128, "examples per minibatch (dataset tasks)", AT_LEAST_ONE)
    eval_every: int | Literal["epoch"] = hyper(
        100, "updates between evaluations, or `epoch`: once per epoch (dataset tasks)", AT_LEAST_ONE
    )
    seed: int = hyper(0, "seed of the initial weights and the minibatch order", NON_NEGATIVE)
    sampling: str = hyper("epoch", "epoch: a fresh permutation per epoch; replacement: draw with replacement")
    init_seed: int | None = hyper(None, "seed of the initial weights (null: train.seed)", NON_NEGATIVE)
    data_seed: int | None = hyper(None, "seed of the minibatch order (null: train.seed)", NON_NEGATIVE)
    checkpoint_every: int | None = hyper(
        500, "steps between checkpoints a stopped run resumes from (null: none)", AT_LEAST_ONE
    )
    keep_checkpoint: bool = hyper(False, "keep a run's last checkpoint once it has finished")

    @property
    def counts_epochs(self) -> bool:
        """Whether the run counts its progress in epochs (train.epochs, or evaluations per epoch)."""
        return self.epochs is not None or self.eval_every == "epoch"

    @property
    def seeds(self) -> tuple[int, int]:
        """(seed of the initial weights, seed of the minibatch order): each train.seed unless set."""
        init = self.seed if self.init_seed is None else self.init_seed
        return init, self.seed if self.data_seed is None else self.data_seed


@dataclass(frozen=True)
class RunConfig:
    """One fully resolved run: everything that determines its numbers."""

    experiment: str
    task: TaskConfig
    model: ModelConfig | None
    optimizer: OptimizerConfig
    train: TrainConfig

    @functools.cached_property
    def run_id(self) -> str:
        """Computed once: a sweep asks for it at every step of its bookkeeping."""
        return run_id(self)


@dataclass(frozen=True)
class ReportConfig:
    """How the report of an experiment reads its numbers (no effect on the runs or their ids)."""

    target_accuracy: float = hyper(
        0.97, "held-out accuracy that defines time to target (AlgoPerf style)", Bounds(0.0, 1.0, False, True)
    )


@dataclass(frozen=True)
class Experiment:
    """A loaded config file: its runs, in order, and the dotted keys whose values differ between them."""

    name: str
    source: str
    description: str
    runs: tuple[RunConfig, ...]
    varied: tuple[str, ...] = field(default=())
    overridden: tuple[tuple[str, Any, Any], ...] = ()
    """(dotted key, the value in the file or None, the value used) of every KEY=VALUE override."""
    notes: tuple[str, ...] = ()
    """What the loader changed that the user may not expect (a grid axis replacing a runs value,
    entries that give the same run), one line each; the CLI prints them."""
    command: str = ""
    """The command line that loaded it (set by the CLI), recorded in experiment.yaml and the report."""
    labels: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Columns of summary.csv beyond the config's, by run id (a tune's trial and role)."""
    study: Mapping[str, Any] | None = None
    """A tuning study's spec and trial table, as plain data, recorded in experiment.yaml."""
    report: ReportConfig = field(default_factory=ReportConfig)
    """The config's `report:` section, recorded in experiment.yaml for the report."""

    def first_only(self) -> Experiment:
        """The experiment reduced to its first run (what `optbench train` runs)."""
        return dataclasses.replace(self, runs=self.runs[:1], varied=(), notes=())


TOP_LEVEL_KEYS = (
    "experiment",
    "description",
    "label",
    "task",
    "model",
    "optimizer",
    "train",
    "runs",
    "grid",
    "report",
)

SECTIONS: dict[str, type] = {
    "task": TaskConfig,
    "model": ModelConfig,
    "optimizer": OptimizerSection,
    "train": TrainConfig,
    "report": ReportConfig,
}
"""The sections of an experiment config, each a dataclass whose fields are declared with `hyper`."""


def nested_keys() -> list[str]:
    """Every dotted key inside the sections: their declared fields, then each optimizer hyperparameter."""
    keys = [f"{section}.{p.name}" for section, cls in SECTIONS.items() for p in hyperparameters(cls)]
    names = dict.fromkeys(p.name for cls in OPTIMIZERS.values() for p in hyperparameters(cls))
    return keys + [f"optimizer.{name}" for name in names if f"optimizer.{name}" not in keys]


NAMED_SECTIONS: dict[str, Mapping[str, type]] = {
    "optimizer": OPTIMIZERS,
    "optimizer.schedule": SCHEDULES,
    "model.init": INITIALIZERS,
    "model.output_init": INITIALIZERS,
}
"""Sections chosen by `name`. Changing the name in a run, grid or override drops the hyperparameters
of the previous choice, so that {name: sgd} after a base of adam does not inherit adam's betas."""

DEFAULT_INIT = "he"
DEFAULT_OPTIMIZER = OptimizerSection.name
DEFAULT_SCHEDULE = "constant"
