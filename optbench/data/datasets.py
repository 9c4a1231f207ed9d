"""Datasets: where they live, loading and checking them, what the cache holds, and the registry.

A dataset in MNIST layout is four IDX files. MNIST itself is loaded from the cache with every
checksum verified; any other dataset in that layout (Fashion-MNIST, KMNIST, ...) from a folder, as
it is. `DATASETS` lists what a config may name, with each one's image shape and classes.
"""

from __future__ import annotations

import gzip
import os
import shlex
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.data.checksums import MNIST_FILES, file_sha256, read_verified
from optbench.data.idx import (
    GZIP_MAGIC,
    IDX_NAMES,
    IDX_UBYTE,
    MNIST_CLASSES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    parse_idx,
    read_idx,
)
from optbench.errors import DataError
from optbench.registry import Registry


def default_data_dir() -> Path:
    """`$OPTBENCH_DATA` if set, else `$XDG_CACHE_HOME/optbench/mnist`, else `~/.cache/optbench/mnist`."""
    explicit = os.environ.get("OPTBENCH_DATA")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative $XDG_CACHE_HOME is invalid and must be ignored.
    root = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    return root / "optbench" / "mnist"


def _fetch_command(data_dir: Path | None) -> str:
    """The shell command that fetches MNIST into `data_dir`."""
    if data_dir is None or data_dir.resolve() == default_data_dir().resolve():
        return "optbench data fetch"
    return f"optbench data fetch --data-dir {shlex.quote(str(data_dir))}"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset: images flattened to one row each, integer labels 0 to classes − 1.

    Images of dtype uint8 are pixels, scaled by 1/255 as they are drawn (MNIST's, and an `.npz`'s
    uint8 images); images of a floating dtype or bool are values used as they are (see
    `optbench.data.npz`). Arrays loaded from files are read-only: shared, never copied.
    """

    name: str
    train_images: NDArray[Any]
    train_labels: NDArray[np.integer[Any]]
    test_images: NDArray[Any]
    test_labels: NDArray[np.integer[Any]]
    classes: int = MNIST_CLASSES
    """How many classes: fixed at 10 by the MNIST layout (labels are checked to lie in 0–9 at load),
    the largest label + 1 for an `.npz`."""
    sha256: str | None = None
    """The SHA-256 of the one file the dataset was read from (an `.npz`), to record with each run;
    None for MNIST's four files, whose checksums are pinned (`MNIST_FILES`)."""

    @property
    def n_features(self) -> int:
        """Values per image (rows·cols for a grey image): 784 for MNIST."""
        return int(self.train_images.shape[1])

    @property
    def n_classes(self) -> int:
        """Outputs of the network: `classes`, not the number of distinct labels seen."""
        return self.classes

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train {self.train_images.shape[0]}×{self.n_features}, "
            f"test {self.test_images.shape[0]}×{self.n_features}, {self.n_classes} classes)"
        )


def _assemble(name: str, arrays: dict[str, NDArray[np.uint8]], paths: dict[str, Path]) -> Dataset:
    """Check that the four arrays fit together as a dataset in MNIST layout."""
    for images, labels in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        if arrays[images].ndim != 2:
            raise DataError(f"{paths[images]}: holds labels (1 dimension), expected images (3 dimensions)")
        if arrays[labels].ndim != 1:
            raise DataError(f"{paths[labels]}: holds images (3 dimensions), expected labels (1 dimension)")
        n_images, n_labels = len(arrays[images]), len(arrays[labels])
        if n_images != n_labels:
            raise DataError(
                f"{paths[images]} holds {n_images} images but {paths[labels]} holds {n_labels} labels"
            )
        if n_images == 0:
            raise DataError(f"{paths[images]}: holds no images")
        if arrays[labels].max() >= MNIST_CLASSES:
            raise DataError(
                f"{paths[labels]}: label {arrays[labels].max()} out of range: the MNIST layout has "
                f"labels 0 to {MNIST_CLASSES - 1}"
            )
    if arrays[TRAIN_IMAGES].shape[1] != arrays[TEST_IMAGES].shape[1]:
        raise DataError(
            f"{paths[TRAIN_IMAGES]} has {arrays[TRAIN_IMAGES].shape[1]} pixels per image but "
            f"{paths[TEST_IMAGES]} has {arrays[TEST_IMAGES].shape[1]}"
        )
    return Dataset(
        name,
        train_images=arrays[TRAIN_IMAGES],
        train_labels=arrays[TRAIN_LABELS],
        test_images=arrays[TEST_IMAGES],
        test_labels=arrays[TEST_LABELS],
    )


def load_mnist(data_dir: Path | None = None) -> Dataset:
    """Load MNIST from `data_dir` (default: `default_data_dir()`), verifying every checksum.

    A file is hashed once per process and version of the file, so loading again costs only the read.
    Missing files or a checksum mismatch raise DataError with the command that fetches the data.
    """
    folder = default_data_dir() if data_dir is None else data_dir
    command = _fetch_command(data_dir)
    specs = {spec.name: spec for spec in MNIST_FILES}
    paths = {name: folder / name for name in IDX_NAMES}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        where = "the folder does not exist" if not folder.is_dir() else f"missing {', '.join(missing)}"
        raise DataError(f"MNIST is not in {folder} ({where}); fetch it with: {command}")
    arrays = {
        name: parse_idx(read_verified(path, specs[name], command), path) for name, path in paths.items()
    }
    return _assemble("mnist", arrays, paths)


def load_idx_folder(folder: Path, name: str) -> Dataset:
    """Load any dataset in MNIST layout (Fashion-MNIST, KMNIST, ...) from `folder`, without checksums.

    Each of the four files may be raw or gzip-compressed, named with or without `.gz`.
    """
    paths: dict[str, Path] = {}
    for base in IDX_NAMES:
        found = [p for p in (folder / base, folder / f"{base}.gz") if p.is_file()]
        if not found:
            raise DataError(f"{folder} has no {base} (nor {base}.gz): expected the four MNIST-layout files")
        paths[base] = found[0]
    return _assemble(name, {base: read_idx(path) for base, path in paths.items()}, paths)


IDX_LABEL_HEADER = 8
"""Bytes before the labels of an IDX label file: its magic number and its count."""


def train_set_size(dataset: str, data_dir: Path | None = None) -> int | None:
    """The number of training examples, read from the label file's header alone; None if unknown.

    For config validation (a batch larger than the training set): cheap, and silent when the data
    is not there yet, since loading it reports that properly. `data_dir` None means the dataset's
    default folder; otherwise any folder in MNIST layout (raw or `.gz` labels).
    """
    if dataset not in DATASETS:
        return None
    folder = default_data_dir() if data_dir is None else data_dir
    for path in (folder / TRAIN_LABELS, folder / f"{TRAIN_LABELS}.gz"):
        try:
            with path.open("rb") as raw:
                compressed = raw.read(2) == GZIP_MAGIC
                raw.seek(0)
                header = gzip.GzipFile(fileobj=raw).read(8) if compressed else raw.read(8)
        except (OSError, EOFError, zlib.error):
            continue
        if len(header) == 8 and header[:4] == bytes([0, 0, IDX_UBYTE, 1]):
            return int.from_bytes(header[4:], "big")
    return None


def pinned_train_set_size(dataset: str) -> int | None:
    """The number of training examples a registered dataset has once loaded from its default folder,
    from its pinned label file (whose checksum loading enforces), or None; for counting epochs where
    the data is not (yet) present, such as the client of a cluster whose workers hold the data."""
    if dataset != "mnist":
        return None
    (labels,) = [f for f in MNIST_FILES if f.name == TRAIN_LABELS]
    return labels.size - IDX_LABEL_HEADER


@dataclass(frozen=True)
class FileStatus:
    """One raw MNIST file as found on disk; `checksum_ok` is None when the file is absent."""

    name: str
    present: bool
    size: int | None
    expected_size: int
    checksum_ok: bool | None


@dataclass(frozen=True)
class DataInfo:
    """What `optbench data info` reports: the folder, each file, and the counts when the data loads."""

    folder: Path
    files: tuple[FileStatus, ...]
    n_train: int | None
    n_test: int | None
    problem: str | None
    """Why the data does not load (with the command that fixes it), None when it does."""
    is_mnist: bool = True
    """False for another dataset in MNIST layout (Fashion-MNIST, say): no file has MNIST's checksum,
    but the four files load; the counts are its own, and `task.data_dir` can train on it."""
    pixels: int | None = None
    """Pixels per image, when the data loads."""


def data_info(data_dir: Path | None = None) -> DataInfo:
    """Inspect the MNIST cache in `data_dir` (default: `default_data_dir()`) without changing it."""
    folder = default_data_dir() if data_dir is None else data_dir
    files = []
    for spec in MNIST_FILES:
        path = folder / spec.name
        packed = folder / f"{spec.name}.gz"
        if path.is_file():
            size = path.stat().st_size
            try:
                ok = size == spec.size and file_sha256(path) == spec.sha256
            except DataError:
                ok = False
            files.append(FileStatus(spec.name, True, size, spec.size, ok))
        elif packed.is_file():  # the cache holds MNIST raw: a compressed file is some other copy
            files.append(FileStatus(packed.name, True, packed.stat().st_size, spec.size, False))
        else:
            files.append(FileStatus(spec.name, False, None, spec.size, None))
    other = None
    try:
        dataset = load_mnist(data_dir)
    except DataError as exc:
        other = _other_dataset(folder, files)
        if other is None:
            return DataInfo(folder, tuple(files), None, None, str(exc))
        dataset = other
    return DataInfo(
        folder,
        tuple(files),
        len(dataset.train_labels),
        len(dataset.test_labels),
        None,
        is_mnist=other is None,
        pixels=dataset.n_features,
    )


def _other_dataset(folder: Path, files: list[FileStatus]) -> Dataset | None:
    """The folder's dataset when it is another one in MNIST layout: no file of it is one of MNIST's
    (a folder where some are is MNIST with a damaged file) and the four load together."""
    if any(f.checksum_ok for f in files) or not all(f.present for f in files):
        return None
    try:
        return load_idx_folder(folder, folder.name)
    except DataError:
        return None


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its name, a one-line summary, its shape, and how to load it from a folder."""

    name: str
    summary: str
    image_shape: tuple[int, int]
    classes: int
    load: Callable[[Path | None], Dataset]

    @property
    def n_features(self) -> int:
        """Inputs of the network: pixels per image."""
        return self.image_shape[0] * self.image_shape[1]


DATASETS: Registry[DatasetEntry] = Registry("dataset")
DATASETS.register(
    DatasetEntry(
        "mnist",
        "handwritten digits, 60000 train / 10000 test images of 28×28, 10 classes",
        image_shape=(28, 28),
        classes=MNIST_CLASSES,
        load=load_mnist,
    )
)
