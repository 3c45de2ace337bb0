# squall — the two commands a new user needs are `make run` and `make test`.
# Every target creates .venv and installs what it needs on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.squall-installed
PORT   ?= 8888
ARGS   ?=

.PHONY: run test lint typecheck pytest bench compat clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,curl]'
	touch $(STAMP)

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	touch $@

run: $(STAMP)
	$(BIN)/python -m demos --port $(PORT) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check squall tests bench demos
	$(BIN)/ruff format --check squall tests bench demos

typecheck: $(STAMP)
	$(BIN)/mypy --strict squall

pytest: $(STAMP)
	$(BIN)/python -m pytest --cov=squall --cov-report=term $(ARGS)
	# A second pass over the core and networking in asyncio's debug mode, on
	# the standard library's loop (whose debug checks go furthest): it catches
	# never-awaited coroutines, callbacks on the wrong thread, slow callbacks.
	SQUALL_LOOP=asyncio PYTHONASYNCIODEBUG=1 $(BIN)/python -m pytest -q -m "not slow" -p no:cov tests/core tests/net

test: lint typecheck pytest

# Tornado's own test suite against squall (downloads Tornado's wheel from PyPI
# into ~/.cache/squall-compat; nothing is stored here). docs/compat.md.
compat: $(STAMP)
	$(BIN)/python compat/run_tornado_suite.py $(ARGS)

bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) .coverage htmlcov .mypy_cache .ruff_cache
