# GoFly: `make run` to try it, `make test` for the full check. See README.md.

VENV   := .venv
PY     := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
HOST   ?= 127.0.0.1
PORT   ?= 8081

.PHONY: run test lint fmt messages bench clean system-packages

# Debian packages needed to build the requirements (mysqlclient); a no-op when present.
system-packages:
	@bash scripts/setup-test-env.sh run

# The virtualenv with the runtime requirements; re-installed when requirements.txt changes.
$(VENV)/.run-requirements: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt || { \
	  echo "pip failed. mysqlclient compiles against MariaDB's client library; on Debian/Ubuntu:"; \
	  echo "  apt-get install python3-dev build-essential pkg-config libmariadb-dev"; exit 1; }
	@touch $@

## run: install on first use (SQLite + in-memory layer unless DATABASE_URL/REDIS_URL say otherwise), serve on 127.0.0.1:8081
run: system-packages $(VENV)/.run-requirements
	$(PY) manage.py install --noinput --if-missing
	$(PY) manage.py server --host $(HOST) -p $(PORT)

## test: the full check (what CI runs): prepare the machine, then lint, types, migrations, translations, tests
test:
	bash scripts/setup-test-env.sh
	bash scripts/test.sh $(ARGS)

# The development tools (ruff, mypy, pytest, ...) on top.
$(VENV)/.dev-requirements: requirements.txt requirements-dev.txt $(VENV)/.run-requirements
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

## lint: ruff, ruff format --check, mypy
lint: $(VENV)/.dev-requirements
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .

## fmt: apply ruff's formatting and safe fixes
fmt: $(VENV)/.dev-requirements
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

## messages: extract the strings into locale/*/django.po and compile the .mo files (needs gettext)
messages: $(VENV)/.run-requirements
	bash scripts/i18n.sh update

## bench: the benchmarks of bench/ (see bench/README.md)
bench:
	bash bench/run.sh

## clean: caches, test artifacts, collected static files; keeps var/ (the embedded database and credentials)
clean:
	rm -rf test-artifacts staticfiles .mypy_cache .ruff_cache .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
