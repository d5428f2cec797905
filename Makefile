# Qasid: `make run` starts the bot (console when no token is set), `make test` runs ruff, mypy
# and the suite, `make test-fast` the same but the tests marked slow (the inner loop),
# `make test-pg` runs `make test` with its PostgreSQL half too, on scripts/pg-test-cluster
# (started when not running, left running for the next run; `scripts/pg-test-cluster stop`).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: run test test-fast test-pg lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m bot

test: $(VENV)/.installed
	$(BIN)/python -m ruff check bot tests bench
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed
	$(BIN)/python -m ruff check bot tests bench
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q -m "not slow"

test-pg: $(VENV)/.installed
	url="$$(scripts/pg-test-cluster start)" && QASID_TEST_PG="$$url" $(MAKE) test

bench: $(VENV)/.installed
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/parse_bench.py
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/file_fuzz_bench.py
	$(BIN)/python bench/plan_bench.py
	$(BIN)/python bench/delete_bench.py
	$(BIN)/python bench/render_bench.py
	$(BIN)/python bench/dispatch_bench.py
	$(BIN)/python bench/webhook_bench.py
	$(BIN)/python bench/webhook_memory_bench.py
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/report_bench.py
	$(BIN)/python bench/webhooks_bench.py
	$(BIN)/python bench/post_mortem_bench.py
	$(BIN)/python bench/scale_bench.py claim
	$(BIN)/python bench/scale_bench.py dispatch
