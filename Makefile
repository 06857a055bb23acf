# Two commands matter: `make demo` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PYTHONPATH := $(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test lint typecheck audit venv clean pg-test sqlite-test serve benchmark lock

# requirements/lock.txt is the tested set, with hashes (pip-compile --generate-hashes from
# dev.txt + prod.txt; `make lock` renews it): a fresh install gets exactly what was tested.
$(STAMP): requirements/lock.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --require-hashes -r requirements/lock.txt
	touch $(STAMP)

venv: $(STAMP)

## demo: migrate an embedded SQLite database, load the demo trials with signed reads (DEMO-ADJ;
## DEMO-PET and DEMO-IR, so every criterion shows), adjudicate, compute endpoints, write
## exports, and print where to look.
demo: $(STAMP)
	env -u DATABASE_URL -u REDIS_URL DJANGO_SETTINGS_MODULE=config.settings.base $(PY) manage.py migrate --noinput -v 0
	env -u DATABASE_URL -u REDIS_URL DJANGO_SETTINGS_MODULE=config.settings.base $(PY) manage.py load_demo

serve: $(STAMP)
	env -u DATABASE_URL -u REDIS_URL DJANGO_DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	env -u DATABASE_URL $(PY) manage.py makemigrations --check --dry-run --settings=config.settings.test

typecheck: $(STAMP)
	$(VENV)/bin/mypy criteria
	$(VENV)/bin/mypy trialreads config

## audit: pip-audit over the lock file; offline it says SKIPPED (never a silent pass).
audit: $(STAMP)
	$(PY) scripts/audit_dependencies.py

## test: lint, type-check, the dependency audit, the contract check, then the whole suite on
## SQLite and, where DATABASE_URL / REDIS_URL point at live servers, a second pass on PostgreSQL
## with real Celery workers. The two passes run side by side (one core each on a 2-core machine;
## each has its own var/ folder, so their databases, media and exports never meet); the
## PostgreSQL pass's output follows the SQLite pass's.
PG_PASS := -m pytest -q --ignore=tests/criteria --ignore=tests/trialreads/exports --ignore=tests/e2e --ignore=tests/packaging tests
test: lint typecheck audit
	$(PY) docs/contract/check_contract.py $(PY)
	@if [ -n "$$DATABASE_URL" ]; then \
	  echo "== two passes side by side: SQLite here; $$DATABASE_URL with REDIS_URL=$$REDIS_URL in var/pg-pass.log"; \
	  mkdir -p var/pg-pass var/sqlite-pass; rm -f var/pg-pass.rc; \
	  ( TRIALREADS_VAR_DIR=$(CURDIR)/var/pg-pass $(PY) $(PG_PASS) > var/pg-pass.log 2>&1; echo $$? > var/pg-pass.rc ) & \
	  env -u DATABASE_URL -u REDIS_URL TRIALREADS_VAR_DIR=$(CURDIR)/var/sqlite-pass $(PY) -m pytest -q -p no:randomly; sqlite=$$?; \
	  wait; echo "== second pass: $$DATABASE_URL, REDIS_URL=$$REDIS_URL"; cat var/pg-pass.log; \
	  test "$$sqlite" -eq 0 && test "$$(cat var/pg-pass.rc)" -eq 0; \
	else \
	  env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -q -p no:randomly; \
	fi

benchmark: $(STAMP)
	$(PY) -m criteria bench --subjects 10000

## lock: re-resolve the ranges in requirements/*.txt into requirements/lock.txt (needs pip-tools).
lock:
	$(PY) -m pip install -q --disable-pip-version-check pip-tools
	$(VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
	  --output-file requirements/lock.txt requirements/dev.txt requirements/prod.txt

clean:
	rm -rf var .mypy_cache .ruff_cache .hypothesis .benchmarks
