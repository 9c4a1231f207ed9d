"""The engine: work overlapped on a spare core gives the numbers of the plain, in-line path, bit for bit.

The model, sampler and evaluations are the plain ones (tests/test_nn.py, test_data.py); here, what
the overlapped session does with them: the layers' parameter gradients made in a helper thread,
batches filled ahead, and errors and stops in those threads. Whole runs through both engines are
compared in tests/test_train.py.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from test_data import drawn, indices, sampler_data
from test_nn import SIZES, batch, make_net

from optbench.data import BatchSampler, Dataset, Split
from optbench.engine import AheadBatches, Engine, Helper, OverlappedSession, Session
from optbench.evaluation import Evaluations
from optbench.init import build_initializer
from optbench.metrics import MetricRow
from optbench.nn import ACTIVATIONS, MLP, Affine, Network


def tiny_evaluations(dtype: type) -> Evaluations:
    """Evaluations over a small random dataset, never called by the tests that only train."""
    images, labels = sampler_data(n=20, features=SIZES[0])
    labels %= SIZES[-1]
    data = Dataset("tiny", images, labels, images, labels)
    return Evaluations(data, Split(np.arange(20), images[:0], labels[:0]), np.dtype(dtype), diagnostics=False)


def sessions(net: Network, twin: Network, dtype: type) -> Iterator[tuple[Session, Session]]:
    images, labels = sampler_data(n=64, features=SIZES[0])
    samplers = [BatchSampler(images, labels, 16, np.random.default_rng(0), dtype) for _ in range(2)]
    evaluations = tiny_evaluations(dtype)
    with (
        Engine.INLINE.session(net, samplers[0], evaluations, lambda row: None) as inline,
        Engine.OVERLAPPED.session(twin, samplers[1], evaluations, lambda row: None) as overlapped,
    ):
        yield inline, overlapped


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_gradients_made_beside_are_the_gradients_made_in_line_bit_for_bit(dtype: type, bias: bool) -> None:
    x, y = batch(n=16)
    for activation in ACTIVATIONS:
        alone, helped = (make_net(activation, dtype, bias=bias) for _ in range(2))
        for inline, overlapped in sessions(alone, helped, dtype):
            assert isinstance(overlapped, OverlappedSession)
            for _ in range(3):  # the gradients of a step depend on no earlier step's
                loss = inline.loss_and_grad(x.astype(dtype), y)
                assert overlapped.loss_and_grad(x.astype(dtype), y) == loss
                assert helped.grads.tobytes() == alone.grads.tobytes()
                alone.params -= 0.1 * alone.grads
                helped.params -= 0.1 * helped.grads
    assert not [t for t in threading.enumerate() if t.name.startswith("optbench-")]


def test_an_error_in_the_helper_thread_is_raised_by_loss_and_grad() -> None:
    class Failing(Affine):
        def backward_params(self, dout: np.ndarray) -> None:
            if threading.current_thread() is not threading.main_thread():
                raise FloatingPointError(f"layer {self.n_in}x{self.n_out}")
            super().backward_params(dout)

    net = MLP(SIZES, ACTIVATIONS["relu"], build_initializer("he"), np.random.default_rng(0))
    for k, layer in enumerate(net.layers):
        if isinstance(layer, Affine):
            failing = Failing(layer.n_in, layer.n_out, layer.bias, layer.class_major)
            failing.bind(layer.params, layer.grads, layer.state)
            net.layers[k] = failing
    for _, overlapped in sessions(make_net("relu"), net, np.float32):
        with pytest.raises(FloatingPointError, match="layer 5x4"):  # the first one given
            overlapped.loss_and_grad(*batch())
        with pytest.raises(FloatingPointError, match="layer 5x4"):  # nothing of the first left in flight
            overlapped.loss_and_grad(*batch())


class CountingHelper(Helper):
    """A helper that counts the jobs it is given."""

    def __init__(self) -> None:
        super().__init__("test-helper")
        self.given = 0

    def submit(self, job: Callable[[], None]) -> None:
        self.given += 1
        super().submit(job)


@pytest.fixture
def helper() -> Iterator[CountingHelper]:
    thread = CountingHelper()
    yield thread
    thread.close()


def ahead_drawn(batches: AheadBatches, count: int, fill_ahead: bool = True) -> list[tuple[np.ndarray, ...]]:
    return [tuple(a.copy() for a in batches.next(fill_ahead)) for _ in range(count)]


@pytest.mark.parametrize("replacement", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_filling_ahead_gives_the_same_batches_bit_for_bit(
    replacement: bool, dtype: type, helper: CountingHelper
) -> None:
    # 250 rows of a split, batches of 16: 15 per epoch, so each epoch ends on a request that the
    # epoch cuts short, and the next epoch's first batch is drawn by the caller.
    images, labels = sampler_data(n=256 * 2)
    rows = np.random.default_rng(2).permutation(len(images))[:250]
    samplers = [
        BatchSampler(images, labels, 16, np.random.default_rng(9), dtype, replacement, rows) for _ in range(2)
    ]
    plain = drawn(samplers[0], 40)  # over two epochs and a half
    ahead = ahead_drawn(AheadBatches(samplers[1], helper), 40)
    for (x, y), (x_ahead, y_ahead) in zip(plain, ahead, strict=True):
        assert x.tobytes() == x_ahead.tobytes() and np.array_equal(y, y_ahead)
    assert repr(samplers[0].state()) == repr(samplers[1].state())
    assert samplers[0].epoch == samplers[1].epoch
    # Four requests an epoch (batches 2-5, 6-9, 10-13, 14-15), three in the ten of the third.
    assert helper.given == (0 if replacement else 4 + 4 + 3)


def test_a_batch_filled_ahead_stays_as_returned_until_the_next_call(helper: CountingHelper) -> None:
    images, labels = sampler_data(n=200)
    batches = AheadBatches(BatchSampler(images, labels, 10, np.random.default_rng(0)), helper)
    expected = drawn(BatchSampler(images, labels, 10, np.random.default_rng(0)), 12)
    for x_expected, _ in expected:
        x, _ = batches.next(fill_ahead=True)
        time.sleep(0.002)  # the helper fills the batches after this one meanwhile
        assert np.array_equal(x, x_expected)
    assert helper.given == 3


def test_batches_filled_ahead_continue_from_a_saved_state_as_if_never_stopped(helper: CountingHelper) -> None:
    images, labels = sampler_data(n=100)
    reference = drawn(BatchSampler(images, labels, 8, np.random.default_rng(4)), 30)
    first = AheadBatches(BatchSampler(images, labels, 8, np.random.default_rng(4)), helper)
    before = ahead_drawn(first, 13)  # mid-request: batches are in flight or waiting
    state = first.sampler.state()
    second = AheadBatches(BatchSampler(images, labels, 8, np.random.default_rng(99)), helper)
    ahead_drawn(second, 5)  # its own batches filled ahead, dropped by restore
    second.restore(state)
    after = ahead_drawn(second, 17)
    for (x, y), (x_ref, y_ref) in zip(before + after, reference, strict=True):
        assert np.array_equal(x, x_ref) and np.array_equal(y, y_ref)


def test_without_the_spare_core_the_batches_are_drawn_in_line(helper: CountingHelper) -> None:
    images, labels = sampler_data(n=50)
    expected = drawn(BatchSampler(images, labels, 5, np.random.default_rng(0)), 10)
    batches = AheadBatches(BatchSampler(images, labels, 5, np.random.default_rng(0)), helper)
    got = ahead_drawn(batches, 2)  # the first drawn by the caller, the next four asked for
    got += ahead_drawn(batches, 8, fill_ahead=False)  # the three asked for, then five drawn in line
    assert helper.given == 1
    for (x, _), (x_expected, _) in zip(got, expected, strict=True):
        assert np.array_equal(x, x_expected)


def test_an_error_filling_ahead_is_raised_to_the_caller(helper: CountingHelper) -> None:
    class Failing(BatchSampler):
        def fill(self, rows: np.ndarray, *buffers: np.ndarray) -> None:
            if threading.current_thread() is not threading.main_thread():
                raise MemoryError("no room for the batch")
            super().fill(rows, *buffers)

    images, labels = sampler_data(n=50)
    batches = AheadBatches(Failing(images, labels, 5, np.random.default_rng(0)), helper)
    batches.next(fill_ahead=True)  # the first of an epoch: drawn by the caller, the next ones asked for
    with pytest.raises(MemoryError, match="no room"):
        batches.next(fill_ahead=True)
    # The batches it failed to fill are dropped, not returned; the sampler counted none of them.
    assert batches.sampler.batches_drawn == 1
    assert indices(batches.next(fill_ahead=False)[0]) == indices(
        drawn(BatchSampler(images, labels, 5, np.random.default_rng(0)), 2)[1][0]
    )


def test_a_stop_while_waiting_leaves_the_batches_filled_ahead_in_flight(helper: CountingHelper) -> None:
    release = threading.Event()

    class Slow(BatchSampler):
        def fill(self, rows: np.ndarray, *buffers: np.ndarray) -> None:
            if threading.current_thread() is not threading.main_thread():
                release.wait(5)
            super().fill(rows, *buffers)

    images, labels = sampler_data(n=60)
    batches = AheadBatches(Slow(images, labels, 6, np.random.default_rng(1)), helper)
    expected = drawn(BatchSampler(images, labels, 6, np.random.default_rng(1)), 4)
    first = ahead_drawn(batches, 1)
    interrupt = threading.Timer(0.05, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    interrupt.start()
    with pytest.raises(KeyboardInterrupt):
        batches.next(fill_ahead=True)  # waits for the helper, held back by `release`
    release.set()
    rest = ahead_drawn(batches, 3)  # the same batches, once the helper has filled them
    for (x, _), (x_expected, _) in zip(first + rest, expected, strict=True):
        assert np.array_equal(x, x_expected)


def test_rows_held_behind_an_evaluation_and_an_action_come_out_in_order() -> None:
    written: list[object] = []
    net = make_net("relu", np.float64)
    images, labels = sampler_data(n=64, features=SIZES[0])
    sampler = BatchSampler(images, labels, 16, np.random.default_rng(0), np.float64)
    with Engine.OVERLAPPED.session(net, sampler, tiny_evaluations(np.float64), written.append) as session:
        session.evaluate(MetricRow(1, 0.25, 2.0, 0.1, 0.0))
        session.record(MetricRow(2, 0.5, 1.9, 0.1, 0.0))
        session.then(lambda: written.append("checkpoint"))
        session.record(MetricRow(3, 0.75, 1.8, 0.1, 0.0))
        session.finish()
    assert [w if isinstance(w, str) else w[0] for w in written] == [1, 2, "checkpoint", 3]
    first = written[0]
    assert not isinstance(first, str) and first[5] is not None  # the test accuracy of step 1
    assert session.last.test_acc == first[6]
