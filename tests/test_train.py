"""The training loop's seeds and the validation split: what each seed controls, and the held-out images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optbench import train
from optbench.config import load_experiment
from optbench.data import Dataset, split_rows
from optbench.engine import Engine
from optbench.results import group_variants, read_experiment
from optbench.runner import run_experiment


def test_the_weights_come_from_the_init_seed_and_the_batches_from_the_data_seed() -> None:
    init_a, data_a = train.seeded_generators(1, 2)
    init_b, data_b = train.seeded_generators(1, 3)
    init_c, data_c = train.seeded_generators(4, 2)
    assert init_a.random() == init_b.random() and data_a.random() == data_c.random()
    assert data_a.bit_generator.state != data_b.bit_generator.state
    assert init_c.random() != train.seeded_generators(1, 2)[0].random()


def test_one_seed_gives_the_streams_a_run_had_before_the_seeds_were_separated() -> None:
    """init_seed = data_seed = seed reproduces the two children of SeedSequence(seed)."""
    first, second = np.random.SeedSequence(7).spawn(2)
    init, data = train.seeded_generators(7)
    assert init.random() == np.random.default_rng(first).random()
    assert data.random() == np.random.default_rng(second).random()


def test_a_split_holds_out_the_same_rows_for_any_run_and_leaves_the_rest_in_order() -> None:
    train_rows, val_rows = split_rows(100, 20, seed=5)
    assert len(val_rows) == 20 and len(train_rows) == 80
    assert sorted({*train_rows.tolist(), *val_rows.tolist()}) == list(range(100))
    assert np.all(np.diff(train_rows) > 0) and np.all(np.diff(val_rows) > 0)
    again, _ = split_rows(100, 20, seed=5)
    assert np.array_equal(again, train_rows)
    assert not np.array_equal(split_rows(100, 20, seed=6)[1], val_rows)
    all_rows, none = split_rows(100, 0, seed=5)
    assert np.array_equal(all_rows, np.arange(100)) and none.size == 0


def test_holding_out_every_example_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold out 100 of 100"):
        split_rows(100, 100, seed=0)


DATASET = """experiment: seeds
task: {{dataset: mnist, validation: {validation}}}
model: {{hidden: [8]}}
optimizer: {{name: sgd, lr: 0.1}}
train: {{steps: 20, eval_every: 10, batch_size: 16{train}}}
"""


@pytest.mark.slow
def test_a_dataset_run_logs_validation_and_test_columns_and_its_finals(
    tmp_path: Path, mnist: Dataset
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(DATASET.format(validation=1000, train=""))
    result = run_experiment(load_experiment(config), tmp_path / "out", progress=False)
    ((run_id, status),) = result.statuses.items()
    lines = (tmp_path / "out" / "seeds" / "runs" / run_id / "metrics.csv").read_text().splitlines()
    assert lines[0] == (
        "step,epoch,train_loss,val_loss,val_acc,test_loss,test_acc,train_set_loss,train_acc,lr,elapsed_s"
    )
    last = lines[-1].split(",")
    assert last[3] and last[4] and last[5] and last[6]
    assert status["final_val_acc"] == float(last[4]) and status["final_test_acc"] == float(last[6])
    assert float(last[1]) == pytest.approx(20 * 16 / 59000)  # epochs of the 59,000 training images left


@pytest.mark.slow
def test_without_a_split_the_validation_columns_stay_empty(tmp_path: Path, mnist: Dataset) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(DATASET.format(validation=0, train=""))
    result = run_experiment(load_experiment(config), tmp_path / "out", progress=False)
    ((run_id, status),) = result.statuses.items()
    rows = [
        r.split(",")
        for r in (tmp_path / "out" / "seeds" / "runs" / run_id / "metrics.csv").read_text().splitlines()[1:]
    ]
    assert all(r[3] == r[4] == "" for r in rows) and rows[-1][6]
    assert status["final_val_acc"] is None


@pytest.mark.slow
def test_holding_the_init_seed_varies_only_the_batches(tmp_path: Path, mnist: Dataset) -> None:
    """Runs that share train.init_seed start from the same weights; the runs are one variant."""
    config = tmp_path / "c.yaml"
    config.write_text(
        DATASET.format(validation=1000, train=", init_seed: 3") + "grid:\n  train.seed: [0, 1]\n"
    )
    exp = load_experiment(config)
    assert [(r.train.init_seed, r.train.data_seed) for r in exp.runs] == [(3, 0), (3, 1)]
    run_experiment(exp, tmp_path / "out", progress=False)
    folders = [tmp_path / "out" / "seeds" / "runs" / r.run_id for r in exp.runs]
    start = [(f / "diagnostics.csv").read_text().splitlines()[1] for f in folders]
    assert start[0] == start[1]  # step 0: the same initial weights
    losses = [(f / "metrics.csv").read_text().splitlines()[1].split(",")[2] for f in folders]
    assert losses[0] != losses[1]  # other minibatches
    (variant,) = group_variants(read_experiment(tmp_path / "out" / "seeds").runs, exp.varied)
    assert len(variant.runs) == 2


BN_DROPOUT_L2 = {"batch_norm": True, "dropout": 0.3, "l2": 0.01}
"""Every layer kind a model key adds: batch normalisation, dropout and the weight penalty."""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("optimizer", "sampling", "dtype", "extras"),
    [
        ("adam", "epoch", "float32", {}),
        ("momentum", "replacement", "float64", {}),
        ("nadam", "epoch", "float32", {}),
        ("adam", "epoch", "float32", BN_DROPOUT_L2),
        ("sgd", "replacement", "float64", {"dropout": 0.5, "inverted_dropout": False}),
    ],
)
def test_a_run_resumed_from_a_checkpoint_writes_the_rows_of_one_never_interrupted(
    optimizer: str, sampling: str, dtype: str, extras: dict[str, Any], mnist: Dataset
) -> None:
    from optbench.checkpoints import pack, unpack
    from optbench.config import validate_run

    raw = {
        "experiment": "x",
        "task": {"dataset": "mnist", "validation": 1000},
        "model": {"hidden": [16, 16], "dtype": dtype, **extras},
        "optimizer": {"name": optimizer, "lr": 0.01},
        "train": {
            "steps": 50,
            "eval_every": 10,
            "batch_size": 32,
            "sampling": sampling,
            "checkpoint_every": 20,
        },
    }
    run, problems = validate_run(raw)
    assert run is not None, problems

    def execute(resume: Any = None) -> tuple[list[Any], list[Any], list[tuple[int, bytes]], train.Outcome]:
        rows: list[Any] = []
        diagnostics: list[Any] = []
        saved: list[tuple[int, bytes]] = []
        outcome = train.run(
            run, rows.append, diagnostics.append, lambda s, c: saved.append((s, pack(c))), resume
        )
        return rows, diagnostics, saved, outcome

    rows, diagnostics, saved, outcome = execute()
    assert [step for step, _ in saved] == [20, 40]  # none at the last step: the run is over
    for step, data in saved:
        after, after_diagnostics, _, resumed = execute(unpack(data))
        assert [r[:-1] for r in after] == [r[:-1] for r in rows[step:]]  # elapsed_s aside
        assert after_diagnostics == [d for d in diagnostics if d[0] > step]
        assert resumed == outcome


@pytest.mark.slow
@pytest.mark.parametrize(
    ("activation", "optimizer", "lr", "eval_every", "validation", "status", "extras"),
    [
        ("relu", "adam", 0.01, 10, 1000, "completed", {}),
        ("relu", "adam", 0.01, 10, 1000, "completed", BN_DROPOUT_L2),
        (
            "sigmoid",
            "sgd",
            0.1,
            "epoch",
            0,
            "completed",
            {"batch_norm": {"unbiased": True}, "dropout": 0.1, "inverted_dropout": False},
        ),
        # The last step is no multiple of eval_every, and there is no validation set.
        ("tanh", "sgd", 0.1, 25, 0, "completed", {}),
        ("identity", "sgd", 10.0, 1, 1000, "diverged", {}),
    ],
)
def test_the_overlapped_engine_writes_the_rows_of_the_inline_one(
    activation: str,
    optimizer: str,
    lr: float,
    eval_every: int | str,
    validation: int,
    status: str,
    extras: dict[str, Any],
    mnist: Dataset,
) -> None:
    import threading

    from optbench.checkpoints import pack, unpack
    from optbench.config import validate_run

    raw = {
        "experiment": "x",
        "task": {"dataset": "mnist", "validation": validation, **({"train_size": 640} if extras else {})},
        "model": {"hidden": [32, 16], "activation": activation, **extras},
        "optimizer": {"name": optimizer, "lr": lr},
        "train": {"steps": 60, "eval_every": eval_every, "batch_size": 32, "checkpoint_every": 20},
    }
    run, problems = validate_run(raw)
    assert run is not None, problems

    def execute(engine: Engine) -> tuple[list[Any], list[Any], list[Any], train.Outcome]:
        rows: list[Any] = []
        diagnostics: list[Any] = []
        saved: list[Any] = []

        def save(step: int, checkpoint: Any) -> None:
            assert rows[-1][0] == step  # every row up to the checkpoint's step is written before it
            kept = {k: v for k, v in unpack(pack(checkpoint)).items() if k != "elapsed"}
            saved.append((step, {k: v.tobytes() for k, v in kept.items()}))

        outcome = train.run(run, rows.append, diagnostics.append, save, engine=engine)
        return [list(r[:-1]) for r in rows], diagnostics, saved, outcome

    in_line = execute(Engine.INLINE)
    beside = execute(Engine.OVERLAPPED)
    assert in_line[3].status == status, in_line[3]
    assert [r[0] for r in beside[0]] == list(range(1, len(beside[0]) + 1))  # in step order
    # Rows (timing aside), diagnostics, checkpoints and outcome; as text, where NaN equals NaN.
    assert repr(beside) == repr(in_line)
    assert not [t for t in threading.enumerate() if t.name.startswith("optbench-")]


def test_with_the_model_keys_off_the_network_is_the_plain_mlp() -> None:
    """No batch normalisation, dropout or penalty: the layers, and so the step, of a plain MLP."""
    from optbench.config import validate_run
    from optbench.nn import Activation, Affine

    raw = {
        "experiment": "x",
        "task": {"dataset": "mnist"},
        "model": {"hidden": [8, 8], "l2": 0, "dropout": 0},
    }
    run, problems = validate_run(raw)
    assert run is not None, problems
    net = train.build_model(run, 784, 10, np.random.default_rng(0))
    assert [type(layer).__name__ for layer in net.layers] == ["Affine", "ReLU", "Affine", "ReLU", "Affine"]
    assert all(isinstance(layer, (Affine, Activation)) for layer in net.layers)
    assert not any(layer.penalised for layer in net.layers) and not net.generators and net.state.size == 0


def test_the_model_keys_put_batch_norm_before_and_dropout_after_each_hidden_activation() -> None:
    from optbench.config import validate_run
    from optbench.nn import BatchNorm, Dropout

    model = {"hidden": [8, 8], "batch_norm": {"eps": 1e-5, "unbiased": True}, "dropout": 0.25, "l2": 0.1}
    run, problems = validate_run({"experiment": "x", "task": {"dataset": "mnist"}, "model": model})
    assert run is not None, problems
    net = train.build_model(run, 784, 10, np.random.default_rng(0))
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Affine", "BatchNorm", "ReLU", "Dropout"] * 2 + ["Affine"]
    norms = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
    assert all((n.eps, n.momentum, n.unbiased) == (1e-5, 0.1, True) for n in norms)
    (masks,) = net.generators  # one stream, shared by the dropout layers in order
    assert all(layer.rng is masks and layer.p == 0.25 for layer in net.layers if isinstance(layer, Dropout))
    assert all(a.l2 == 0.1 for a in net.affine_layers)
    assert masks.random() == train.dropout_generator(run.train.data_seed or 0).random()


@pytest.mark.slow
def test_epochs_count_as_the_book_and_the_training_figures_measure_the_first_n_images(
    mnist: Dataset,
) -> None:
    """300 images, batch 100: an epoch is 3 updates; the evaluation after it measures the network of
    the checkpoint on images 0..299 (nothing held out), computed here apart from the run."""
    from optbench.checkpoints import pack, unpack
    from optbench.config import validate_run
    from optbench.nn import softmax_cross_entropy

    raw = {
        "experiment": "x",
        "task": {"dataset": "mnist", "validation": 0, "train_size": 300},
        "model": {"hidden": [20], "dtype": "float64", "batch_norm": True, "dropout": 0.2, "l2": 0.1},
        "optimizer": {"name": "sgd", "lr": 0.1},
        "train": {
            "steps": None,
            "epochs": 4,
            "batch_size": 100,
            "eval_every": "epoch",
            "checkpoint_every": 3,
        },
    }
    run, problems = validate_run(raw)
    assert run is not None, problems
    assert run.train.steps == 12
    rows: list[Any] = []
    saved: list[tuple[int, Any]] = []
    train.run(run, rows.append, save=lambda s, c: saved.append((s, unpack(pack(c)))))
    assert [r[1] for r in rows] == [k / 3 for k in range(1, 13)]
    evaluated = [r[0] for r in rows if r[7] is not None]
    assert evaluated == [3, 6, 9, 12]
    step, checkpoint = saved[0]
    net = train.build_model(run, 784, 10, np.random.default_rng(0))
    net.params[...] = checkpoint["params"]
    net.state[...] = checkpoint["model_state"]
    x = mnist.train_images[:300] / 255.0
    labels = mnist.train_labels[:300].astype(np.intp)
    # Evaluation mode by hand: running statistics, no dropout, softmax cross-entropy without the penalty.
    h = x
    for layer in net.layers:
        h = layer.forward(h.copy(), train=False)
    losses, _ = softmax_cross_entropy(np.asarray(h), labels)
    row = rows[step - 1]
    assert row[7] == pytest.approx(losses.mean(), rel=1e-12)
    assert row[8] == np.mean(np.asarray(h).argmax(axis=1) == labels)
    assert row[5] is not None and row[3] is None  # test measured, no validation split


@pytest.mark.torch
def test_the_network_of_the_model_keys_has_torchs_gradients_and_running_statistics() -> None:
    """The MLP that batch_norm (torch's settings) and l2 build, against torch.nn layers and an explicit
    ½λΣW² over the weights: loss, every gradient and the running statistics, over three steps."""
    from conftest import need

    from optbench.config import validate_run
    from optbench.gradcheck import parameter_groups

    torch = need("torch")
    l2 = 0.1
    model = {
        "hidden": [5, 4],
        "activation": "tanh",
        "dtype": "float64",
        "batch_norm": {"eps": 1e-5, "unbiased": True},
        "l2": l2,
    }
    run, problems = validate_run({"experiment": "x", "task": {"dataset": "mnist"}, "model": model})
    assert run is not None, problems
    net = train.build_model(run, 6, 3, np.random.default_rng(0))
    layers = []
    for layer in net.layers:
        kind = type(layer).__name__
        if kind == "Affine":
            linear = torch.nn.Linear(layer.n_in, layer.n_out, dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
                linear.bias.copy_(torch.from_numpy(layer.params["b"].copy()))
            layers.append(linear)
        elif kind == "BatchNorm":
            layers.append(torch.nn.BatchNorm1d(layer.n, eps=1e-5, momentum=0.1, dtype=torch.float64))
        else:
            layers.append(torch.nn.Tanh())
    theirs = torch.nn.Sequential(*layers)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x, labels = rng.normal(size=(9, 6)), rng.integers(0, 3, size=9).astype(np.intp)
        loss = net.loss_and_grad(x, labels)
        theirs.zero_grad()
        out = theirs(torch.from_numpy(x))
        weights = [m.weight for m in theirs if isinstance(m, torch.nn.Linear)]
        their_loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(labels)) + 0.5 * l2 * sum(
            (w * w).sum() for w in weights
        )
        their_loss.backward()
        assert loss == pytest.approx(their_loss.item(), rel=1e-12)
        their_grads = []
        for m in theirs:
            if isinstance(m, torch.nn.Linear):
                their_grads += [m.weight.grad.T, m.bias.grad]
            elif isinstance(m, torch.nn.BatchNorm1d):
                their_grads += [m.weight.grad, m.bias.grad]
        for (name, _, grad), their in zip(parameter_groups(net), their_grads, strict=True):
            np.testing.assert_allclose(grad, their.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)
        norms = [m for m in theirs if isinstance(m, torch.nn.BatchNorm1d)]
        ours = [layer for layer in net.layers if type(layer).__name__ == "BatchNorm"]
        for mine, their_norm in zip(ours, norms, strict=True):
            np.testing.assert_allclose(mine.state["running_var"], their_norm.running_var.numpy(), rtol=1e-12)
            np.testing.assert_allclose(
                mine.state["running_mean"], their_norm.running_mean.numpy(), rtol=1e-12
            )
        # The same update on both sides, so the next step compares networks that moved alike.
        with torch.no_grad():
            for (_, param, grad), p in zip(parameter_groups(net), theirs.parameters(), strict=True):
                param -= 0.1 * grad
                p.copy_(torch.from_numpy(param.T.copy() if param.ndim == 2 else param.copy()))
