# Signal Server. `make run` serves on http://127.0.0.1:$(PORT); `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# `make run` is the development entry point: debug defaults on (so no secret key is needed) unless set.
export DJANGO_DEBUG ?= true

.PHONY: help venv install run test test-fast lint bench bench-scale migrate clean

help:
	@echo "make run       - install, migrate and serve web + worker on http://127.0.0.1:$(PORT)"
	@echo "make test      - the whole suite, on SQLite + local memory, then on PostgreSQL + Redis"
	@echo "make test-fast - the tests that need nothing but Python, on SQLite + local memory"
	@echo "make lint      - ruff, and import-linter's check that apps import downward only"
	@echo "make bench     - measure ingress and delivery throughput and latency"
	@echo "make bench-scale - admin, API and ingress times on 1,000 to 1,000,000 seeded e-mails (BENCH_SCALE_ARGS)"

$(PY):
	@interpreter=$$(scripts/find-python) && "$$interpreter" -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) requirements.txt requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

venv install: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap

run: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	exec $(PY) manage.py serve --port $(PORT)

# PostgreSQL, Redis, Chromium and Node.js are installed from the distribution's packages when missing
# (root or passwordless sudo); otherwise the run stops here and names the command that installs them.
# The servers run on free loopback ports for the length of each pytest run (tests/servers.py).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m tests.prerequisites --install
	@echo "=== make test: SQLite (WAL) + local-memory cache ==="
	$(PY) -m pytest --stack=embedded $(PYTEST_ARGS)
	@echo "=== make test: PostgreSQL + Redis ==="
	$(PY) -m pytest --stack=servers $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest --stack=embedded -m "not needs" $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

# Seeds throw-away SQLite and PostgreSQL databases; e.g. BENCH_SCALE_ARGS="--sizes 1000,100000 --databases sqlite".
bench-scale: $(STAMP)
	$(PY) -m bench.scale $(BENCH_SCALE_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
