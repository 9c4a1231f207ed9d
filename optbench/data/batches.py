"""Minibatches and evaluation chunks: uint8 images become floats a batch or a chunk at a time.

Each sampler or reader allocates its float buffer once and converts into it on every call, so the
images stay uint8 in memory (47 MB for the MNIST training set). A sampler of a run with a spare
core draws its batches ahead, a few at a time in its helper thread, while the run trains.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from optbench.errors import DataError
from optbench.signals import Helper

PIXEL_MAX = 255
"""Images are scaled to [0, 1] by dividing by this, exactly (not by multiplying by its inverse)."""

AHEAD_BATCHES = 4
"""How many batches a sampler that draws ahead asks its helper thread for at a time: each request
costs the training thread a few microseconds of waking the helper and sharing the interpreter with
it, so it is made once every few steps rather than at every one."""

EVAL_CHUNK = 2000
"""Default rows per evaluation chunk: big enough for efficient matrix products, small in memory."""


def _check_float(dtype: DTypeLike) -> np.dtype[Any]:
    resolved = np.dtype(dtype)
    if resolved.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {resolved}")
    return resolved


class BatchSampler:
    """Draws minibatches of (images/255, labels) into buffers allocated once.

    `next()` returns arrays that a later call overwrites: a caller that wants to keep a batch must
    copy it. x is (batch_size, n_features) in `dtype`, y is intp labels.

    `rows` (default: every row) are the examples it draws from, the training part of a split; the
    images stay where they are. Without replacement (the default), each epoch is a fresh random order
    of the rows from `rng` (for every row, the first one equals `rng.permutation(n)`), cut into
    consecutive batches; the last n mod batch_size examples of each epoch's order are dropped, so every
    batch is full and no example appears twice in an epoch. With `replacement=True` each batch is
    batch_size independent uniform draws, as the book's `np.random.choice(n, batch_size)`; then
    `Generator.integers`, which has no `out=`, returns a fresh index array per call.

    Given a `helper` (a run with a spare core), the sampler has it draw the next AHEAD_BATCHES
    batches, while it is active, into buffers of their own while the caller trains on this one: the
    calls after find them ready. The batches are the same bit for bit; only batches whose rows are
    known without the generator are drawn ahead (not the first of an epoch, nor any with
    replacement).
    """

    def __init__(
        self,
        images_u8: NDArray[np.uint8],
        labels: NDArray[np.integer[Any]],
        batch_size: int,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
        replacement: bool = False,
        rows: NDArray[np.intp] | None = None,
        helper: Helper | None = None,
    ) -> None:
        if images_u8.dtype != np.uint8 or images_u8.ndim != 2:
            raise ValueError(f"images must be a 2-D uint8 array, got {images_u8.ndim}-D {images_u8.dtype}")
        if labels.shape != (len(images_u8),):
            raise ValueError(f"labels must have shape ({len(images_u8)},), got {labels.shape}")
        self._rows = None if rows is None else np.asarray(rows, dtype=np.intp)
        n = len(images_u8) if self._rows is None else len(self._rows)
        if batch_size < 1 or (batch_size > n and not replacement):
            raise DataError(f"batch size {batch_size} does not fit {n} training examples")
        self.images = images_u8
        self.labels = labels.astype(np.intp)  # once, so that each gather is a same-type np.take
        self.batch_size = batch_size
        self.rng = rng
        self.dtype = _check_float(dtype)
        self.replacement = replacement
        self.batches_drawn = 0
        self._order = np.arange(n, dtype=np.intp) if self._rows is None else self._rows.copy()
        self._pos = n  # the first call starts an epoch
        self._x_u8 = np.empty((batch_size, images_u8.shape[1]), dtype=np.uint8)
        slots = 1 + AHEAD_BATCHES if helper is not None else 1
        self._x = [np.empty((batch_size, images_u8.shape[1]), dtype=self.dtype) for _ in range(slots)]
        self._y = [np.empty(batch_size, dtype=np.intp) for _ in range(slots)]
        self._slot = 0
        """The slot of the last batch returned: the one slot the helper never writes into."""
        self._helper = helper
        self._ahead: deque[int] = deque()
        """The slots of the batches at _pos, _pos + batch_size, ..., drawn ahead in one request."""
        self._in_flight = False
        """Whether the helper may still be drawing them."""

    @property
    def epoch(self) -> float:
        """Training examples drawn so far, in units of the training set's size."""
        return self.batches_drawn * self.batch_size / len(self._order)

    def next(self) -> tuple[NDArray[np.floating[Any]], NDArray[np.intp]]:
        """The next minibatch (x, y), in the sampler's reused buffers."""
        if self._ahead:
            self._wait_ahead()
            slot = self._ahead.popleft()
            self._pos += self.batch_size
        else:
            slot = (self._slot + 1) % len(self._x)
            self._fill(slot, self._indices())
        self._slot = slot
        self.batches_drawn += 1
        if self._helper is not None and self._helper.active and not self._ahead and not self.replacement:
            self._draw_ahead()
        return self._x[slot], self._y[slot]

    def _draw_ahead(self) -> None:
        """Ask the helper for the batches after this one, as many as fit before the epoch's end."""
        assert self._helper is not None
        size = self.batch_size
        count = min(AHEAD_BATCHES, (len(self._order) - self._pos) // size)
        if count == 0:
            return
        slots = [(self._slot + k) % len(self._x) for k in range(1, count + 1)]
        starts = range(self._pos, self._pos + count * size, size)
        batches = [(slot, self._order[s : s + size]) for slot, s in zip(slots, starts)]
        self._helper.submit(functools.partial(self._fill_all, batches))
        self._ahead.extend(slots)
        self._in_flight = True

    def _indices(self) -> NDArray[np.intp]:
        """The rows of the next batch, drawn from the generator where they need it."""
        if self.replacement:
            idx = self.rng.integers(0, len(self._order), size=self.batch_size)
            return idx if self._rows is None else self._rows[idx]
        if self._pos + self.batch_size > len(self._order):
            self.rng.shuffle(self._order)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx

    def _fill(self, slot: int, idx: NDArray[np.intp]) -> None:
        """Gather rows `idx` into the buffers of `slot`, as floats scaled to [0, 1]."""
        # mode="clip" skips the bounds check that would make np.take buffer its output; the indices
        # are in range by construction.
        np.take(self.images, idx, axis=0, out=self._x_u8, mode="clip")
        np.take(self.labels, idx, out=self._y[slot], mode="clip")
        np.divide(self._x_u8, PIXEL_MAX, out=self._x[slot], dtype=self.dtype)

    def _fill_all(self, batches: list[tuple[int, NDArray[np.intp]]]) -> None:
        for slot, idx in batches:
            self._fill(slot, idx)

    def _wait_ahead(self) -> None:
        """Wait for the batches being drawn ahead, if the helper may still be drawing them.

        A stop signal raises while waiting and leaves them in flight (the next wait waits again); an
        error of the helper's drops them and is raised here.
        """
        if self._in_flight:
            assert self._helper is not None
            error = self._helper.wait()
            self._in_flight = False
            if error is not None:
                self._ahead.clear()
                raise error

    def state(self) -> dict[str, Any]:
        """Where the sampler is: its order, position, count and generator, to continue bit for bit."""
        return {
            "order": self._order.copy(),
            "pos": self._pos,
            "batches_drawn": self.batches_drawn,
            "rng": self.rng.bit_generator.state,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from `state` (of `state()`, for the same rows and batch size)."""
        self._wait_ahead()  # the batches drawn ahead are the old position's
        self._ahead.clear()
        order = np.asarray(state["order"], dtype=np.intp)
        if order.shape != self._order.shape:
            raise ValueError(f"a sampler of {len(order)} rows cannot continue one of {len(self._order)}")
        self._order[...] = order
        self._pos = int(state["pos"])
        self.batches_drawn = int(state["batches_drawn"])
        self.rng.bit_generator.state = dict(state["rng"])

    def __repr__(self) -> str:
        mode = "with replacement" if self.replacement else "epochs without replacement"
        return (
            f"BatchSampler({len(self._order)} examples, batch {self.batch_size}, {self.dtype}, {mode}, "
            f"epoch {self.epoch:.2f})"
        )


class ChunkReader:
    """Every example of a set, in order, as (images/255, intp labels) chunks of at most `chunk` rows.

    The float buffer is allocated once and reused by every pass: the test set, evaluated every few
    hundred updates, is converted again each time into the same memory. The labels become intp once.
    Each chunk is a view (of the buffer, of the labels): use it before asking for the next.
    """

    def __init__(
        self,
        images_u8: NDArray[np.uint8],
        labels: NDArray[np.integer[Any]],
        chunk: int = EVAL_CHUNK,
        dtype: DTypeLike = np.float32,
    ) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        self.images = images_u8
        self.labels = labels.astype(np.intp)
        self.chunk = chunk
        self.dtype = _check_float(dtype)
        self._x = np.empty((min(chunk, len(images_u8)), images_u8.shape[1]), dtype=self.dtype)

    def __iter__(self) -> Iterator[tuple[NDArray[np.floating[Any]], NDArray[np.intp]]]:
        for start in range(0, len(self.images), self.chunk):
            stop = min(start + self.chunk, len(self.images))
            x = self._x[: stop - start]
            np.divide(self.images[start:stop], PIXEL_MAX, out=x, dtype=self.dtype)
            yield x, self.labels[start:stop]

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"ChunkReader({len(self.images)} examples, chunks of {self.chunk}, {self.dtype})"


def iter_chunks(
    images_u8: NDArray[np.uint8],
    labels: NDArray[np.integer[Any]],
    chunk: int = EVAL_CHUNK,
    dtype: DTypeLike = np.float32,
) -> Iterator[tuple[NDArray[np.floating[Any]], NDArray[np.intp]]]:
    """One pass of a `ChunkReader`: every example once, in order, in chunks of at most `chunk` rows."""
    return iter(ChunkReader(images_u8, labels, chunk, dtype))
