# The two commands of the README: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_WORKERS ?= 2

.PHONY: install run test test-fast bench lint clean messages baseline

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

# ruff, then the layer contracts of pyproject.toml ([tool.importlinter]): which package may import which.
lint: install
	$(BIN)/ruff check app tenants realtime telephony tests
	$(BIN)/lint-imports --no-cache

# Catalogues: extract every string to app/locale/messages.pot and merge it into each language's .po (translate
# the new entries, then `make test` checks nothing is missing). The .po files are read at start-up: no compile step.
messages: install
	$(BIN)/pybabel extract -F babel.cfg --ignore-dirs ".* __pycache__" -k _ -k gettext -k ngettext:1,2 -k N_ --sort-output \
		--project Switchboard -o app/locale/messages.pot . >/dev/null
	for lang in $$(ls app/locale | grep -v messages.pot); do \
		$(BIN)/pybabel update -i app/locale/messages.pot -d app/locale -l $$lang --no-fuzzy-matching --ignore-obsolete; done

# tenants/baseline.sql: a new tenant schema in one script, generated from the migrations (pg_dump); commit it after
# adding a tenant migration (tests/integration/test_baseline.py fails while it is stale).
BASELINE_DB ?= sb_baseline_$(shell echo $$PPID)
baseline: install
	bash infra/ensure-services.sh
	psql -h 127.0.0.1 -U postgres -qc 'DROP DATABASE IF EXISTS $(BASELINE_DB)' -c 'CREATE DATABASE $(BASELINE_DB)'
	DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$(BASELINE_DB) $(BIN)/python -m app.cli baseline $(BASELINE_ARGS); \
		status=$$?; psql -h 127.0.0.1 -U postgres -qc 'DROP DATABASE IF EXISTS $(BASELINE_DB) WITH (FORCE)'; exit $$status

clean:
	rm -rf $(VENV) .state .pytest_cache
