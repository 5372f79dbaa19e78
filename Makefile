# icelab: `make demo` and `make test` set up what they need.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
ICELAB := $(VENV)/bin/icelab
STAMP := .stamp
PYTEST_ARGS ?=

.PHONY: setup test demo clean help experiment experiments

help:
	@echo "make demo   - set up, run a small real experiment, write a report"
	@echo "make test   - set up, run the test suite"
	@echo "make clean  - remove everything the lab left running"

setup: $(STAMP)/debian $(STAMP)/venv

$(STAMP)/debian: scripts/setup-debian.sh
	@mkdir -p $(STAMP)
	bash scripts/setup-debian.sh
	@touch $@

$(STAMP)/venv: pyproject.toml $(STAMP)/debian
	@mkdir -p $(STAMP)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

clean: setup
	$(ICELAB) clean

# make experiment EXP=handover (or EXP=experiments/handover.toml) [JOBS=2]; make experiments: all shipped
EXP ?=
JOBS ?= 1
experiment: setup
	@test -n "$(EXP)" || { echo "usage: make experiment EXP=experiments/NAME.toml [JOBS=N]"; exit 2; }
	$(ICELAB) run $(if $(wildcard $(EXP)),$(EXP),experiments/$(EXP).toml) --jobs $(JOBS)

experiments: setup
	@for f in experiments/*.toml; do [ "$$f" = experiments/demo.toml ] && continue; \
		echo "== $$f"; $(ICELAB) run "$$f" --jobs $(JOBS) || exit $$?; done
