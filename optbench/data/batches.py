"""Minibatches and evaluation chunks: images become floats a batch or a chunk at a time.

Each sampler or reader allocates its float buffer once and converts into it on every call, so the
images stay in their own dtype in memory: uint8 for MNIST (47 MB for its training set). uint8 images
are pixels, scaled by 1/PIXEL_MAX; images of a floating dtype or bool (an `.npz` dataset's) are
values, cast to the model's dtype as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from optbench.errors import DataError

PIXEL_MAX = 255
"""uint8 images are scaled to [0, 1] by dividing by this, exactly (not by multiplying by its inverse)."""

EVAL_CHUNK = 2000
"""Default rows per evaluation chunk: big enough for efficient matrix products, small in memory."""


def updates_per_epoch(train_size: int, batch_size: int) -> int:
    """The updates of one epoch: max(⌊train_size / batch_size⌋, 1).

    The book counts max(train_size / batch_size, 1) updates, a float; rounded down it is one pass of
    `BatchSampler`'s order (which drops the last partial batch), and the same number whenever the batch
    size divides the training set, as in every script of the book.
    """
    return max(train_size // batch_size, 1)


def _check_float(dtype: DTypeLike) -> np.dtype[Any]:
    resolved = np.dtype(dtype)
    if resolved.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {resolved}")
    return resolved


def _check_images(images: NDArray[Any]) -> bool:
    """Whether `images` are uint8 pixels (else floating or bool values); ValueError for anything else."""
    if images.ndim != 2 or not (images.dtype == np.uint8 or images.dtype.kind in "fb"):
        raise ValueError(
            f"images must be a 2-D array of uint8 pixels or of float or bool values, "
            f"got {images.ndim}-D {images.dtype}"
        )
    return bool(images.dtype == np.uint8)


class BatchSampler:
    """Draws minibatches of (images/255, labels) into buffers allocated once (images as they are
    when they are not uint8: see the module's docstring).

    `next()` returns arrays that a later call overwrites: a caller that wants to keep a batch must
    copy it. x is (batch_size, n_features) in `dtype`, y is intp labels.

    `rows` (default: every row) are the examples it draws from, the training part of a split; the
    images stay where they are. Without replacement (the default), each epoch is a fresh random order
    of the rows from `rng` (for every row, the first one equals `rng.permutation(n)`), cut into
    consecutive batches; the last n mod batch_size examples of each epoch's order are dropped, so every
    batch is full and no example appears twice in an epoch. With `replacement=True` each batch is
    batch_size independent uniform draws, as the book's `np.random.choice(n, batch_size)`; then
    `Generator.integers`, which has no `out=`, returns a fresh index array per call.

    `next()` is `next_rows()` (where the generator is drawn from) followed by `fill()`; `rows_ahead`
    tells the rows of the batches after the next one that are known without the generator, which
    lets the engine fill them beforehand on a spare core (`optbench.engine`).
    """

    def __init__(
        self,
        images: NDArray[Any],
        labels: NDArray[np.integer[Any]],
        batch_size: int,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
        replacement: bool = False,
        rows: NDArray[np.intp] | None = None,
    ) -> None:
        self._pixels = _check_images(images)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
        self._rows = None if rows is None else np.asarray(rows, dtype=np.intp)
        n = len(images) if self._rows is None else len(self._rows)
        if batch_size < 1 or (batch_size > n and not replacement):
            raise DataError(f"batch size {batch_size} does not fit {n} training examples")
        self.images = images
        self.labels = labels.astype(np.intp)  # once, so that each gather is a same-type np.take
        self.batch_size = batch_size
        self.rng = rng
        self.dtype = _check_float(dtype)
        self.replacement = replacement
        self.batches_drawn = 0
        self._order = np.arange(n, dtype=np.intp) if self._rows is None else self._rows.copy()
        self._pos = n  # the first call starts an epoch
        self._scratch = np.empty((batch_size, images.shape[1]), dtype=images.dtype)
        self._x, self._y = self.new_buffers()

    @property
    def rows(self) -> int:
        """How many training examples it draws from."""
        return len(self._order)

    @property
    def epoch(self) -> float:
        """Training examples drawn so far, in units of the training set's size."""
        return self.batches_drawn * self.batch_size / len(self._order)

    def next(self) -> tuple[NDArray[np.floating[Any]], NDArray[np.intp]]:
        """The next minibatch (x, y), in the sampler's reused buffers."""
        self.fill(self.next_rows(), self._x, self._y, self._scratch)
        return self._x, self._y

    def next_rows(self) -> NDArray[np.intp]:
        """The rows of the next batch, drawn from the generator where they need it; counts the batch."""
        self.batches_drawn += 1
        if self.replacement:
            idx = self.rng.integers(0, len(self._order), size=self.batch_size)
            return idx if self._rows is None else self._rows[idx]
        if self._pos + self.batch_size > len(self._order):
            self.rng.shuffle(self._order)
            self._pos = 0
        idx = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx

    def rows_ahead(self, count: int) -> list[NDArray[np.intp]]:
        """The rows of up to `count` batches after the last one drawn that are known already: those
        left in this epoch's order (none with replacement, where every batch draws anew)."""
        if self.replacement:
            return []
        size = self.batch_size
        count = min(count, (len(self._order) - self._pos) // size)
        return [self._order[s : s + size] for s in range(self._pos, self._pos + count * size, size)]

    def new_buffers(self) -> tuple[NDArray[np.floating[Any]], NDArray[np.intp]]:
        """A pair of arrays to fill a batch into."""
        return (
            np.empty((self.batch_size, self.images.shape[1]), dtype=self.dtype),
            np.empty(self.batch_size, dtype=np.intp),
        )

    def fill(
        self, rows: NDArray[np.intp], x: NDArray[Any], y: NDArray[np.intp], scratch: NDArray[Any]
    ) -> None:
        """Gather `rows` into x (pixels scaled to [0, 1], other values as they are) and y; `scratch`
        is a buffer of the images' dtype for the gathered rows."""
        # mode="clip" skips the bounds check that would make np.take buffer its output; the indices
        # are in range by construction.
        np.take(self.images, rows, axis=0, out=scratch, mode="clip")
        np.take(self.labels, rows, out=y, mode="clip")
        if self._pixels:
            np.divide(scratch, PIXEL_MAX, out=x, dtype=self.dtype)
        else:
            np.copyto(x, scratch)

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
    """Every example of a set, in order, as (images/255, intp labels) chunks of at most `chunk` rows
    (images as they are when they are not uint8).

    The float buffer is allocated once and reused by every pass: the test set, evaluated every few
    hundred updates, is converted again each time into the same memory. The labels become intp once.
    Each chunk is a view (of the buffer, of the labels): use it before asking for the next.
    """

    def __init__(
        self,
        images: NDArray[Any],
        labels: NDArray[np.integer[Any]],
        chunk: int = EVAL_CHUNK,
        dtype: DTypeLike = np.float32,
    ) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        self._pixels = _check_images(images)
        self.images = images
        self.labels = labels.astype(np.intp)
        self.chunk = chunk
        self.dtype = _check_float(dtype)
        self._x = np.empty((min(chunk, len(images)), images.shape[1]), dtype=self.dtype)

    def __iter__(self) -> Iterator[tuple[NDArray[np.floating[Any]], NDArray[np.intp]]]:
        for start in range(0, len(self.images), self.chunk):
            stop = min(start + self.chunk, len(self.images))
            x = self._x[: stop - start]
            if self._pixels:
                np.divide(self.images[start:stop], PIXEL_MAX, out=x, dtype=self.dtype)
            else:
                np.copyto(x, self.images[start:stop])
            yield x, self.labels[start:stop]

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"ChunkReader({len(self.images)} examples, chunks of {self.chunk}, {self.dtype})"


def iter_chunks(
    images: NDArray[Any],
    labels: NDArray[np.integer[Any]],
    chunk: int = EVAL_CHUNK,
    dtype: DTypeLike = np.float32,
) -> Iterator[tuple[NDArray[np.floating[Any]], NDArray[np.intp]]]:
    """One pass of a `ChunkReader`: every example once, in order, in chunks of at most `chunk` rows."""
    return iter(ChunkReader(images, labels, chunk, dtype))
