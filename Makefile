# hybridir: `make demo` and `make test` each work from nothing (they create .venv first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit browser bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev,polish,dense,sparse,multilingual,onnx,learn,server,report,ray,files,langchain,llamaindex,static]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hybridir demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
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

test: lint typecheck browser unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bm25_speed.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
