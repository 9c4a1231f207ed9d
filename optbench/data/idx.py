"""The IDX file format and the MNIST layout: the four file names, and reading one file, raw or gzip.

A file is read whole and parsed from its bytes; the arrays are read-only views of those bytes. Every
problem (unreadable, truncated, over-long, not IDX, an unsupported type) is a `DataError` naming the
file.
"""

from __future__ import annotations

import gzip
import math
import mmap
import struct
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from optbench.errors import DataError

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IDX_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
"""The four files of the MNIST layout, shared by Fashion-MNIST, KMNIST and others."""

MNIST_CLASSES = 10
"""Every dataset in MNIST layout has ten classes, labelled 0 to 9."""


def unreadable(path: Path, exc: OSError) -> DataError:
    """The error for a data file the system refuses to read (missing, a folder, no permission)."""
    return DataError(f"{path}: cannot read: {exc.strerror or exc}")


IDX_UBYTE = 0x08
_IDX_TYPES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short",
    0x0C: "int",
    0x0D: "float",
    0x0E: "double",
}
GZIP_MAGIC = b"\x1f\x8b"
"""The first two bytes of every gzip stream: how a compressed file is recognised, whatever its name."""


def parse_idx(data: bytes | mmap.mmap, path: Path) -> NDArray[np.uint8]:
    """The array an IDX file holds, a read-only view of `data`: labels as (N,), images flattened to
    (N, rows·cols). Every problem is a DataError naming `path`."""

    def fail(problem: str) -> DataError:
        return DataError(f"{path}: {problem}")

    if len(data) < 4:
        raise fail(f"truncated: {len(data)} bytes, too short for the 4-byte IDX magic number")
    magic = int.from_bytes(data[:4], "big")
    if data[0] != 0 or data[1] != 0:
        raise fail(f"not an IDX file: magic number 0x{magic:08X}, expected 0x00000801 or 0x00000803")
    type_code, ndim = data[2], data[3]
    if type_code != IDX_UBYTE:
        kind = _IDX_TYPES.get(type_code, "unknown")
        raise fail(f"unsupported IDX data type 0x{type_code:02X} ({kind}); only 0x08 (unsigned byte) is read")
    if ndim not in (1, 3):
        raise fail(f"unsupported IDX magic number 0x{magic:08X}: {ndim} dimensions, expected 1 or 3")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise fail(f"truncated: expected a {header}-byte header, found {len(data)} bytes")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    count = math.prod(dims)
    expected = header + count
    if len(data) < expected:
        raise fail(f"truncated: expected {expected} bytes, found {len(data)}")
    if len(data) > expected:
        raise fail(f"{len(data) - expected} trailing bytes: expected {expected} bytes, found {len(data)}")
    values = np.frombuffer(data, dtype=np.uint8, count=count, offset=header)
    return values if ndim == 1 else values.reshape(dims[0], dims[1] * dims[2])


def read_idx(path: Path) -> NDArray[np.uint8]:
    """Read an IDX file of unsigned bytes, raw or gzip-compressed (recognised by its content).

    Labels come back as (N,), images as (N, rows·cols). The array is read-only: it is a view of the
    file's bytes, not a copy. A missing, truncated, over-long or non-IDX file raises DataError.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from exc
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip data: {exc}") from exc
    return parse_idx(data, path)
