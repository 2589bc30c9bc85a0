# Signal Server. `make run` serves on http://127.0.0.1:$(PORT); `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# `make run` is the development entry point: debug defaults on (so no secret key is needed) unless set.
export DJANGO_DEBUG ?= true

.PHONY: help venv install run test bench migrate clean

help:
	@echo "make run    - install, migrate and serve web + worker on http://127.0.0.1:$(PORT)"
	@echo "make test   - run the whole test suite"
	@echo "make bench  - measure ingress and delivery throughput and latency"

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

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
