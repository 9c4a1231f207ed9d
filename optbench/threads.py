"""One BLAS thread wherever a run executes, however optbench was imported; and the count a run had.

Matrix products sum in an order that depends on how many threads BLAS splits them across, so the
same run on 1 or 4 BLAS threads gives different last bits, and over a run different accuracies.
`optbench/__init__.py` sets the BLAS environment variables, which work only when they come before
NumPy is first imported; a script that imports NumPy first (any use of optbench as a library) would
skip them. Every run therefore executes inside `one_blas_thread()`, which sets the limit on the BLAS
libraries already loaded (threadpoolctl) and yields the count it measured there, recorded in the
run's status.json.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

BLAS_THREADS = 1
"""The BLAS threads of every run: one, so that a run's numbers do not depend on where it runs."""


@functools.cache
def _controller() -> Any:
    """threadpoolctl's view of the thread pools loaded in this process (scanned once: slow)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[int]:
    """Hold BLAS to BLAS_THREADS threads inside the block; yields the largest count measured there."""
    controller = _controller()
    with controller.limit(limits=BLAS_THREADS, user_api="blas"):
        counts = [int(pool.num_threads) for pool in controller.select(user_api="blas").lib_controllers]
        yield max(counts, default=BLAS_THREADS)
