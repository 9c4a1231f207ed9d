"""Colour and line-style policy of every figure: one colour per optimizer or initialiser, shades for the rest.

Colours (the same in every figure):
- each optimizer name has one fixed colour, `OPTIMIZER_COLORS` (Okabe–Ito and Tol palettes, safe for
  colour-blind readers; the lecture's five get the five most distinct); unknown names get a colour
  from `FALLBACK_COLORS` chosen by a hash of the name, the same in every process;
- when all variants share one optimizer and differ in their initialiser, colour is by init name,
  `INIT_COLORS`, instead, and a line style per activation (`ACTIVATION_LINE_STYLES`) if that differs
  too; when they differ in optimizer and init, colour stays with the optimizer and each init name
  gets a line style (in the order of the init registry);
- variants left with the same colour and line style (a learning-rate sweep) get shades of it,
  lightest for the smallest learning rate, then the smallest init std, then by label;
- the cases of the activation-distribution experiment are coloured by init name (INIT_COLORS), with
  a line style and marker per activation and shades for cases that share both (std=1 and std=0.01).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from optbench.init import INITIALIZERS
from optbench.plain import value_at
from optbench.results import ActivationCaseResult, Variant

OPTIMIZER_COLORS: dict[str, str] = {
    # the lecture's five: black for the SGD baseline, then Okabe–Ito blue, bluish green, reddish purple
    # and vermillion (Okabe–Ito orange is left out: next to vermillion it is the palette's weakest pair)
    "sgd": "#000000",
    "momentum": "#0072B2",
    "adagrad": "#009E73",
    "rmsprop": "#CC79A7",
    "adam": "#D55E00",
    # the others: Okabe–Ito sky blue (Nesterov, beside Momentum's blue) and orange, Paul Tol's muted scheme
    "nesterov": "#56B4E9",
    "lion": "#E69F00",
    "adamw": "#882255",
    "nadam": "#CC6677",
    "radam": "#999933",
    "adadelta": "#44AA99",
    "adamax": "#332288",
}
"""One colour per optimizer name, used by every figure. The lecture's five are at least 50 apart in
CIELAB ΔE (over 25 for a simulated deuteranope)."""

INIT_COLORS: dict[str, str] = {
    # the lecture's three (std=0.01, Xavier, He): Tol vibrant orange, blue, teal
    "normal": "#EE7733",
    "xavier": "#0077BB",
    "he": "#009988",
    "zeros": "#555555",
    "uniform": "#CCBB44",
    "xavier_uniform": "#33BBEE",
    "glorot": "#AA3377",
    "glorot_uniform": "#EE3377",
    "he_uniform": "#117733",
}
"""One colour per initialiser name, for figures whose variants differ only in their init."""

FALLBACK_COLORS = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB", "#117733")
"""Paul Tol's bright scheme (and one green), for names registered after this table was written."""

LINE_STYLES = ("-", "--", ":", "-.")

ACTIVATION_LINE_STYLES = {"sigmoid": "-", "relu": "--", "tanh": ":"}
"""Line style of each activation where figures colour by init and the activation varies too
(gradients.png, a zero-init study with sigmoid and ReLU); others are dash-dotted."""

SHADE_LIGHTEST = 0.45
"""The lightest shade mixes this fraction of white into the colour."""
SHADE_DARKEST = 0.35
"""The darkest shade mixes this fraction of black into the colour."""


def _fallback(name: str) -> str:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return FALLBACK_COLORS[digest[0] % len(FALLBACK_COLORS)]


def optimizer_color(name: str) -> str:
    """The colour of an optimizer in every figure: OPTIMIZER_COLORS, or a stable fallback."""
    return OPTIMIZER_COLORS.get(name) or _fallback(name)


def init_color(name: str) -> str:
    """The colour of an initialiser when figures colour by init: INIT_COLORS, or a stable fallback."""
    return INIT_COLORS.get(name) or _fallback(name)


def _rgb(color: str) -> tuple[float, float, float]:
    h = color.lstrip("#")
    return int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(min(1.0, max(0.0, c)) * 255):02X}" for c in rgb)


def shade(color: str, index: int, count: int) -> str:
    """Shade `index` of `count` shades of a colour, from light (0) to dark (count − 1); 1 shade is the colour.

    The shades run from SHADE_LIGHTEST white mixed in to SHADE_DARKEST black, the black scaled by the
    colour's brightness (its largest channel): black has no darker shade, so its shades are greys.
    """
    if count <= 1:
        return color
    rgb = _rgb(color)
    darkest = SHADE_DARKEST * max(rgb)
    amount = SHADE_LIGHTEST - (SHADE_LIGHTEST + darkest) * index / (count - 1)
    if amount >= 0:
        return _hex([c + (1.0 - c) * amount for c in rgb])
    return _hex([c * (1.0 + amount) for c in rgb])


@dataclass(frozen=True)
class Style:
    color: str
    linestyle: str = "-"


def _init_json(variant: Variant) -> str:
    return json.dumps(variant.init, sort_keys=True)


def _init_order(name: str) -> int:
    names = list(INITIALIZERS)
    return names.index(name) if name in names else len(names)


def _shade_key(variant: Variant) -> tuple[float, float, str]:
    std = value_at(variant.config, "model.init.std")
    return variant.lr, float(std) if isinstance(std, (int, float)) else 0.0, variant.label


def variant_styles(variants: Sequence[Variant]) -> list[Style]:
    """The colour and line style of each variant, by the rule in this module's docstring."""
    optimizers = {v.optimizer for v in variants}
    inits_differ = len({_init_json(v) for v in variants}) > 1
    by_init = inits_differ and len(optimizers) == 1
    init_styles: dict[str, str] = {}
    if inits_differ and not by_init:
        names = sorted({v.runs[0].init_name or "" for v in variants}, key=lambda n: (_init_order(n), n))
        init_styles = {n: LINE_STYLES[i % len(LINE_STYLES)] for i, n in enumerate(names)}
    by_activation = by_init and len({_activation(v) for v in variants}) > 1
    base = []
    for v in variants:
        color = init_color(v.runs[0].init_name or "") if by_init else optimizer_color(v.optimizer)
        if by_activation:
            linestyle = ACTIVATION_LINE_STYLES.get(_activation(v), "-.")
        else:
            linestyle = init_styles.get(v.runs[0].init_name or "", "-")
        base.append(Style(color, linestyle))
    return _shaded(base, [_shade_key(v) for v in variants])


def _activation(variant: Variant) -> str:
    return str(value_at(variant.config, "model.activation") or "")


def _shaded(base: Sequence[Style], keys: Sequence[Any]) -> list[Style]:
    """Styles shared by several items become shades of their colour, lightest for the smallest key."""
    styles = list(base)
    for style in set(base):
        members = sorted((i for i, s in enumerate(base) if s == style), key=lambda i: keys[i])
        for rank, i in enumerate(members):
            styles[i] = Style(shade(style.color, rank, len(members)), style.linestyle)
    return styles


BATCH_NORM_LINE_STYLE = "-."
"""The line of an activation case with batch normalisation: dash-dot, apart from the lecture's
activations' own styles."""


def activation_case_styles(cases: Sequence[ActivationCaseResult]) -> list[Style]:
    """Colour by init name (INIT_COLORS), line style by activation (dash-dot with batch
    normalisation, `BATCH_NORM_LINE_STYLE`); cases left alike (std=1 and std=0.01 of one activation)
    get shades of their colour, lightest for the smallest std."""
    base = [
        Style(
            init_color(c.init_name),
            BATCH_NORM_LINE_STYLE if c.batch_norm else ACTIVATION_LINE_STYLES.get(c.activation, "-."),
        )
        for c in cases
    ]
    keys = []
    for c in cases:
        std = c.init.get("std")
        keys.append((float(std) if isinstance(std, (int, float)) else 0.0, c.label))
    return _shaded(base, keys)
