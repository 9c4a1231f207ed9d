"""Which section of the book's chapter 6 an experiment belongs to: index.md lists them under these.

Decided from what the runs did (their resolved configs and what they vary), never from names:
batch normalisation on in some run is 6.3; a weight penalty, dropout or a training subset is 6.4
(overfitting and its remedies); varied initial weights or activations are 6.2; the activations
experiment is 6.2; a tuning study is 6.5 (hyperparameters chosen on validation data); anything else
(optimizer paths and comparisons, learning-rate sweeps) is 6.1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optbench.plain import value_at
from optbench.results import ExperimentResult, batch_norm_on, shown_key

SECTIONS = {
    "6.1": "6.1 Updating the parameters: the optimizers",
    "6.2": "6.2 The initial weights",
    "6.3": "6.3 Batch normalisation",
    "6.4": "6.4 Regularisation: overfitting, weight decay, dropout",
    "6.5": "6.5 Validating hyperparameters",
}
"""The chapter's sections, by number, as index.md titles them."""

ACTIVATIONS_SECTION = "6.2"
"""The section of an `optbench activations` folder: the initial weights' activation distributions."""
TUNE_SECTION = "6.5"
"""The section of a tuning study: hyperparameters chosen on validation data."""
INIT_KEYS = ("model.init", "model.output_init", "model.activation")
REGULARISATION_KEYS = ("model.l2", "model.dropout")


def _regularised(config: Mapping[str, Any]) -> bool:
    """Whether a run penalised its weights, dropped units or trained on a subset of the images."""
    return (
        any(value_at(config, k) for k in REGULARISATION_KEYS)
        or value_at(config, "task.train_size") is not None
    )


def experiment_section(exp: ExperimentResult) -> str:
    """The section of a compare experiment, from its runs' configs and what it varies."""
    configs: Sequence[Mapping[str, Any]] = [r.config for r in exp.runs if r.config]
    if any(batch_norm_on(c) for c in configs):
        return "6.3"
    if any(_regularised(c) for c in configs):
        return "6.4"
    if any(shown_key(k) in INIT_KEYS for k in exp.varied):
        return "6.2"
    return "6.1"
