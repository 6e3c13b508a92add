# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench install stack-install clean

demo: install
	$(BIN)/envalert demo

test: install
	$(BIN)/envalert stack install --browser
	$(BIN)/pytest

# Benchmarks (issue #9): a throwaway stack, its raw ceilings, then our figures; bench/results.json.
bench: install
	$(BIN)/python -m bench.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

install: $(STAMP) stack-install

# The Python side: a virtual environment with the project and its dev tools.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[dev]'
	touch $(STAMP)

# The system side: mosquitto, influxd, Java and Maven from Debian's packages (apt-get as root, or a
# hint), then Apache Kafka from Maven Central, cached in ~/.cache/envalert.
stack-install: $(STAMP)
	$(BIN)/envalert stack install

clean:
	-$(BIN)/envalert stack down
	rm -rf $(VENV) .envalert .mypy_cache .ruff_cache .pytest_cache
