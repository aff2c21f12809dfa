# The README's commands. Each target creates .venv and installs what it needs on first use;
# a stamp keyed on pyproject.toml makes later runs skip the install.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# torch first and pinned: a CPU wheel lies on disk, and any looser pin pulls a multi-GB CUDA build.
TORCH   := torch==2.13.0

.PHONY: run test test-editors-deps test-team-deps test-export-deps lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[all,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/kenetic demo

test: $(STAMP) test-editors-deps test-team-deps test-export-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

# PostgreSQL's initdb and pg_ctl for tests/team (tests/team/setup_postgres.sh; quick when there)
test-team-deps:
	bash tests/team/setup_postgres.sh

# semgrep in .venv-tools/semgrep, a venv of its own: its pins clash with .venv's mcp 2
# (tests/export/setup_semgrep.sh; quick when done)
test-export-deps:
	PY=$(PY) bash tests/export/setup_semgrep.sh

# Chromium, code-server, the built VS Code extension (tests/editors/setup.sh; quick when done)
test-editors-deps:
	bash tests/editors/setup.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# each prints JSON; the data-driven ones read ../shared/data at run time
BENCHES := capture rank recall replay suggest
bench: $(STAMP)
	@for b in $(BENCHES); do \
	  if [ -f tests/bench/$$b.py ]; then echo "== $$b"; $(BIN)/python tests/bench/$$b.py || exit 1; fi; \
	done

clean:
	rm -rf $(VENV) .venv-tools build *.egg-info
