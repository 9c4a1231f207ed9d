"""Tables and report.md: what the runs of an experiment show, in numbers and in plain sentences.

Every sentence is generated from the files on disk (through `optbench.results`) and states only what
those numbers say; the report reads nothing but those files and the registries. Three studies get
sentences of their own: an experiment in which some run starts with a hidden layer of identical units
(the zero-init study) and an `optbench activations` folder, each by rules with named thresholds, and a
tuning study (`optbench tune`), whose report also writes its derived CSV files. Runs that measured
their training accuracy per epoch get the chapter's second-half sentences (batch normalisation across
weight scales, the train–test gap), and a search of one optimizer's two values the range of its
best trials.

Modules: `tables` (terminal and Markdown tables, and the formats of their cells), `variants` (numbers
per variant), `sentences` (the `Finding` type and phrasing sentences share), `findings` (an
experiment's sentences), `settings` (report.md's Settings section), `zero_init` and `activations`
(the two studies), the tuning study's `tune_numbers` (its numbers beyond the scores read),
`tune_csv` (tune.csv, trials.csv, expected_max.csv), `tune_words` (its numbers and values in words),
`tune_findings` (its sentences) and `tune_sections` (the sections of its report.md), `profile`
(index.md's performance profile of several studies), `epochs` (batch normalisation and the
train–test gap), `search_region` (where a search's good settings lie), `chapters` (the section of
chapter 6 index.md lists an experiment under), `markdown` (report.md and index.md).

Public face: `write_report`, `write_index`, `variants_table`, `findings`,
`activation_findings`, `zero_init_findings`, `tune_findings`, `write_tune_tables`, `Finding`, and the
named thresholds `FASTER_MARGIN`, `CHANCE_TOLERANCE`, `NEAR_MINIMUM`, `REFERENCE_STEP`, `SATURATED_SHARE`,
`COLLAPSE_STD`, `SHRINK_RATIO`, `GRADIENT_RATIO`, and `PROFILE_TAUS` (the τ of index.md's profile table).
"""

from __future__ import annotations

from optbench.report.activations import (
    COLLAPSE_STD,
    GRADIENT_RATIO,
    SATURATED_SHARE,
    SHRINK_RATIO,
    activation_findings,
)
from optbench.report.epochs import FASTER_MARGIN
from optbench.report.findings import NEAR_MINIMUM, findings
from optbench.report.markdown import write_index, write_report
from optbench.report.profile import PROFILE_TAUS
from optbench.report.sentences import Finding
from optbench.report.tables import variants_table
from optbench.report.tune_csv import write_tune_tables
from optbench.report.tune_findings import tune_findings
from optbench.report.variants import CHANCE_TOLERANCE
from optbench.report.zero_init import REFERENCE_STEP, zero_init_findings

__all__: list[str] = [
    "CHANCE_TOLERANCE",
    "COLLAPSE_STD",
    "FASTER_MARGIN",
    "GRADIENT_RATIO",
    "NEAR_MINIMUM",
    "PROFILE_TAUS",
    "REFERENCE_STEP",
    "SATURATED_SHARE",
    "SHRINK_RATIO",
    "Finding",
    "activation_findings",
    "findings",
    "tune_findings",
    "variants_table",
    "write_index",
    "write_report",
    "write_tune_tables",
    "zero_init_findings",
]
