# Every target works from a fresh clone: it builds what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup data demo test test-quick test-torch lint bench clean

BENCH_ARGS ?=

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,tune,dask,formula]'
	touch $(STAMP)

data: setup
	$(BIN)/optbench data fetch

demo: setup data
	$(BIN)/optbench suite configs/demo.yaml

# The optional modules `make setup` installs: a test that needs one fails without it, rather than skip.
REQUIRED := optuna,distributed,sympy

test: setup data
	OPTBENCH_REQUIRE=$(REQUIRED) $(BIN)/pytest

# The cross-checks against torch.optim, once torch is in the venv (see the README).
test-torch: setup
	OPTBENCH_REQUIRE=torch $(BIN)/pytest -m torch

test-quick: setup
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check optbench tests benchmarks
	$(BIN)/ruff format --check optbench tests benchmarks
	$(BIN)/mypy

bench: setup data
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
