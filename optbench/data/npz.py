"""A dataset of one's own: a NumPy `.npz` archive in the layout of Keras's `mnist.npz`.

The archive holds four arrays (others are ignored):
- `x_train`, `x_test`: the images, one per row of the first axis, of any shape (28×28, 32×32×3, a
  vector of features), flattened to one row each; train and test have the same number of values;
- `y_train`, `y_test`: integer labels, shape (N,) or (N, 1) (as Keras's CIFAR-10), one per image.

Images:
- uint8: pixels, kept as uint8 in memory and scaled by 1/255 a batch at a time, as MNIST's are;
- float16, float32, float64 or bool: values used as they are (bool as 0 and 1), kept in their own
  dtype and cast to the model's dtype a batch at a time; every value must be finite;
- any other dtype is refused: integers other than uint8 are not guessed to be pixels of some
  range; save them as uint8 pixels, or scaled as floats.

Labels: the number of classes C is the largest label + 1, at least 2; every class 0..C−1 must occur
among the training labels (labels counted from 1 leave class 0 empty and are refused). They are kept
as uint8 when C ≤ 256.

The file is read once into memory, hashed (its SHA-256 is the Dataset's `sha256`, the checksum of
exactly the bytes loaded) and parsed with `allow_pickle=False`: an archive holding Python objects is
refused, never unpickled. Every problem is a DataError naming the file and what is wrong.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.data.batches import EVAL_CHUNK
from optbench.data.datasets import Dataset
from optbench.data.idx import unreadable
from optbench.errors import DataError

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
"""The four arrays of the layout, as Keras's `mnist.npz` names them."""

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
"""How an `.npz` (a zip archive) begins: a first member, or the end record of an empty archive."""

NPY_MAGIC = b"\x93NUMPY"
"""How a single `.npy` array begins: not an archive of four."""


def cached_npz(path: Path) -> Dataset:
    """`load_npz` once per process for each file as it is now: a file rewritten since (another size
    or modification time) is read and hashed again."""
    try:
        stat = os.stat(path)
    except OSError:
        return load_npz(path)  # which says why the file cannot be read
    return _cached_npz(path.resolve(), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _cached_npz(path: Path, size: int, mtime_ns: int) -> Dataset:
    return load_npz(path)


def load_npz(path: Path) -> Dataset:
    """The dataset in the `.npz` at `path` (see the module's docstring), validated, with its SHA-256.

    Its name is the file's name without `.npz`. Raises DataError for anything missing or malformed.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from exc
    if not data.startswith(ZIP_MAGICS):
        what = "a single array (.npy)" if data.startswith(NPY_MAGIC) else "not an .npz archive"
        raise DataError(f"{path}: {what}; expected an .npz archive of {', '.join(NPZ_KEYS)}")
    arrays = _read_arrays(path, data)
    x_train, x_test = _images(path, "x_train", arrays["x_train"]), _images(path, "x_test", arrays["x_test"])
    if x_train.shape[1] != x_test.shape[1]:
        raise DataError(
            f"{path}: x_train has {x_train.shape[1]} values per image (shape {arrays['x_train'].shape[1:]}) "
            f"but x_test has {x_test.shape[1]} (shape {arrays['x_test'].shape[1:]})"
        )
    y_train = _labels(path, "y_train", arrays["y_train"], "x_train", len(x_train))
    y_test = _labels(path, "y_test", arrays["y_test"], "x_test", len(x_test))
    classes = int(max(y_train.max(), y_test.max())) + 1
    _check_classes(path, y_train, classes)
    label_dtype = np.uint8 if classes <= 256 else np.intp
    return Dataset(
        path.stem,
        train_images=_read_only(x_train),
        train_labels=_read_only(y_train.astype(label_dtype)),
        test_images=_read_only(x_test),
        test_labels=_read_only(y_test.astype(label_dtype)),
        classes=classes,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _read_arrays(path: Path, data: bytes) -> dict[str, NDArray[Any]]:
    """The four arrays of the archive `data`, never unpickling anything."""
    arrays: dict[str, NDArray[Any]] = {}
    try:
        # BytesIO shares the bytes it is given until written to: no second copy of the file.
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                holds = ", ".join(archive.files) or "nothing"
                raise DataError(
                    f"{path}: no {', '.join(missing)} (it holds: {holds}); an .npz dataset holds "
                    f"{', '.join(NPZ_KEYS)} as Keras's mnist.npz"
                )
            for key in NPZ_KEYS:
                arrays[key] = _member(path, archive, key)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz archive: {exc}") from exc
    return arrays


def _member(path: Path, archive: Any, key: str) -> NDArray[Any]:
    try:
        array: NDArray[Any] = archive[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(
                f"{path}: {key} holds Python objects (a pickled array), which are never loaded: save numbers"
            ) from exc
        raise DataError(f"{path}: {key}: cannot read: {exc}") from exc
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: {key}: cannot read: {exc}") from exc
    if not isinstance(array, np.ndarray):  # NumPy hands over a member without the .npy header as bytes
        raise DataError(f"{path}: {key}: cannot read: not a NumPy array (.npy) inside the archive")
    return array


def _images(path: Path, key: str, array: NDArray[Any]) -> NDArray[Any]:
    """`array` checked as images and flattened to (examples, values)."""
    if array.ndim < 2:
        raise DataError(
            f"{path}: {key} has shape {array.shape}: expected one image per row, (examples, values...) "
            "such as (60000, 28, 28)"
        )
    if len(array) == 0:
        raise DataError(f"{path}: {key} holds no images")
    if array[0].size == 0:
        raise DataError(f"{path}: {key} has shape {array.shape}: its images hold no values")
    dtype = array.dtype
    if dtype.kind in "iu" and dtype != np.uint8:
        raise DataError(
            f"{path}: {key} is {dtype}: integer images must be uint8 pixels (0 to 255, scaled by 1/255 "
            "as MNIST's); save other values as floats, which are used as they are"
        )
    if not (dtype == np.uint8 or dtype.kind == "b" or dtype in (np.float16, np.float32, np.float64)):
        raise DataError(f"{path}: {key} is {dtype}: images must be uint8 pixels, or float or bool values")
    flat = np.ascontiguousarray(array.reshape(len(array), -1))
    if flat.dtype.kind == "f":
        _check_finite(path, key, flat)
    return flat


def _check_finite(path: Path, key: str, images: NDArray[Any]) -> None:
    """Every value finite; checked a chunk of rows at a time so the test costs little memory."""
    for start in range(0, len(images), EVAL_CHUNK):
        bad = ~np.isfinite(images[start : start + EVAL_CHUNK])
        if bad.any():
            row, column = np.argwhere(bad)[0]
            value = images[start + row, column]
            raise DataError(f"{path}: {key}: image {start + row} holds {value} (value {column}): not finite")


def _labels(
    path: Path, key: str, array: NDArray[Any], images_key: str, n_images: int
) -> NDArray[np.integer[Any]]:
    """`array` checked as the labels of `n_images` images, as a 1-D integer array."""
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(f"{path}: {key} has shape {array.shape}: expected one label per image, ({n_images},)")
    if len(array) != n_images:
        raise DataError(f"{path}: {images_key} holds {n_images} images but {key} holds {len(array)} labels")
    if array.dtype.kind not in "iu":
        raise DataError(f"{path}: {key} is {array.dtype}: labels must be integers 0, 1, 2, ...")
    if array.min() < 0:
        raise DataError(f"{path}: {key}: label {array.min()} is negative: labels are counted from 0")
    labels: NDArray[np.integer[Any]] = array
    return labels


def _check_classes(path: Path, y_train: NDArray[np.integer[Any]], classes: int) -> None:
    """At least two classes, each of 0..classes−1 among the training labels."""
    if classes < 2:
        raise DataError(f"{path}: every label is 0: a classification dataset needs at least 2 classes")
    if classes > len(y_train):  # also keeps the count below from allocating for an absurd label
        raise DataError(
            f"{path}: the largest label is {classes - 1} but y_train holds {len(y_train)} labels: every "
            f"class 0 to {classes - 1} must occur among them"
        )
    empty = np.flatnonzero(np.bincount(y_train, minlength=classes) == 0)
    if empty.size:
        hint = " (labels counted from 1? they are counted from 0)" if empty[0] == 0 else ""
        raise DataError(
            f"{path}: y_train has no example of class {empty[0]} of 0 to {classes - 1}: every class must "
            f"occur among the training labels{hint}"
        )


def _read_only(array: NDArray[Any]) -> NDArray[Any]:
    """The array, locked: one dataset is shared by every run of a process."""
    array.flags.writeable = False
    return array
