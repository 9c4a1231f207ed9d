"""A tuning study's numbers and values in words, as its sentences and tables write them: a score
(`91.88%`, `0.0213`), the change from the defaults (`+2.30 points`, `11.3 times lower`), a trial's
values against its defaults (`lr 0.0726 (default 0.001, ×72.6)`) and a search space.
"""

from __future__ import annotations

import math
from typing import Any

from optbench.report.sentences import and_list
from optbench.report.tune_numbers import improvement, loss_factor
from optbench.results import TrialResult, TuneResult
from optbench.text import format_value

SHOWN_DIGITS = 3
"""Significant digits of a hyperparameter value in a sentence or a Markdown cell."""
FACTOR_WORDS = 2.0
"""A loss that fell by this factor or more is said to be `k times lower`; by less, `p% lower`."""
MULTIPLICATIVE = ("log_uniform",)
"""Distributions whose values compare as ratios: a chosen value is also given as a factor of the default."""


def score_text(tune: TuneResult, value: float) -> str:
    """A score as a report shows it: an accuracy in percent, a loss or f to four digits."""
    if not math.isfinite(value):
        return "—"
    return f"{value:.2%}" if tune.metric == "val_acc" else f"{value:.4g}"


def change_text(tune: TuneResult, optimizer: str) -> str:
    """How much better the chosen trial is than the defaults: `+2.30 points` of accuracy, or for a loss
    its change and the factor it fell by (of f − f* for a function whose f* is not 0)."""
    gain = improvement(tune, optimizer)
    if not math.isfinite(gain):
        return "—"
    if tune.metric == "val_acc":
        return f"{gain * 100:+.2f} points"
    factor = loss_factor(tune, optimizer)
    return f"{-gain:+.4g}" + (f" (÷{factor:.3g})" if factor is not None else "")


def gain_words(tune: TuneResult, optimizer: str) -> str:
    """The change from the defaults to the choice in words: `+2.30 points`, `11.3 times lower`."""
    if tune.metric == "val_acc":
        return change_text(tune, optimizer)
    factor = loss_factor(tune, optimizer)
    if factor is None:
        return f"{-improvement(tune, optimizer):+.4g}"
    what = "f − f* " if tune.min_value not in (None, 0.0) else ""
    if factor >= FACTOR_WORDS:
        return f"{what}{factor:.3g} times lower"
    if factor > 1:
        return f"{what}{1 - 1 / factor:.1%} lower"
    return (
        f"{what}{1 / factor - 1:.1%} higher"
        if 1 / factor < FACTOR_WORDS
        else f"{what}{1 / factor:.3g} times higher"
    )


def value_text(value: Any) -> str:
    """A hyperparameter value: a float to SHOWN_DIGITS significant digits, anything else as written."""
    return f"{value:.{SHOWN_DIGITS}g}" if isinstance(value, float) else format_value(value)


def values_text(trial: TrialResult) -> str:
    """A trial's searched values: `lr=0.0726, betas.0=0.9`."""
    return ", ".join(f"{k}={value_text(v)}" for k, v in trial.params.items())


def moved_text(tune: TuneResult, optimizer: str, trial: TrialResult) -> str:
    """Each searched value of a trial against trial 0's: `lr 0.0726 (default 0.001, ×72.6)`."""
    default = tune.default(optimizer)
    base = dict(default.params) if default is not None else {}
    parts = []
    for key, value in trial.params.items():
        was = base.get(key)
        text = f"{key} {value_text(value)}"
        if was is not None and was != value:
            factor = ""
            multiplicative = tune.distribution(optimizer, key) in MULTIPLICATIVE
            if (
                multiplicative
                and isinstance(value, (int, float))
                and isinstance(was, (int, float))
                and was > 0
            ):
                factor = f", ×{value / was:.3g}"
            text += f" (default {value_text(was)}{factor})"
        elif was == value:
            text += " (its default)"
        parts.append(text)
    return and_list(parts)


def space_text(tune: TuneResult, optimizer: str) -> str:
    """An optimizer's search space: `lr ~ log_uniform[1e-05, 1], momentum ∈ {0.9, 0.99}`."""
    entry = tune.entry(optimizer)
    parts = []
    for key, dist in (entry.get("search") or {}).items():
        ((kind, args),) = dist.items()
        if kind == "choice":
            parts.append(f"{key} ∈ {{{', '.join(format_value(a) for a in args)}}}")
        else:
            parts.append(f"{key} ~ {kind}[{format_value(args[0])}, {format_value(args[1])}]")
    return ", ".join(parts)
