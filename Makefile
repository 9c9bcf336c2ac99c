# dq studio: two commands to a working console.
#   make run    set up .venv, build the demo run, open the console
#   make test   set up .venv and Chromium, run the whole test suite (what CI runs)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# Pin torch before anything else: a bare `torch` pulls a multi-GB CUDA build; this one is the CPU build.
TORCH := torch==2.13.0
CHROMIUM := /usr/bin/chromium
PYTEST_ARGS ?=

# Nothing may be fetched from the model hub at run time: the embedding model ships in a package.
export HF_HUB_OFFLINE := 1

.PHONY: help venv chromium demo run test bench clean distclean

help:
	@echo "make run        set up .venv, build the demo run, open the console"
	@echo "make test       set up .venv and Chromium, run the whole test suite"
	@echo "make venv       create .venv and install dq-studio with its test extras"
	@echo "make chromium   install Debian's chromium if $(CHROMIUM) is missing"
	@echo "make demo       build the demo run and print its path (honours DQ_HOME)"
	@echo "make bench      run the benchmarks in bench/"
	@echo "make clean      remove caches and build outputs (keeps .venv)"
	@echo "make distclean  clean, and remove .venv too"

venv: $(STAMP)

# The stamp is rebuilt when pyproject.toml changes; an existing .venv is reused, not recreated.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/pip install $(TORCH)
	$(BIN)/pip install -e '.[test]'
	@# Compile UMAP's numba kernels into their on-disk cache once, not in the first map of every run.
	$(BIN)/python -c "import numpy as np; from dq.insights.projection import project_2d; project_2d(np.random.default_rng(0).normal(size=(300, 16)).astype('float32'))"
	@touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -e '.[test,bench]'
	@touch $@

# Debian's chromium, never `playwright install` (it downloads browsers from outside the registries).
chromium:
	@if [ -x $(CHROMIUM) ]; then \
	    echo "chromium: $(CHROMIUM) is present"; \
	else \
	    if [ "$$(id -u)" -eq 0 ]; then SUDO=""; \
	    elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; \
	    else echo "chromium: $(CHROMIUM) is missing; install it as root: apt-get install -y chromium" >&2; exit 1; fi; \
	    $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

demo: venv
	$(BIN)/dq demo

# app.serve is `streamlit run streamlit_app.py` that first loads the newest run, so the address opens warm.
run: venv demo
	$(BIN)/python -m app.serve

# DQ_REQUIRE_BROWSER makes the browser tests fail, not skip, when Chromium cannot be found.
test: venv chromium
	TRANSFORMERS_OFFLINE=1 DQ_REQUIRE_BROWSER=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(BENCH_STAMP)
	@for f in bench/bench_*.py; do \
	    [ -e "$$f" ] || { echo "bench: no bench/bench_*.py yet"; break; }; \
	    echo "== $$f"; $(BIN)/python "$$f" || exit 1; \
	done

clean:
	rm -rf build dist .pytest_cache .hypothesis tests/artifacts
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
