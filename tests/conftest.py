"""Shared test set-up."""

import pytest

import optbench  # noqa: F401  (imported first: it pins BLAS to one thread before NumPy loads)
from optbench.data import default_data_dir, fetch_mnist


@pytest.fixture(scope="session")
def mnist_available() -> None:
    """Real MNIST in the default cache; `make test` fetched it already, so this is normally a no-op."""
    fetch_mnist(default_data_dir())
