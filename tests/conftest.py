"""Shared test set-up."""

import optbench  # noqa: F401  (imported first: it pins BLAS to one thread before NumPy loads)
