# The two commands of the README: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_WORKERS ?= 2

.PHONY: install run test test-fast bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

run: install
	$(BIN)/switchboard run

test: install
	bash infra/ensure-services.sh
	bash infra/ensure-chromium.sh
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

test-fast: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not e2e"

bench: install
	bash infra/ensure-services.sh
	$(BIN)/python -m tests.bench

lint: install
	$(BIN)/pip install -q ruff mypy
	$(BIN)/ruff check app tenants realtime telephony tests

clean:
	rm -rf $(VENV) .state .pytest_cache
