# Entry points of the suite. `make install` once, then `make test` / `make reproduce-paper PROFILE=quick`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first and pinned: a bare `torch` requirement would pull the multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
PROFILE ?= smoke
WORKERS ?=
RESULTS ?= results/results.parquet
FIGURES_OUT ?= analysis/out
REFERENCE_TABLES := results/reference/quick.parquet results/reference/long.parquet results/reference/metaworld.parquet

.PHONY: install install-tracking claims test test-slow lint type deviations reproduce-paper eta sweep results figures bench clean

install: $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -e ".[dev]"

# TensorBoard logging of training statistics and evaluation scores (optional; runs are the same without it).
install-tracking: $(BIN)/python
	$(BIN)/python -m pip install -e ".[dev,tracking]"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The default tests on TEST_WORKERS processes (pytest-xdist; the 2 cores of CI); TEST_WORKERS=0 runs them in one.
TEST_WORKERS ?= 2
test:
	$(BIN)/python -m pytest -q $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS),)

test-slow:
	$(BIN)/python -m pytest -q -m slow -p no:cacheprovider

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

type:
	$(BIN)/mypy benchmark agents baselines analysis

# Regenerate DEVIATIONS.md's configuration section from the methods' provenance records.
deviations:
	$(BIN)/python -m benchmark.deviations --write

# The main job: the profile's whole grid, merged into one table, drawn as figures.
reproduce-paper: eta sweep results figures

# The grid's estimated cost and time on this machine, before it starts: each run priced from its own
# configuration with the rates `make bench` measured (results/bench/bench.json; benchmark/cost.py).
eta:
	@$(BIN)/python -m benchmark sweep --profile $(PROFILE) --dry-run $(if $(WORKERS),--workers $(WORKERS),) | tail -2

# A grid estimated above 1,000 CPU-hours (PROFILE=paper) starts only with YES=1 (sweep --yes).
sweep:
	$(BIN)/python -m benchmark sweep --profile $(PROFILE) $(if $(WORKERS),--workers $(WORKERS),) $(if $(YES),--yes,)

results:
	$(BIN)/python -m benchmark results --profile $(PROFILE) --out $(RESULTS)

figures:
	$(BIN)/python -m analysis --results $(RESULTS) --out $(FIGURES_OUT)

# The side-by-side document and the README's claims block, from analysis/claims.csv and the reference tables.
claims:
	$(BIN)/python -m analysis claims --results $(REFERENCE_TABLES) --out results/reference/paper_side_by_side.md --readme README.md

bench:
	$(BIN)/python -m benchmark.bench $(if $(QUICK),--quick,)
	$(BIN)/python -m agents.trmrl.bench $(if $(QUICK),--quick,)
	$(BIN)/python -m baselines.pearl.bench $(if $(QUICK),--quick,)

clean:
	rm -rf results/runs results/*.parquet $(FIGURES_OUT) .pytest_cache .ruff_cache .mypy_cache
