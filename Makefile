# Two commands: `make demo` and `make test`. Each sets up .venv on first use (Python 3.11+).
# The first interpreter that really runs and is 3.11+ (a version manager's shim may exist and not run).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo $$p && break; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test install lint bench bench-deps browser clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "oms needs Python 3.11 or newer on the PATH (python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/oms demo

# Browser tests drive Debian's Chromium through Playwright (no browser download). It is installed
# here when missing and apt-get can run (as root); otherwise the browser tests skip with the reason
# (under CI they fail instead).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Chromium for the browser tests"; \
	    apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
	  else echo "Chromium is missing (sudo apt-get install chromium): the browser tests will skip"; fi; }

test: $(STAMP) browser
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -n auto --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/orders_http.py --quick
	$(BIN)/python bench/scans_http.py --quick
	$(BIN)/python bench/routing.py --quick
	$(BIN)/python bench/pickpath.py --quick
	$(BIN)/python bench/cartons.py --quick

# The load generator and PostgreSQL's benchmark tool come from Debian's packages.
bench-deps:
	apt-get update && apt-get install -y wrk postgresql-client postgresql-contrib

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
