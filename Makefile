# Every target creates or reuses .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: sample test test-fast bench bench-extract bench-dedup bench-clean bench-recall bench-run-folder bench-expand reliability lint venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

sample: $(STAMP)
	$(BIN)/mathmine sample --out out/sample $(if $(FRESH),--fresh)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not cluster" tests

# The benchmarks compare against datatrove (and spaCy, its word splitter): the bench extra.
BENCH_STAMP := $(VENV)/.bench-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	rm -f $(VENV)/.bench-* && touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench_pipeline $(BENCH_ARGS)

bench-extract: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench_extract

bench-dedup: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench_dedup

bench-clean: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench_clean

bench-recall: $(STAMP)
	$(BIN)/python -m benchmarks.bench_recall

bench-run-folder: $(STAMP)
	$(BIN)/python -m benchmarks.bench_run_folder

bench-expand: $(STAMP)
	$(BIN)/python -m benchmarks.bench_expand_index $(BENCH_ARGS)

reliability: $(STAMP)
	$(BIN)/python -m benchmarks.reliability

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf out build *.egg-info
