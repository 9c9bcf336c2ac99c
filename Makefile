# dq studio: two commands to a working console.
#   make run    set up .venv, build the demo run, open the console
#   make test   set up .venv, Chromium, Caddy, Label Studio's server and a local S3 server; ruff, mypy, the doctests of dq/, then the whole test suite (what CI runs)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
PYTEST_ARGS ?=
# make run PORT=8502 HOST=0.0.0.0: where the console listens (default: dq console's, 127.0.0.1:8501).
PORT ?=
HOST ?=

# Every install is exactly requirements.lock (uv pip compile output: core and every extra, Python 3.11,
# Linux x86-64). uv itself comes from PyPI, pinned, into a folder of its own inside .venv, so that
# `uv pip sync` (which removes whatever the lock does not list) never removes it.
UV_VERSION := 0.13.9
UV := $(VENV)/uv/bin/uv
LOCK := requirements.lock
# torch's CPU build: the wheel on this machine's disk where there is one, else PyTorch's CPU index
# (PyPI's torch is a multi-GB CUDA build). Exported, so every uv call (tests' included) sees it.
TORCH_WHEELS ?= /opt/wheels
ifneq ($(wildcard $(TORCH_WHEELS)/torch-2.13.0+cpu-*.whl),)
export UV_FIND_LINKS := $(TORCH_WHEELS)
else
export UV_EXTRA_INDEX_URL := https://download.pytorch.org/whl/cpu
endif
LOCK_PLATFORM := --python-version 3.11 --python-platform x86_64-manylinux_2_28

# Nothing may be fetched from the model hub at run time: the embedding model ships in a package.
export HF_HUB_OFFLINE := 1

.PHONY: help venv lock chromium caddy labelstudio s3 demo run test bench screenshots clean distclean

help:
	@echo "make run        set up .venv, build the demo run, open the console (PORT=, HOST= to listen elsewhere)"
	@echo "make test       set up .venv and Chromium; ruff, mypy and the doctests, then the whole test suite"
	@echo "make venv       create .venv with exactly the locked dependencies and dq-studio (editable)"
	@echo "make lock       re-resolve requirements.lock to the newest versions (then: make test)"
	@echo "make chromium   install Debian's chromium if $(CHROMIUM) is missing"
	@echo "make caddy      install Debian's caddy (the reverse proxy of deploy/Caddyfile) if it is missing"
	@echo "make labelstudio  Label Studio's server in .venv-labelstudio (for the round-trip test)"
	@echo "make s3         a local S3 server (moto) in .venv-s3 (for the object-storage test)"
	@echo "make demo       build the demo run and print its path (honours DQ_HOME)"
	@echo "make bench      run the benchmarks in bench/"
	@echo "make screenshots  every console page at 1400x900 and 1920x1080 into docs/img/ (demo run, Chromium)"
	@echo "make clean      remove caches and build outputs (keeps .venv)"
	@echo "make distclean  clean, and remove .venv too"

venv: $(STAMP)

$(UV):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --root-user-action=ignore --target $(VENV)/uv uv==$(UV_VERSION)

# The stamp is rebuilt when the lock or pyproject.toml changes; an existing .venv is synced, not recreated.
# Bytecode is compiled at install (as pip does): a console or test server then starts without compiling
# every module it imports, also where PYTHONDONTWRITEBYTECODE keeps Python from caching it.
$(STAMP): $(LOCK) pyproject.toml | $(UV)
	$(UV) pip sync --compile-bytecode --python $(BIN)/python $(LOCK)
	$(UV) pip install --python $(BIN)/python --no-deps -e .
	@# Compile UMAP's numba kernels into their on-disk cache once, not in the first map of every run.
	$(BIN)/python -c "import numpy as np; from dq.insights.projection import project_2d; project_2d(np.random.default_rng(0).normal(size=(300, 16)).astype('float32'))"
	@touch $@

# An upgrade: resolve everything anew, then `make test` vets it before the lock is committed.
lock: | $(UV)
	$(UV) pip compile pyproject.toml --all-extras $(LOCK_PLATFORM) --upgrade --quiet -o $(LOCK)
	$(UV) pip compile --no-config requirements-labelstudio.in $(LOCK_PLATFORM) --upgrade --quiet -o requirements-labelstudio.lock
	$(UV) pip compile --no-config requirements-s3.in $(LOCK_PLATFORM) --upgrade --quiet -o requirements-s3.lock
	@echo "$(LOCK) refreshed: run make test before committing it"

# apt_install PACKAGE,PATH: install Debian's PACKAGE unless PATH exists (as root, or through sudo).
define apt_install
if [ -x $(2) ]; then \
    echo "$(1): $(2) is present"; \
else \
    if [ "$$(id -u)" -eq 0 ]; then SUDO=""; \
    elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; \
    else echo "$(1): $(2) is missing; install it as root: apt-get install -y $(1)" >&2; exit 1; fi; \
    $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $(1); \
fi
endef

# Debian's chromium, never `playwright install` (it downloads browsers from outside the registries).
chromium:
	@$(call apt_install,chromium,$(CHROMIUM))

# Label Studio's server, for the round-trip test, in a virtual environment of its own (its pins clash with
# dq's: it holds NumPy below 2.3), installed exactly from requirements-labelstudio.lock.
LS_VENV := .venv-labelstudio
labelstudio: $(LS_VENV)/.installed

$(LS_VENV)/.installed: requirements-labelstudio.lock | $(UV)
	@test -x $(LS_VENV)/bin/python || $(PYTHON) -m venv $(LS_VENV)
	$(UV) pip sync --compile-bytecode --python $(LS_VENV)/bin/python requirements-labelstudio.lock
	@touch $@

# A local S3 server (moto) for the object-storage test (dq push / dq pull), in a virtual environment of
# its own (it is a test server, not a dependency of dq), installed exactly from requirements-s3.lock.
S3_VENV := .venv-s3
s3: $(S3_VENV)/.installed

$(S3_VENV)/.installed: requirements-s3.lock | $(UV)
	@test -x $(S3_VENV)/bin/python || $(PYTHON) -m venv $(S3_VENV)
	$(UV) pip sync --compile-bytecode --python $(S3_VENV)/bin/python requirements-s3.lock
	@touch $@

# Debian's caddy: the reverse proxy of deploy/Caddyfile, which the team end-to-end test runs in front of dq serve.
caddy:
	@$(call apt_install,caddy,/usr/bin/caddy)

demo: venv
	$(BIN)/dq demo

# dq_console.serve (what `dq console` runs) serves the console with the newest run already loaded.
run: venv demo
	$(BIN)/python -m dq_console.serve $(if $(PORT),--port $(PORT)) $(if $(HOST),--host $(HOST))

# The house first (lint, format, types, the docstrings' examples), cheapest first, one tool a line so
# that a failure names it; then the suite. DQ_REQUIRE_BROWSER makes the browser tests fail, not
# skip, when Chromium cannot be found.
test: venv chromium caddy labelstudio s3
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	TRANSFORMERS_OFFLINE=1 $(BIN)/python -m pytest --doctest-modules dq -q -p no:cacheprovider
	TRANSFORMERS_OFFLINE=1 DQ_REQUIRE_BROWSER=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@for f in bench/bench_*.py; do \
	    [ -e "$$f" ] || { echo "bench: no bench/bench_*.py yet"; break; }; \
	    echo "== $$f"; $(BIN)/python "$$f" || exit 1; \
	done

screenshots: venv chromium
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf build dist .pytest_cache .hypothesis .mypy_cache .ruff_cache tests/artifacts
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(LS_VENV) $(S3_VENV)
