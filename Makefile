# mammokit: the two commands that matter are `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# pytest-xdist workers; 2 cores here.
TEST_WORKERS ?= 2

.PHONY: demo test test-deps install serve bench lint clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job on real data: features for all of mini-MIAS, then the paper's protocols.
demo: $(STAMP)
	$(VENV)/bin/mammokit demo

## Chromium and the PostgreSQL binaries (apt-get as root, else the command to run); the tests start
## their own throwaway PostgreSQL server.
test-deps:
	@bash scripts/test-deps.sh

test: $(STAMP) test-deps
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

serve: $(STAMP)
	$(VENV)/bin/mammokit serve

bench: $(STAMP)
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/pipeline.py
	$(PY) benchmarks/image_read.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf runs cache test-output
