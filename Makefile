# RNN Lens: `make run` serves the app, `make test` runs every test, `make check` the fast ones.
# All set up what is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt requirements-lock.txt | cksum | cut -d' ' -f1)
PORT ?= 8501

# Offline machines keep NLTK's tagger and corpora beside the repo.
ifneq ($(wildcard ../shared/nltk_data),)
export NLTK_DATA ?= $(abspath ../shared/nltk_data)
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONPATH := $(CURDIR)

.PHONY: install run test e2e lint browser demo-models bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): | $(PY)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c requirements-lock.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# A GPU server: swap tensorflow-cpu for tensorflow[and-cuda] of the same version (README).
.PHONY: install-gpu
install-gpu: install
	$(PY) -m pip uninstall -y -q tensorflow-cpu
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-gpu.txt -c requirements-lock.txt
	$(PY) -c "import tensorflow as tf; print('GPUs found:', tf.config.list_physical_devices('GPU'))"

run: install
	$(PY) -m streamlit run streamlit_app.py --server.headless true --server.port $(PORT)

# The browser tests drive Debian's chromium (a downloaded browser cannot be had offline).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "Install Debian's chromium (sudo apt-get install chromium) for the browser tests." >&2; exit 1; fi; }

lint: install
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

# Static types of lib/ (mypy, configured in pyproject.toml).
.PHONY: types
types: install
	$(PY) -m mypy

# Lint, types and the fast tests: not the browser ones, nor those marked slow (about 2.5 min here).
.PHONY: check
check: install lint types
	$(PY) -m pytest -m "not browser and not slow"

test: install browser lint types
	$(PY) -m pytest

# The app in Debian's chromium: every page, its main action, screenshots in e2e-screenshots/.
e2e: install browser
	$(PY) -m pytest tests/test_browser.py

demo-models: install
	$(PY) -m lib demo-models

# Benchmarks (issue 9): writes benchmarks/results.json and BENCHMARKS.md, under 10 min here.
# BENCH_ARGS picks sections or a smoke run, e.g. make bench BENCH_ARGS="--pages --quick".
# Machines that force old OpenBLAS kernels (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE: set on
# some processors for older OpenBLAS builds) slow the pinned NumPy's current one; benchmarks
# measure what it picks itself, and report which kernel that was. Tests keep them.
bench: install
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
