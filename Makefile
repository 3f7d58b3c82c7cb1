# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= $(or $(TOUCHPOINT_DATA_DIR),./data)
export OPENBLAS_NUM_THREADS := 1

.PHONY: demo test lint types unit install data clean

$(BIN)/touchpoint: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,spark,granian]'
	touch $@

install: $(BIN)/touchpoint

demo: install
	$(BIN)/touchpoint generate --customers 5000 --items 800 --seed 7 --out $(DATA)
	$(BIN)/touchpoint run --data $(DATA)
	$(BIN)/touchpoint demo-curl --data $(DATA)
	$(BIN)/touchpoint serve --data $(DATA)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy

# public data sets for the real-data tests and benchmarks (MovieLens-100K, CDNOW), fetched
# once into bench/.cache/; tests read them from there and fail naming `make data` without them
data: install
	$(BIN)/python -m bench._data

unit: install data
	$(BIN)/pytest --junitxml=.pytest-report.xml
	$(BIN)/python tests/junit_summary.py .pytest-report.xml

test: lint types unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .pytest-report.xml
