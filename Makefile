# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LOCK   := .ci/requirements.lock
#: The same resolution without the dev tools, for docker-compose.yml's image.
RUNTIME_LOCK := .ci/runtime.lock

.PHONY: demo test lint audit lock bench mutate install stack-install clean

demo: install
	$(BIN)/envalert demo

# The unit tests spread over both cores (worksteal: a few take seconds, most milliseconds); the
# integration tests, which start real services and time what they see, one at a time. Python
# never writes bytecode where PYTHONDONTWRITEBYTECODE is set, so every process the tests start
# would compile the project again: compiled once here, each start of a worker is 0.3 s shorter.
test: install
	$(BIN)/envalert stack install --browser
	$(BIN)/python -m compileall -q ingest streams rules notifiers simulators
	$(BIN)/pytest -m "not integration" -n 2 --dist worksteal
	$(BIN)/pytest -m integration

# Benchmarks: a throwaway stack, its raw ceilings, then our figures; bench/results.json.
bench: install
	$(BIN)/python -m bench.run

# Mutation testing of the pure core (docs/TESTING.md): mutmut changes it one small step at a time
# and runs the unit tests that reach the change; the report gives each module's score and its
# survivors, and fails below MUTATION_GOAL %. mutants/ keeps the results: a second run redoes only
# what changed. MUTANTS picks some, e.g. MUTANTS='notifiers.silences.*'.
MUTATION_GOAL ?= 90
MUTANTS ?=
mutate: install
	$(BIN)/mutmut run $(MUTANTS)
	$(BIN)/python .ci/mutation_report.py --goal $(MUTATION_GOAL)

# Style, types, and the layers: no folder imports one above it ([tool.importlinter]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Known vulnerabilities of the locked versions, from PyPI's vulnerability service (pip-audit).
audit: install
	$(BIN)/python .ci/audit.py $(LOCK)

# The exact versions (with their hashes) that `make install` and the image take, resolved again
# from pyproject.toml.
COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links
lock: install
	$(COMPILE) --extra dev --output-file $(LOCK) pyproject.toml
	$(COMPILE) --output-file $(RUNTIME_LOCK) pyproject.toml

install: $(STAMP) stack-install

# The Python side: a virtual environment with the locked versions, checked against their hashes,
# then the project itself.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --requirement $(LOCK)
	$(BIN)/pip install --quiet --no-deps --editable .
	touch $(STAMP)

# The system side: mosquitto, influxd, Java and Maven from Debian's packages (apt-get as root, or a
# hint), then Apache Kafka from Maven Central, cached in ~/.cache/envalert.
stack-install: $(STAMP)
	$(BIN)/envalert stack install

clean:
	-$(BIN)/envalert stack down
	rm -rf $(VENV) .envalert .mypy_cache .ruff_cache .pytest_cache
