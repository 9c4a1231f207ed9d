"""The relative work of a run, by which a sweep orders its runs (longest first)."""

from __future__ import annotations

from pathlib import Path

from optbench.config import RunConfig, load_experiment
from optbench.cost import estimated_cost

MLP = """experiment: costs
task: {dataset: mnist}
model: {hidden: [100, 100]}
optimizer: {name: sgd, lr: 0.01}
train: {steps: 100, batch_size: 128}
"""


def run_of(tmp_path: Path, text: str, *overrides: str) -> RunConfig:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_experiment(path, overrides).runs[0]


def test_a_function_run_costs_its_steps(tmp_path: Path) -> None:
    run = run_of(
        tmp_path,
        "experiment: f\ntask: {function: book}\noptimizer: {name: sgd, lr: 0.95}\n",
        "train.steps=30",
    )
    assert estimated_cost(run) == 30.0


def test_a_dataset_run_costs_in_proportion_to_its_steps(tmp_path: Path) -> None:
    short, long = run_of(tmp_path, MLP), run_of(tmp_path, MLP, "train.steps=300")
    assert estimated_cost(long) == 3 * estimated_cost(short)


def test_more_optimizer_state_wider_layers_and_larger_batches_cost_more(tmp_path: Path) -> None:
    base = estimated_cost(run_of(tmp_path, MLP))
    assert estimated_cost(run_of(tmp_path, MLP, "optimizer.name=adam", "optimizer.lr=0.001")) > base
    assert estimated_cost(run_of(tmp_path, MLP, "model.hidden=[200, 200]")) > base
    assert estimated_cost(run_of(tmp_path, MLP, "train.batch_size=256")) > base
