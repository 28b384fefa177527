# Two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= outputs/demo

.PHONY: demo test setup clean bench wheel-check

setup: $(STAMP)

# torch==2.13.0 first: it is the CPU wheel on disk; an unpinned torch would fetch a CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/infvideo demo --output-dir $(DEMO_DIR)

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_memory.py

# `pip install .` into a clean venv: shipped configs resolve from the package and the tests pass against it.
wheel-check:
	bash scripts/wheel_check.sh

clean:
	rm -rf $(VENV) outputs .pytest_cache
