# Two commands from a fresh clone: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# HTTPS beside plain http (0: none); the certificate authority to trust is var/tls/ca.pem.
HTTPS_PORT ?= 8443
# The suite runs on PostgreSQL and Redis on this machine (started by scripts/ensure-services.sh).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/migratehub
TEST_REDIS_URL ?= redis://127.0.0.1:6379/9
# Test files run two at a time (tests/parallel.py keeps their hubs apart); PYTEST_WORKERS=0 runs them one by one.
PYTEST_WORKERS ?= 2

.PHONY: run test setup lint format bench clean azure-cli azurite

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What the hub needs to run (make run), and beside it the test and lint tools (make test, make lint):
# each stamp says its set is installed for this pyproject.toml.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed-test

# The Azure CLI, a test tool only (tests/azure_cli.py runs it as a subprocess): its own virtualenv, because
# azure-cli pins azure-mgmt-* versions that clash with the SDK clients the suite drives. About 700 MB and
# a few minutes, so installed once (the stamp file) and never by `make run`.
AZ_VENV := .venv-az
AZURE_CLI_VERSION ?= 2.*

$(AZ_VENV)/.installed:
	$(PYTHON) -m venv $(AZ_VENV)
	$(AZ_VENV)/bin/pip install -q --upgrade pip
	$(AZ_VENV)/bin/pip install -q 'azure-cli==$(AZURE_CLI_VERSION)'
	touch $@

azure-cli: $(AZ_VENV)/.installed

# Azurite, Microsoft's Azure Storage emulator, from the npm registry into .tools/ (git-ignored): the
# tests and docker-compose run the Blob backend of hub/object_store.py against it. A test tool only:
# `make run` stores on the local file system and never needs Node.js.
AZURITE_VERSION ?= 3
TOOLS := .tools
AZURITE := $(TOOLS)/node_modules/.bin/azurite-blob

$(AZURITE):
	@command -v npm >/dev/null 2>&1 || { echo "make test needs Node.js and npm for Azurite (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error 'azurite@$(AZURITE_VERSION)'
	touch $@

azurite: $(AZURITE)

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py serve --port $(PORT) --https-port $(HTTPS_PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/lint-imports
	# The OpenAPI document: valid, and not one drf-spectacular warning (hub/arm/schema.py, docs/api.md).
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

test: setup azure-cli azurite
	./scripts/ensure-services.sh
	$(MAKE) --no-print-directory lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DJANGO_ALLOW_ASYNC_UNSAFE=true \
		PYTEST_WORKERS=$(PYTEST_WORKERS) ./scripts/run-tests $(PYTEST_ARGS)

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmarks make their own database (migratehub_bench) and use Redis DB 8, beside a running suite.
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/8

bench: setup
	./scripts/ensure-services.sh
	DATABASE_URL=$(TEST_DATABASE_URL) BENCH_REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(AZ_VENV) $(TOOLS) var
