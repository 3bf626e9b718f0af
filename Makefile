# anthology-resolve: `make resolve` runs the pipeline on a full snapshot, `make test` the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ANTHOLOGY ?= data/anthology
ANTHOLOGY_TARBALL ?= ../shared/anthology/anthology-2025-11-23.tar.xz
OUT ?= out
# What `make resolve` writes; exports go beside it, never inside it.
RESOLUTION ?= $(OUT)/resolution
CACHE ?= .cache
# The nightly job's state (kept between nights) and where its artifacts go.
STATE ?= state
NIGHTLY_OUT ?= $(OUT)/nightly
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
NODE_STAMP := node_modules/.installed-$(shell cat package.json package-lock.json | cksum | cut -d' ' -f1)
# Debian packages the browser tests need; installed with apt-get (as root, or with sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser data stats resolve export migrate review eval bench graphs test lint clean \
	nightly nightly-artifacts test-newest

install: $(STAMP) $(NODE_STAMP) browser

# Headless Chromium for the review-page tests (Playwright drives it; it downloads nothing).
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# axe-core (accessibility check) and graphology-gexf (Gephi Lite's GEXF reader) for the tests.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-fund --no-audit --silent
	touch $@

# Re-installs only when pyproject.toml changed (the stamp carries its checksum).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

# Unpacks (or clones) the snapshot only when ANTHOLOGY holds no xml/ yet.
data: install
	@test -d $(ANTHOLOGY)/xml -o -d $(ANTHOLOGY)/data/xml || \
	  $(BIN)/anthology-resolve prepare --anthology $(ANTHOLOGY) --tarball $(ANTHOLOGY_TARBALL)

stats: data
	$(BIN)/anthology-resolve stats --anthology $(ANTHOLOGY) --cache $(CACHE)

resolve: data
	$(BIN)/anthology-resolve resolve --anthology $(ANTHOLOGY) --cache $(CACHE) --out $(RESOLUTION)

# A patched copy of the snapshot in each format (the input is never changed), plus
# pr-summary-*.md beside each resolution. The current format: migrate, resolve the migrated
# copy, export. --force: these copies are this Makefile's own outputs, replaced on each run.
export: resolve
	$(BIN)/anthology-resolve export --anthology $(ANTHOLOGY) --cache $(CACHE) --resolution $(RESOLUTION) --out $(OUT)/export-legacy --force
	$(BIN)/anthology-resolve migrate --anthology $(ANTHOLOGY) --cache $(CACHE) --out $(OUT)/migrated --force
	$(BIN)/anthology-resolve resolve --anthology $(OUT)/migrated --cache $(CACHE) --out $(OUT)/current-resolution
	$(BIN)/anthology-resolve export --anthology $(OUT)/migrated --cache $(CACHE) --resolution $(OUT)/current-resolution --out $(OUT)/export-current --force

# Static review pages of the resolution; open $(OUT)/review/index.html in a browser.
review: resolve
	$(BIN)/anthology-resolve review --anthology $(ANTHOLOGY) --cache $(CACHE) --resolution $(RESOLUTION) --out $(OUT)/review --force

eval: data
	$(BIN)/anthology-resolve evaluate --anthology $(ANTHOLOGY) --cache $(CACHE) --out $(OUT)/eval

# Gephi files (GEXF 1.3 and GraphML) of the resolution, into graphs/resolution.
graphs: resolve
	$(BIN)/anthology-resolve graphs --anthology $(ANTHOLOGY) --cache $(CACHE) --resolution $(RESOLUTION) --out graphs/resolution --force

# The nightly job: resolve again, recomputing only the names whose inputs changed since the
# last night. Results in $(STATE)/run/, the change report in $(STATE)/report.md and .json.
# NIGHTLY_FLAGS: e.g. --full (learn again, split every name).
nightly: data
	$(BIN)/anthology-resolve nightly --anthology $(ANTHOLOGY) --state $(STATE) $(NIGHTLY_FLAGS)

# What the nightly CI job uploads with the report: review pages, Gephi graphs, and the export
# (registry entries and <author id> patches on a copy of the snapshot, and the PR summary).
nightly-artifacts:
	$(BIN)/anthology-resolve review --anthology $(ANTHOLOGY) --cache $(STATE)/cache --resolution $(STATE)/run --out $(NIGHTLY_OUT)/review --force
	$(BIN)/anthology-resolve graphs --anthology $(ANTHOLOGY) --cache $(STATE)/cache --resolution $(STATE)/run --out $(NIGHTLY_OUT)/graphs --force
	$(BIN)/anthology-resolve export --anthology $(ANTHOLOGY) --cache $(STATE)/cache --resolution $(STATE)/run --out $(NIGHTLY_OUT)/export --force --summary $(NIGHTLY_OUT)/pr-summary.md

bench: data
	$(BIN)/anthology-resolve bench --anthology $(ANTHOLOGY) --out $(OUT)/bench

test: data
	$(BIN)/mypy
	$(BIN)/ruff check pipeline tests
	ANTHOLOGY=$(ANTHOLOGY) $(BIN)/pytest -q --doctest-modules $(TEST_FLAGS) pipeline tests

# The checks on another snapshot (the nightly job: the newest Anthology), less the tests of
# the shared snapshots' own figures.
test-newest:
	$(MAKE) test TEST_FLAGS='-m "not shared_snapshot"'

clean:
	rm -rf $(VENV) $(CACHE) $(OUT) node_modules tests/artifacts .pytest_cache .mypy_cache .ruff_cache
	rm -rf graphs/resolution $(STATE)
