# Every target creates or reuses .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: sample test test-fast bench bench-extract bench-dedup bench-clean reliability lint venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

sample: $(STAMP)
	$(BIN)/mathmine sample --out out/sample

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not cluster" tests

# datatrove pins its own dependencies: it gets a venv of its own for the baseline.
# trafilatura needs lxml_html_clean with current lxml; WarcReader needs cchardet, magic, warcio.
.venv-bench/.installed:
	test -x .venv-bench/bin/python || $(PY) -m venv .venv-bench
	-.venv-bench/bin/python -m pip install -q 'datatrove[processing]>=0.4,<1' faust-cchardet python-magic warcio lxml_html_clean && touch $@

bench: $(STAMP) .venv-bench/.installed
	$(BIN)/python -m benchmarks.bench_pipeline $(BENCH_ARGS)

bench-extract: $(STAMP)
	$(BIN)/python -m benchmarks.bench_extract

bench-dedup: $(STAMP)
	$(BIN)/python -m benchmarks.bench_dedup

bench-clean: $(STAMP)
	$(BIN)/python -m benchmarks.bench_clean

reliability: $(STAMP)
	$(BIN)/python -m benchmarks.reliability

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf out build *.egg-info
