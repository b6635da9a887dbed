# Torghut — two commands: `make demo` and `make test`. Each bootstraps .venv from nothing
# (only python3 and git are assumed) using the hash-pinned lock files.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_WS ?= demo-workspace

.PHONY: demo test lint typecheck unit bench schemas lock clean

$(STAMP): requirements-dev.lock requirements-build.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-build.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/torghut demo --workspace $(DEMO_WS)

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy src/torghut/contracts

unit: $(STAMP)
	$(BIN)/pytest -n auto -p no:cacheprovider

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) requirements-bench.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-bench.lock
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python bench/features.py
	$(BIN)/python bench/plugins.py
	$(BIN)/python bench/risk_chain.py
	$(BIN)/python bench/runtime.py
	$(BIN)/python bench/stress_replay.py

schemas: $(STAMP)
	$(BIN)/torghut schemas export --out schemas

# Re-pin dependencies (needs uv); the lock files record hashes but no index address.
lock:
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements-dev.lock
	uv pip compile pyproject.toml --extra dev --extra bench --generate-hashes --python-version 3.11 -o requirements-bench.lock
	uv pip compile requirements-build.in --generate-hashes --python-version 3.11 -o requirements-build.lock

clean:
	rm -rf $(VENV) $(DEMO_WS) .pytest_cache .mypy_cache .ruff_cache
