# Two entry points for a fresh machine (Python 3.11+, git, make):
#   make demo  - create .venv, install, run the demo on the embedded defaults
#   make test  - create .venv, install, run lint, type checks and the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench bench-report screenshots clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/orderflow demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_service.py

bench-report: $(STAMP)
	$(BIN)/python benchmarks/bench_report.py

# Regenerate the README's report screenshots (docs/images/*.png): small real runs, their reports,
# headless Chromium (apt-get install chromium).
screenshots: $(STAMP)
	$(BIN)/python -m orderflow.screenshots --out docs/images

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache
