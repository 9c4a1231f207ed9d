"""Tests for optbench/data/npz.py (a dataset of one's own in Keras's .npz layout) and the samplers of
optbench/data/batches.py on images that are not uint8 pixels."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optbench import train
from optbench.data import BatchSampler, ChunkReader, Dataset, load_npz, split
from optbench.engine import Engine
from optbench.errors import DataError


def keras_arrays(rng: np.random.Generator, n_train: int = 60, n_test: int = 20) -> dict[str, np.ndarray]:
    """Random data in the layout of Keras's mnist.npz: uint8 images of 7×5, uint8 labels 0–3."""
    return {
        "x_train": rng.integers(0, 256, size=(n_train, 7, 5), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 4,
        "x_test": rng.integers(0, 256, size=(n_test, 7, 5), dtype=np.uint8),
        "y_test": rng.integers(0, 4, size=n_test, dtype=np.uint8),
    }


def save(path: Path, arrays: dict[str, Any], compressed: bool = False) -> Path:
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_a_keras_layout_npz_round_trips_flattened_with_its_sha256(tmp_path: Path, compressed: bool) -> None:
    arrays = keras_arrays(np.random.default_rng(0))
    path = save(tmp_path / "digits.npz", arrays, compressed)
    data = load_npz(path)
    assert data.name == "digits"
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.n_features == 35 and data.n_classes == 4
    np.testing.assert_array_equal(data.train_images, arrays["x_train"].reshape(60, 35))
    np.testing.assert_array_equal(data.test_images, arrays["x_test"].reshape(20, 35))
    np.testing.assert_array_equal(data.train_labels, arrays["y_train"])
    np.testing.assert_array_equal(data.test_labels, arrays["y_test"])
    assert data.train_images.dtype == np.uint8 and data.test_images.dtype == np.uint8  # kept as uint8
    for array in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        assert not array.flags.writeable


def test_other_arrays_in_the_archive_are_ignored_and_column_labels_accepted(tmp_path: Path) -> None:
    arrays = keras_arrays(np.random.default_rng(1))
    # Keras's CIFAR-10 has labels of shape (N, 1), and int64 labels are common.
    arrays["y_train"] = arrays["y_train"].astype(np.int64).reshape(-1, 1)
    data = load_npz(save(tmp_path / "c.npz", {**arrays, "class_names": np.array(["a", "b", "c", "d"])}))
    assert data.train_labels.shape == (60,) and data.train_labels.dtype == np.uint8
    np.testing.assert_array_equal(data.train_labels, np.arange(60) % 4)


def test_the_number_of_classes_is_the_largest_label_plus_one(tmp_path: Path) -> None:
    arrays = keras_arrays(np.random.default_rng(2))
    arrays["y_train"] = np.arange(60) % 3
    arrays["y_test"] = np.zeros(20, dtype=np.int32)
    assert load_npz(save(tmp_path / "three.npz", arrays)).n_classes == 3
    arrays = keras_arrays(np.random.default_rng(2), n_train=600)
    arrays["y_train"] = np.arange(600) % 300  # more classes than fit in uint8
    arrays["y_test"] = np.full(20, 299)
    many = load_npz(save(tmp_path / "many.npz", arrays))
    assert many.n_classes == 300 and many.train_labels.dtype == np.intp


def test_the_dataset_is_hashed_from_the_bytes_it_was_read_from(tmp_path: Path) -> None:
    arrays = keras_arrays(np.random.default_rng(3))
    path = save(tmp_path / "d.npz", arrays)
    first = load_npz(path)
    arrays["y_test"] = (arrays["y_test"] + 1) % 4
    save(path, arrays)
    second = load_npz(path)
    assert first.sha256 != second.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def npz_bytes(**arrays: Any) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def malformed(name: str) -> bytes:
    """The file of one malformed dataset, built from a good one."""
    good = keras_arrays(np.random.default_rng(4))
    changes: dict[str, dict[str, Any]] = {
        "no x_test": {"x_test": None},
        "object array": {"y_test": np.array([1, "a", None] * 5, dtype=object)},
        "1-D images": {"x_train": np.zeros(60, dtype=np.uint8)},
        "no images": {"x_test": np.zeros((0, 7, 5), dtype=np.uint8)},
        "empty images": {"x_test": np.zeros((20, 0), dtype=np.uint8)},
        "int16 images": {"x_train": good["x_train"].astype(np.int16)},
        "complex images": {"x_train": good["x_train"].astype(np.complex64)},
        "nan image": {"x_train": _with(good["x_train"].astype(np.float32), (17, 3, 2), np.nan)},
        "inf image": {"x_test": _with(good["x_test"].astype(np.float64), (5, 0, 0), -np.inf)},
        "other image size": {"x_test": np.zeros((20, 6, 6), dtype=np.uint8)},
        "too few labels": {"y_train": good["y_train"][:59]},
        "labels of images' shape": {"y_train": np.zeros((60, 2), dtype=np.uint8)},
        "float labels": {"y_train": good["y_train"].astype(np.float64)},
        "negative label": {"y_test": _with(good["y_test"].astype(np.int8), (3,), -1)},
        "one class": {"y_train": np.zeros(60, dtype=np.uint8), "y_test": np.zeros(20, dtype=np.uint8)},
        "labels from 1": {"y_train": np.arange(60) % 4 + 1, "y_test": np.ones(20, dtype=np.uint8)},
        "empty class": {"y_train": np.arange(60) % 4 * 2, "y_test": np.zeros(20, dtype=np.uint8)},
        "huge label": {"y_test": _with(good["y_test"].astype(np.int64), (0,), 10**12)},
    }
    if name == "npy":
        buffer = io.BytesIO()
        np.save(buffer, good["x_train"])
        return buffer.getvalue()
    if name == "text":
        return b"x_train,y_train\n1,2\n"
    if name == "empty":
        return b""
    if name == "truncated":
        return npz_bytes(**good)[:-300]
    arrays = {**good, **changes[name]}
    return npz_bytes(**{key: value for key, value in arrays.items() if value is not None})


def _with(array: np.ndarray, index: tuple[int, ...], value: Any) -> np.ndarray:
    changed = array.copy()
    changed[index] = value
    return changed


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", r"not an \.npz archive; expected an \.npz archive of x_train, y_train, x_test, y_test"),
        ("text", r"not an \.npz archive"),
        ("npy", r"a single array \(\.npy\)"),
        ("truncated", r"not a readable \.npz archive"),
        ("no x_test", r"no x_test \(it holds: x_train, y_train, y_test\)"),
        ("object array", r"y_test holds Python objects \(a pickled array\), which are never loaded"),
        ("1-D images", r"x_train has shape \(60,\): expected one image per row"),
        ("no images", "x_test holds no images"),
        ("empty images", r"x_test has shape \(20, 0\): its images hold no values"),
        ("int16 images", "x_train is int16: integer images must be uint8 pixels"),
        ("complex images", "x_train is complex64: images must be uint8 pixels, or float or bool values"),
        ("nan image", r"x_train: image 17 holds nan \(value 17\): not finite"),
        ("inf image", r"x_test: image 5 holds -inf \(value 0\): not finite"),
        ("other image size", r"x_train has 35 values per image \(shape \(7, 5\)\) but x_test has 36"),
        ("too few labels", "x_train holds 60 images but y_train holds 59 labels"),
        ("labels of images' shape", r"y_train has shape \(60, 2\): expected one label per image, \(60,\)"),
        ("float labels", "y_train is float64: labels must be integers"),
        ("negative label", "y_test: label -1 is negative"),
        ("one class", "every label is 0: a classification dataset needs at least 2 classes"),
        ("labels from 1", r"no example of class 0 of 0 to 4: .*\(labels counted from 1\?"),
        ("empty class", "y_train has no example of class 1 of 0 to 6"),
        ("huge label", "the largest label is 1000000000000 but y_train holds 60 labels"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, name: str, message: str
) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(malformed(name))
    with pytest.raises(DataError, match=message) as raised:
        load_npz(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere\.npz: cannot read: No such file"):
        load_npz(tmp_path / "nowhere.npz")


def test_an_archive_whose_member_is_not_an_array_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            archive.writestr(f"{key}.npy", b"not an array")
    with pytest.raises(DataError, match=r"odd\.npz: x_train: cannot read"):
        load_npz(path)


# --------------------------------------------------------------------------------------------------
# images that are values, not pixels
# --------------------------------------------------------------------------------------------------


def float_dataset(tmp_path: Path, dtype: Any, n_train: int = 90) -> Dataset:
    """Three separable clusters in 6 dimensions, saved as float images of 2×3."""
    rng = np.random.default_rng(5)
    labels = np.arange(n_train + 30) % 3
    centres = np.array([[3.0, 0, 0, 0, 0, -1], [0, 3.0, 0, 1, 0, 0], [0, 0, 3.0, 0, -2, 0]])
    x = (centres[labels] + 0.3 * rng.standard_normal((len(labels), 6))).astype(dtype).reshape(-1, 2, 3)
    arrays = {
        "x_train": x[:n_train],
        "y_train": labels[:n_train],
        "x_test": x[n_train:],
        "y_test": labels[n_train:],
    }
    return load_npz(save(tmp_path / f"blobs_{np.dtype(dtype).name}.npz", arrays))


@pytest.mark.parametrize(
    ("stored", "model"), [("float32", "float32"), ("float64", "float64"), ("float16", "float32")]
)
def test_float_images_are_kept_in_their_dtype_and_batched_as_the_values_given(
    tmp_path: Path, stored: str, model: str
) -> None:
    data = float_dataset(tmp_path, stored)
    assert data.train_images.dtype == np.dtype(stored) and data.n_features == 6 and data.n_classes == 3
    sampler = BatchSampler(data.train_images, data.train_labels, 30, np.random.default_rng(0), dtype=model)
    for _ in range(5):  # across an epoch's end: the rows of each batch from the generator's permutation
        rows = sampler.rows_ahead(1)[0] if sampler.rows_ahead(1) else None
        x, y = sampler.next()
        assert x.dtype == np.dtype(model)
        if rows is not None:
            np.testing.assert_array_equal(x, data.train_images[rows].astype(model))  # no 1/255
            np.testing.assert_array_equal(y, data.train_labels[rows])
    chunks = [x.copy() for x, _ in ChunkReader(data.test_images, data.test_labels, chunk=7, dtype=model)]
    np.testing.assert_array_equal(np.concatenate(chunks), data.test_images.astype(model))


def test_the_first_float_batch_is_the_rows_of_the_generators_permutation(tmp_path: Path) -> None:
    data = float_dataset(tmp_path, np.float32)
    x, y = BatchSampler(data.train_images, data.train_labels, 90, np.random.default_rng(7)).next()
    order = np.random.default_rng(7).permutation(90)
    np.testing.assert_array_equal(x, data.train_images[order])
    np.testing.assert_array_equal(y, data.train_labels[order])


def test_bool_images_are_zeros_and_ones(tmp_path: Path) -> None:
    arrays = keras_arrays(np.random.default_rng(6))
    arrays["x_train"] = arrays["x_train"] > 127
    arrays["x_test"] = arrays["x_test"] > 127
    data = load_npz(save(tmp_path / "binary.npz", arrays))
    (x, _), *_ = ChunkReader(data.train_images, data.train_labels, chunk=60)
    np.testing.assert_array_equal(x, arrays["x_train"].reshape(60, 35).astype(np.float32))


def test_integer_images_of_another_dtype_are_refused_by_the_samplers() -> None:
    with pytest.raises(ValueError, match="images must be a 2-D array of uint8 pixels or of float or bool"):
        BatchSampler(
            np.zeros((4, 3), dtype=np.int32), np.zeros(4, dtype=np.uint8), 2, np.random.default_rng(0)
        )


def test_the_validation_split_of_an_npz_dataset_keeps_its_dtype(tmp_path: Path) -> None:
    data = float_dataset(tmp_path, np.float64)
    held_out = split(data, 15, seed=0)
    assert held_out.val_images.dtype == np.float64 and len(held_out.val_labels) == 15
    assert len(held_out.train_rows) == 75


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_network_learns_an_npz_dataset_of_three_classes_with_either_engine(
    tmp_path: Path, dtype: str
) -> None:
    from optbench.config import validate_run

    raw = {
        "experiment": "x",
        "task": {"dataset": "mnist", "validation": 15},
        "model": {"hidden": [8], "dtype": dtype},
        "optimizer": {"name": "adam", "lr": 0.05},
        "train": {"steps": 60, "eval_every": 20, "batch_size": 15},
    }
    run, problems = validate_run(raw)
    assert run is not None, problems
    data = float_dataset(tmp_path, dtype)
    rows: list[Any] = []
    outcome = train.run_dataset(run, rows.append, dataset=data)
    assert outcome.status == "completed"
    assert outcome.final_test_acc is not None and outcome.final_test_acc > 0.9
    # The engine that fills batches ahead on a helper thread fills these the same way.
    beside: list[Any] = []
    assert train.run_dataset(run, beside.append, dataset=data, engine=Engine.OVERLAPPED) == outcome
    assert [r[:-1] for r in beside] == [r[:-1] for r in rows]  # elapsed_s aside
