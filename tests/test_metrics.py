"""The rows a run writes: every value lands under the column of its name."""

from __future__ import annotations

import dataclasses

from optbench.metrics import DATASET_COLUMNS, NO_EVALUATION, Evaluation, MetricRow


def test_each_value_of_a_metric_row_sits_under_the_column_named_for_it() -> None:
    evaluation = Evaluation(val_loss=0.5, val_acc=0.9, test_loss=0.6, test_acc=0.8)
    row = MetricRow(step=7, epoch=0.25, train_loss=1.5, lr=0.01, elapsed_s=3.0).evaluated(evaluation)
    named = dict(zip(DATASET_COLUMNS, row.values(), strict=True))
    expected = {f.name: getattr(row, f.name) for f in dataclasses.fields(row) if f.name != "evaluation"}
    expected.update(dataclasses.asdict(evaluation))
    assert named == expected


def test_a_row_without_an_evaluation_leaves_its_columns_empty() -> None:
    row = MetricRow(step=1, epoch=0.0, train_loss=2.3, lr=None, elapsed_s=0.1)
    assert row.evaluation == NO_EVALUATION
    named = dict(zip(DATASET_COLUMNS, row.values(), strict=True))
    assert [named[k] for k in ("val_loss", "val_acc", "test_loss", "test_acc", "lr")] == [None] * 5
