"""Shared test set-up: the real MNIST when it is cached, and whether a package registry answers."""

from __future__ import annotations

import importlib
import os
import signal
import socket
from collections.abc import Iterator
from types import ModuleType

import pytest

import optbench  # noqa: F401  (imported first: it pins BLAS to one thread before NumPy loads)
from optbench.data import Dataset, data_info, load_mnist


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the tests and the processes they start, even under a shell that ignores it.

    A non-interactive shell starts a command sent to the background (`make test &`) with SIGINT
    ignored, and an ignored signal stays ignored across exec: the tests of what a stop signal does
    would then see none. A handler, unlike SIG_IGN, is reset to the default on exec.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def mnist() -> Dataset:
    """Real MNIST from the data cache, checksums verified; the test is skipped when it is not there.

    `make test` fetches it first (`make data`); `make test-quick` does not, and skips these tests.
    """
    info = data_info()
    if info.problem is not None:
        pytest.skip(f"needs MNIST in the data cache (run `make data`): {info.problem}")
    return load_mnist()


def reachable(host: str, port: int = 443, timeout: float = 5.0) -> bool:
    """Whether a TCP connection to host:port opens within `timeout` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def npm_registry() -> None:
    """Skips the test when the npm registry cannot be reached (no network)."""
    if not reachable("registry.npmjs.org"):
        pytest.skip("needs the npm registry, which cannot be reached from here")


REQUIRE = "OPTBENCH_REQUIRE"
"""Optional modules that must be there, comma-separated (`make test` names those `make setup` installs,
CI's second step adds torch): a test that needs one of them fails, instead of skipping, without it."""


def need(module: str) -> ModuleType:
    """Import an optional module, or skip the test for want of it, unless $OPTBENCH_REQUIRE names it:
    then its ImportError fails the test, so that a missing install step cannot pass as a skip."""
    if module in os.environ.get(REQUIRE, "").split(","):
        return importlib.import_module(module)
    return pytest.importorskip(module)


@pytest.fixture(autouse=True, scope="module")
def built_ins_only() -> Iterator[None]:
    """Each test module ends with the plugins it installed removed from the registries, so that the
    next module (which may count every registered optimizer) sees the built-ins alone."""
    yield
    from optbench import plugins

    plugins.forget()
