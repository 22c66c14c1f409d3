# hybridir: `make demo` and `make test` each work from nothing (they create .venv first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Dataset names resolve in $HYBRIDIR_DATA, then the user cache, then a download; the repository's
# test data (../shared/datasets) is wired in here, for demo, unit and smoke, when the variable is unset.
SHARED_DATA := $(abspath ../shared/datasets)
ifeq ($(origin HYBRIDIR_DATA),undefined)
ifneq ($(wildcard $(SHARED_DATA)/.),)
export HYBRIDIR_DATA := $(SHARED_DATA)
endif
endif

.PHONY: install demo test lint typecheck unit browser bench clean docs dist smoke constraints

# pyproject.toml states ranges; constraints.txt holds the exact versions CI tests (make constraints).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,all,docs]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hybridir demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools docs/_hooks
	$(BIN)/ruff format --check src tests benchmarks tools docs/_hooks
	$(BIN)/lint-imports  # the layers of docs/architecture.md ([tool.importlinter] in pyproject.toml)

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2 --timeout 900

# Headless Chromium for the search-page tests (Debian packages; skipped there if absent).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && timeout 900 sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver' >/dev/null 2>&1; } || \
	  echo "chromium not installed: the browser tests will be skipped"

# The documentation site (mkdocs.yml) into site/; --strict turns every warning into an error.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The wheel and sdist, as a package index would get them (the wheel is built from the sdist);
# twine checks their metadata and that the README renders on PyPI.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --quiet --outdir dist .
	$(BIN)/twine check --strict dist/*

# The wheel in a fresh venv outside the checkout: index, search, evaluate, serve (about a minute
# per interpreter). SMOKE_PYTHONS="python3.11 python3.12 python3.13" tries several.
# Default: this Python, and the pyenv CPython 3.12 and 3.13 where the machine has them (CI's does).
SMOKE_PYTHONS ?= $(PYTHON) $(foreach v,3.12 3.13,$(firstword $(wildcard $(HOME)/.pyenv/versions/$(v).*/bin/python$(v))))
smoke: dist
	for py in $(SMOKE_PYTHONS); do PYTHON=$$py bash tests/smoke/wheel_smoke.sh dist || exit 1; done

# Rewrite constraints.txt from what .venv has installed (after upgrading a dependency there).
constraints: $(STAMP)
	$(BIN)/python tools/pin_constraints.py > constraints.txt.tmp && mv constraints.txt.tmp constraints.txt

test: lint typecheck docs browser unit smoke

bench: $(STAMP)
	$(BIN)/python benchmarks/bm25_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site dist build src/hybridir.egg-info
