"""The training step of `make bench`: how fast it is, and how close to its matrix products.

On the lecture's MLP (784-100-100-100-100-10, ReLU, He, batch 128), for sgd, momentum and adam in
float32 and float64:

- steps per second of the full training step (`train.train_step`: batch draw, forward, loss,
  backward, update);
- the time of that step's matrix products alone (the same products on the same shapes and dtype,
  into preallocated buffers), and the efficiency = products-only time ÷ full step time;
- the time of the optimizer's update alone, the part of the step that is not products and grows
  with the optimizer (Adam's thirteen passes over the parameters against SGD's two);
- the same efficiency for the step of a lone run (`optbench train`, or `--jobs 1` on a machine of
  more than one core) between its evaluations, when its helper thread draws the batches ahead and
  computes the weight gradients of the upper layers;
- a textbook NumPy step (a dict of arrays, a fancy-indexed batch, everything allocated, a second
  forward pass for the logged loss), and our speed-up over it;
- the same step rate and efficiencies for SGD in float32 with batch normalisation after each hidden
  affine layer (`model.batch_norm: true`) and with dropout after each hidden activation
  (`model.dropout: 0.2`): their products are the plain MLP's, so the efficiency says what the
  layers' elementwise work costs, and `step_cost_*` the step's time against the plain one.

Everything runs with one BLAS thread, as every run does (optbench/__init__.py): this process imports
NumPy before optbench, so the limit is applied here as a run applies it (`optbench.threads`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from common import Measurement, Settings, load_average, progress
from numpy.typing import NDArray

from optbench import train
from optbench.data import BatchSampler, Dataset, split
from optbench.engine import Engine, Session
from optbench.evaluation import Evaluations
from optbench.init import build_initializer
from optbench.nn import ACTIVATIONS, MLP, BatchNorm, Dropout, LayerKind
from optbench.optim import OPTIMIZERS
from optbench.threads import one_blas_thread

Array = NDArray[Any]

LECTURE_SIZES = (784, 100, 100, 100, 100, 10)
BATCH = 128
STEP_OPTIMIZERS = {"sgd": 0.01, "momentum": 0.01, "adam": 0.001}
"""The optimizers whose step is timed, with the lecture's learning rates."""
DTYPES = ("float32", "float64")
EFFICIENCY_TARGETS = {("sgd", "float32"): 0.85, ("adam", "float32"): 0.75}
"""Products-only time ÷ step time, at least."""
MODEL_CASES = ("batch_norm", "dropout")
"""The layer kinds a model key adds, each timed in the SGD float32 step of the lecture's MLP."""
DROPOUT_RATIO = 0.2


class Products:
    """The matrix products of one training step of an MLP, alone, each into a preallocated buffer.

    Forward x·W for every layer; backward hᵀ·δ (the weight gradient) for every layer and δ·Wᵀ (the
    signal to the layer below) for all but the first: what a step cannot avoid.
    """

    def __init__(self, sizes: Sequence[int], batch: int, dtype: np.dtype[Any], rng: np.random.Generator):
        def filled(*shape: int) -> Array:
            # Values of the scale training sees: products of subnormal numbers would be slower.
            return (rng.standard_normal(shape) * 0.1).astype(dtype)

        self.x = filled(batch, sizes[0])
        self.weights = [filled(a, b) for a, b in itertools.pairwise(sizes)]
        self.outputs = [filled(batch, n) for n in sizes[1:]]
        self.deltas = [filled(batch, n) for n in sizes[1:]]
        self.grads = [filled(a, b) for a, b in itertools.pairwise(sizes)]

    @property
    def flops(self) -> int:
        """Floating-point operations of one run: 2·m·k·n for each product of m×k by k×n."""
        batch = len(self.x)
        sizes = [w.size for w in self.weights]
        return 2 * batch * (2 * sum(sizes) + sum(sizes[1:]))

    def run(self) -> None:
        h = self.x
        for w, z in zip(self.weights, self.outputs):
            np.matmul(h, w, out=z)
            h = z
        for i in range(len(self.weights) - 1, -1, -1):
            h_in = self.x if i == 0 else self.outputs[i - 1]
            np.matmul(h_in.T, self.deltas[i], out=self.grads[i])
            if i > 0:
                np.matmul(self.deltas[i], self.weights[i].T, out=self.deltas[i - 1])


class TextbookStep:
    """A training step as textbook NumPy code writes it: the reference the speed-up is measured on.

    As the book's chapter 6 comparison: parameters in a dict of arrays, the training set normalised
    to floats once and a batch drawn by fancy indexing, every intermediate array allocated, and after
    the update a second forward pass that computes the loss to log.
    """

    def __init__(self, net: MLP, data: Dataset, optimizer: str, lr: float, rng: np.random.Generator):
        self.dtype = net.dtype
        self.images = data.train_images / self.dtype.type(255)
        self.labels = data.train_labels.astype(np.intp)
        self.rng = rng
        self.params: dict[str, Array] = {}
        for i, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
            assert b is not None
            self.params[f"W{i}"] = w.copy()
            self.params[f"b{i}"] = b.copy()
        self.n_layers = len(net.weights)
        self.optimizer, self.lr = optimizer, lr
        self.state: dict[str, dict[str, Array]] = {"m": {}, "v": {}}
        self.t = 0

    def forward(self, x: Array) -> tuple[list[Array], list[Array], Array]:
        inputs, masks = [], []
        h = x
        for i in range(1, self.n_layers + 1):
            inputs.append(h)
            a = h @ self.params[f"W{i}"] + self.params[f"b{i}"]
            if i < self.n_layers:
                mask = a <= 0
                h = a.copy()
                h[mask] = 0
                masks.append(mask)
            else:
                h = a
        return inputs, masks, h

    @staticmethod
    def softmax_loss(logits: Array, t: Array) -> tuple[float, Array]:
        z = logits - logits.max(axis=1, keepdims=True)
        y = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
        loss = float(-np.sum(np.log(y[np.arange(len(t)), t] + 1e-7)) / len(t))
        return loss, y

    def gradient(self, x: Array, t: Array) -> dict[str, Array]:
        inputs, masks, logits = self.forward(x)
        _, y = self.softmax_loss(logits, t)
        dout = y.copy()
        dout[np.arange(len(t)), t] -= 1
        dout = dout / len(t)
        grads = {}
        for i in range(self.n_layers, 0, -1):
            grads[f"W{i}"] = inputs[i - 1].T @ dout
            grads[f"b{i}"] = np.sum(dout, axis=0)
            if i > 1:
                dout = dout @ self.params[f"W{i}"].T
                dout[masks[i - 2]] = 0
        return grads

    def update(self, grads: dict[str, Array]) -> None:
        """The book's SGD, Momentum (0.9) and Adam (0.9, 0.999, 1e-7), its constants inline as it has them."""
        m, v = self.state["m"], self.state["v"]
        if self.optimizer == "sgd":
            for key in self.params:
                self.params[key] -= self.lr * grads[key]
        elif self.optimizer == "momentum":
            for key in self.params:
                m[key] = 0.9 * m.get(key, 0) - self.lr * grads[key]
                self.params[key] += m[key]
        else:
            self.t += 1
            lr_t = self.lr * math.sqrt(1.0 - 0.999**self.t) / (1.0 - 0.9**self.t)
            for key in self.params:
                m.setdefault(key, np.zeros_like(self.params[key]))
                v.setdefault(key, np.zeros_like(self.params[key]))
                m[key] += (1 - 0.9) * (grads[key] - m[key])
                v[key] += (1 - 0.999) * (grads[key] ** 2 - v[key])
                self.params[key] -= lr_t * m[key] / (np.sqrt(v[key]) + 1e-7)

    def step(self) -> float:
        idx = self.rng.choice(len(self.images), BATCH)
        x, t = self.images[idx], self.labels[idx]
        self.update(self.gradient(x, t))
        return self.softmax_loss(self.forward(x)[2], t)[0]


WARM_CALLS = 2
"""Untimed calls before each timed block: they bring back into the caches what the previous block
evicted, so that each block is timed in its own steady state."""


def _time_block(fn: Callable[[], Any], n: int) -> float:
    """Seconds per call of `fn`, over `n` calls made after WARM_CALLS untimed ones."""
    for _ in range(WARM_CALLS):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


@dataclass(frozen=True)
class StepTimes:
    """Seconds per call, one entry per round, of the things timed in alternation."""

    step: list[float]
    step_ahead: list[float]
    """The step of a lone run, with its helper thread."""
    products: list[float]
    textbook: list[float]
    update: float
    """The optimizer's update alone, median over the rounds."""
    flops: int
    """Of the products of one step."""

    @property
    def efficiency(self) -> float:
        """Median of products-only time ÷ step time, the two measured in the same round."""
        return statistics.median(p / s for p, s in zip(self.products, self.step))

    @property
    def efficiency_ahead(self) -> float:
        """The same for the step of a lone run."""
        return statistics.median(p / s for p, s in zip(self.products, self.step_ahead))


def _layer_kinds(case: str | None) -> tuple[list[LayerKind], list[LayerKind]]:
    """(before_activation, after_activation) of the MLP of a model case (None: the plain MLP)."""
    if case == "batch_norm":
        return [BatchNorm], []
    if case == "dropout":
        masks = train.dropout_generator(0)
        return [], [lambda _: Dropout(DROPOUT_RATIO, masks)]
    return [], []


def time_steps(
    data: Dataset, optimizer: str, dtype: str, settings: Settings, case: str | None = None
) -> StepTimes:
    """Rounds of: a block of training steps, the same of a lone run, a block of its products alone, a
    block of textbook steps (the plain MLP's only), a block of the optimizer's updates alone."""
    rng_init, rng_data = train.seeded_generators(0)
    before, after = _layer_kinds(case)
    net = MLP(
        LECTURE_SIZES,
        ACTIVATIONS["relu"],
        build_initializer("he"),
        rng_init,
        dtype=dtype,
        before_activation=before,
        after_activation=after,
    )
    lr = STEP_OPTIMIZERS[optimizer]
    textbook = TextbookStep(net, data, optimizer, lr, np.random.default_rng(1)) if case is None else None
    evaluations = Evaluations(data, split(data, 0, 0), net.dtype, diagnostics=False)
    lone = net.replica()
    with contextlib.ExitStack() as stack:
        inline, overlapped = (
            stack.enter_context(
                engine.session(
                    model,
                    BatchSampler(data.train_images, data.train_labels, BATCH, rng, dtype=net.dtype),
                    evaluations,
                    write=lambda row: None,
                )
            )
            for engine, model, rng in (
                (Engine.INLINE, net, rng_data),
                (Engine.OVERLAPPED, lone, np.random.default_rng(3)),
            )
        )
        return _time_steps(net, inline, overlapped, optimizer, lr, textbook, settings)


def _time_steps(
    net: MLP,
    inline: Session,
    overlapped: Session,
    optimizer: str,
    lr: float,
    textbook: TextbookStep | None,
    settings: Settings,
) -> StepTimes:
    opt, opt_lone = (OPTIMIZERS[optimizer](lr=lr) for _ in range(2))
    products = Products(LECTURE_SIZES, BATCH, net.dtype, np.random.default_rng(2))

    def step() -> None:
        train.train_step(inline, opt)

    def step_ahead() -> None:
        train.train_step(overlapped, opt_lone)

    for fn in (step, step_ahead, products.run, *([textbook.step] if textbook else [])):
        _time_block(fn, settings.warmup)
    # The update alone, on the gradient of the last step, restored before each call (an update may
    # use the gradient's buffer as scratch): the restoring copy is timed alone and taken off.
    opt_update = OPTIMIZERS[optimizer](lr=lr)
    params, gradient, grads = net.params.copy(), net.grads.copy(), net.grads.copy()

    def copy() -> None:
        np.copyto(grads, gradient)

    def update() -> None:
        np.copyto(grads, gradient)
        opt_update.step(params, grads)

    _time_block(update, settings.warmup)
    rounds: dict[str, list[float]] = {"step": [], "ahead": [], "products": [], "textbook": [], "update": []}
    for _ in range(settings.rounds):
        rounds["step"].append(_time_block(step, settings.block))
        rounds["ahead"].append(_time_block(step_ahead, settings.block))
        rounds["products"].append(_time_block(products.run, settings.block))
        # A third as many: the textbook step is slower, and only its median is needed.
        if textbook is not None:
            rounds["textbook"].append(_time_block(textbook.step, max(settings.block // 3, 1)))
        rounds["update"].append(_time_block(update, settings.block) - _time_block(copy, settings.block))
    return StepTimes(
        rounds["step"],
        rounds["ahead"],
        rounds["products"],
        rounds["textbook"],
        statistics.median(rounds["update"]),
        products.flops,
    )


def step_measurements(data: Dataset, settings: Settings) -> list[Measurement]:
    with one_blas_thread():
        return _step_measurements(data, settings)


def _step_measurements(data: Dataset, settings: Settings) -> list[Measurement]:
    rows = []
    plain: dict[tuple[str, str], float] = {}
    for dtype in DTYPES:
        for optimizer in STEP_OPTIMIZERS:
            load = load_average()
            times = time_steps(data, optimizer, dtype, settings)
            step, products, textbook = map(statistics.median, (times.step, times.products, times.textbook))
            plain[optimizer, dtype] = step
            rounds = f"median of {len(times.step)} rounds"
            tag = f"{optimizer}_{dtype}"
            target = EFFICIENCY_TARGETS.get((optimizer, dtype))
            rows += [
                Measurement(f"step_rate_{tag}", 1 / step, "steps/s", note=rounds, load=load),
                Measurement(
                    f"efficiency_{tag}",
                    times.efficiency,
                    "ratio",
                    f">= {target}" if target else "",
                    # The products' speed tells the state of the core: the clock of a core of a shared
                    # host drops within seconds of sustained load, slowing the products more than the rest.
                    f"products alone {products * 1e6:.0f} us ({times.flops / products / 1e9:.0f} GFLOP/s) / "
                    f"step {step * 1e6:.0f} us, of which the update {times.update * 1e6:.0f} us; {rounds}",
                    load,
                ),
                Measurement(
                    f"efficiency_ahead_{tag}",
                    times.efficiency_ahead,
                    "ratio",
                    f">= {target}" if target else "",
                    f"a lone run's step, its helper thread drawing batches and the upper layers' "
                    f"weight gradients: {statistics.median(times.step_ahead) * 1e6:.0f} us",
                    load,
                ),
                Measurement(
                    f"speedup_vs_textbook_{tag}",
                    textbook / step,
                    "x",
                    note=f"textbook step {textbook * 1e6:.0f} us; ratio of medians",
                    load=load,
                ),
            ]
            progress(rows[-4:])
    rows += _model_case_measurements(data, settings, plain_step=plain["sgd", "float32"])
    return rows


def _model_case_measurements(data: Dataset, settings: Settings, plain_step: float) -> list[Measurement]:
    """The SGD float32 step with each layer kind a model key adds, against its products and the plain step."""
    rows = []
    for case in MODEL_CASES:
        load = load_average()
        times = time_steps(data, "sgd", "float32", settings, case)
        step, products = statistics.median(times.step), statistics.median(times.products)
        rounds = f"median of {len(times.step)} rounds"
        tag = f"sgd_float32_{case}"
        rows += [
            Measurement(f"step_rate_{tag}", 1 / step, "steps/s", note=rounds, load=load),
            Measurement(
                f"efficiency_{tag}",
                times.efficiency,
                "ratio",
                note=f"products alone {products * 1e6:.0f} us / step {step * 1e6:.0f} us; {rounds}",
                load=load,
            ),
            Measurement(
                f"efficiency_ahead_{tag}",
                times.efficiency_ahead,
                "ratio",
                note=f"a lone run's step: {statistics.median(times.step_ahead) * 1e6:.0f} us",
                load=load,
            ),
            Measurement(
                f"step_cost_{tag}",
                step / plain_step,
                "x",
                note=f"step {step * 1e6:.0f} us against the plain MLP's {plain_step * 1e6:.0f} us",
                load=load,
            ),
        ]
        progress(rows[-4:])
    return rows
