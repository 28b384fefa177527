# Two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= outputs/demo

.PHONY: demo test setup clean bench wheel-check test-lmms-eval test-app-browser

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

# lmms-eval's own venv (docs/lmms-eval.md; never the main .venv), then the tests that run our models through it.
LMMS_EVAL_VENV ?= .venv-lmms-eval
$(LMMS_EVAL_VENV)/.installed: pyproject.toml scripts/lmms_eval_env.sh
	bash scripts/lmms_eval_env.sh $(LMMS_EVAL_VENV)

# pyproject's norecursedirs keeps tests/lmms_eval out of the main suite; named here, it is collected.
test-lmms-eval: $(LMMS_EVAL_VENV)/.installed
	$(LMMS_EVAL_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/lmms_eval

# `infvideo app` in headless Chromium (docs/app.md): Debian's chromium via apt when missing, the app extra into
# .venv unless it would change torch there (then .venv-app); pyproject's norecursedirs keeps tests/browser out of `make test`.
test-app-browser: $(STAMP)
	bash scripts/app_browser_test.sh

# `pip install .` into a clean venv: shipped configs resolve from the package and the tests pass against it.
wheel-check:
	bash scripts/wheel_check.sh

clean:
	rm -rf $(VENV) $(LMMS_EVAL_VENV) .venv-app outputs .pytest_cache
