# klantreis: `make demo` starts the demo organisation, `make test` runs every check.
# Both bootstrap their own environment: uv (pinned) and the locked dependencies.

SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
UV := .bootstrap/bin/uv
PY := .venv/bin/python
PORT ?= 8000
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup demo test suite test-e2e lint format chromium messages bench

help:
	@echo "make demo      set up and start the demo organisation (web + worker, SQLite)"
	@echo "make test      set up and run every check (lint, types, migrations, tests)"
	@echo "make test-e2e  only the browser tests (headless Chromium)"
	@echo "make bench     run the benchmarks (results in bench/results/, table in docs/benchmarks.md)"

.bootstrap/bin/uv:
	python3 -m venv .bootstrap
	.bootstrap/bin/pip install --quiet uv==$(UV_VERSION)

# --inexact: keep the optional bench group when `make bench` installed it.
.venv/.synced: uv.lock pyproject.toml .bootstrap/bin/uv
	$(UV) sync --locked --inexact
	@touch $@

# Translations are compiled with GNU gettext's msgfmt (Debian's gettext package).
messages:
	@command -v msgfmt >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null; }
	@for po in klantreis/locale/*/LC_MESSAGES/django.po; do msgfmt --check -o "$${po%.po}.mo" "$$po"; done

setup: .venv/.synced messages

demo: setup
	KLANTREIS_DEMO=1 $(PY) manage.py rundemo --port $(PORT)

# Browser tests drive Debian's Chromium; install it when it is missing.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing chromium from Debian's packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

lint: .venv/.synced
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	KLANTREIS_TESTING=1 $(PY) -m mypy klantreis
	.venv/bin/lint-imports
	.venv/bin/djhtml --check $$(find klantreis -name '*.html')
	KLANTREIS_TESTING=1 $(PY) manage.py makemigrations --check --dry-run -v0

format: .venv/.synced
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .
	.venv/bin/djhtml $$(find klantreis -name '*.html')

test: setup chromium lint suite

# The test suite alone (CI runs it a second time with DATABASE_URL on PostgreSQL).
suite: setup chromium
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-e2e: setup chromium
	$(PY) -m pytest -m e2e $(PYTEST_ARGS)

# Benchmarks need the bench dependency group (OR-Tools as the anchor), which is not shipped.
# Solvers run one at a time; wall-clock figures are only as quiet as the machine.
bench: .bootstrap/bin/uv
	$(UV) sync --locked --group bench
	$(PY) bench/solomon.py --seconds 1
	$(PY) bench/slots.py
	@command -v smtp-sink >/dev/null || [ -x /usr/sbin/smtp-sink ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null; }
	$(PY) bench/dispatch.py --json bench/results/dispatch.json
	$(PY) bench/insights.py --json bench/results/insights.json
