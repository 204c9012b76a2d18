# Ticketry — `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
export TICKETRY_DATABASE_URL ?= sqlite:///./ticketry.db

.DEFAULT_GOAL := help
.PHONY: help install run serve migrate demo test lint fmt bench clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml requirements/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/lock.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@# Byte-compile once: imports are three times faster where PYTHONDONTWRITEBYTECODE is set.
	@$(PY) -m compileall -q -j 0 $(VENV)/lib src >/dev/null 2>&1 || true
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed node_modules/.installed ## Create the virtualenv, install pinned Python and npm dependencies

migrate: install ## Apply the database migrations (TICKETRY_DATABASE_URL)
	$(VENV)/bin/ticketry migrate

demo: migrate ## Load the demo data (once) and print the logins
	$(VENV)/bin/ticketry demo

run: demo ## Migrate, load demo data, serve on http://127.0.0.1:8000
	$(VENV)/bin/ticketry serve --no-migrate

test: install ## Run every test (also on PostgreSQL when TICKETRY_TEST_POSTGRES_URL is set)
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; fi; exit $$rc

lint: install ## ruff, mypy (strict) and import-linter (the layers of docs/architecture.md §3)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: install ## Format and auto-fix
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

BENCHES ?= load bounds files mail mail_hostile views export
# The sidebar-count benchmark reuses the load benchmark's database when it is there (else seeds it).
BENCH_VIEWS_ARGS ?= --reuse
BENCH_EXPORT_ARGS ?= --reuse
bench: install ## Benchmarks: load, bounds, files, mail, mail_hostile, views, export (BENCHES=mail for one; BENCH_ARGS, BENCH_<NAME>_ARGS="--help")
	$(if $(filter load,$(BENCHES)),$(PY) -m bench $(BENCH_ARGS))
	$(if $(filter bounds,$(BENCHES)),$(PY) -m bench.bounds $(BENCH_BOUNDS_ARGS))
	$(if $(filter files,$(BENCHES)),$(PY) -m bench.files $(BENCH_FILES_ARGS))
	$(if $(filter mail,$(BENCHES)),$(PY) -m bench.mail $(BENCH_MAIL_ARGS))
	$(if $(filter mail_hostile,$(BENCHES)),$(PY) -m bench.mail_hostile $(BENCH_MAIL_HOSTILE_ARGS))
	$(if $(filter views,$(BENCHES)),$(PY) -m bench.views $(BENCH_VIEWS_ARGS))
	$(if $(filter export,$(BENCHES)),$(PY) -m bench.export $(BENCH_EXPORT_ARGS))

clean: ## Remove the virtualenv, front-end packages and local databases
	rm -rf $(VENV) node_modules ticketry.db ticketry.db-wal ticketry.db-shm
