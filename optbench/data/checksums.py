"""The pinned MNIST files and their checksums: hashing, memoised per process, and verified reads.

Each raw file has a pinned SHA-256 and size. A digest is remembered per version of a file (its path,
device, inode, size and modification time) so that loading again in the same process costs only the
read. A verified file is mapped, not copied: the hash reads it once from the page cache, and the
arrays are views of that same read-only mapping (a read into fresh memory took as long as the hash).
"""

from __future__ import annotations

import hashlib
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

from optbench.data.idx import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, unreadable
from optbench.errors import DataError


@dataclass(frozen=True)
class RawFile:
    """One decompressed IDX file as it must be: its name, SHA-256 and size in bytes."""

    name: str
    sha256: str
    size: int


MNIST_FILES: tuple[RawFile, ...] = (
    RawFile(TRAIN_IMAGES, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
    RawFile(TRAIN_LABELS, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    RawFile(TEST_IMAGES, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    RawFile(TEST_LABELS, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
)

HASH_CHUNK_BYTES = 1 << 20
"""Read size when hashing or copying a stream: large enough that per-call overhead vanishes."""

# Keyed by what identifies one version of a file without reading it. A file rewritten in place with
# the same size within one timestamp tick would be missed; a new process always hashes afresh.
_digests: dict[tuple[str, int, int, int, int], str] = {}


def _stat_key(path: Path, st: os.stat_result) -> tuple[str, int, int, int, int]:
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _sha256(data: bytes | mmap.mmap) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at `path`, hashed at most once per version of the file."""
    try:
        with path.open("rb") as f:
            key = _stat_key(path, os.fstat(f.fileno()))
            if key not in _digests:
                h = hashlib.sha256()
                while chunk := f.read(HASH_CHUNK_BYTES):
                    h.update(chunk)
                _digests[key] = h.hexdigest()
    except OSError as exc:
        raise unreadable(path, exc) from exc
    return _digests[key]


def remember_sha256(path: Path, sha256: str) -> None:
    """Record the SHA-256 of the file now at `path`, hashed as it was written, so that loading it
    in this process does not hash it again."""
    _digests[_stat_key(path, path.stat())] = sha256


def read_verified(path: Path, spec: RawFile, fetch_command: str) -> bytes | mmap.mmap:
    """The bytes of `path`, mapped read-only, after checking them against `spec`.

    A mismatch is a DataError that ends with `fetch_command`, the command that fetches the file again.
    """
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            key = _stat_key(path, st)
            # The mapping outlives the file object; an empty file cannot be mapped (and fails below).
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if st.st_size else b""
    except OSError as exc:
        raise unreadable(path, exc) from exc
    if key not in _digests:
        _digests[key] = _sha256(data)
    actual = _digests[key]
    if actual != spec.sha256 or len(data) != spec.size:
        raise DataError(
            f"{path} fails its checksum: expected sha256 {spec.sha256} ({spec.size} bytes), "
            f"actual {actual} ({len(data)} bytes); fetch it again with: {fetch_command}"
        )
    return data
