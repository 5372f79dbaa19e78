# icelab: `make demo` and `make test` set up what they need.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
ICELAB := $(VENV)/bin/icelab
STAMP := .stamp
PYTEST_ARGS ?=

.PHONY: setup test lint demo clean help experiment experiments report images test-docker sample-run

help:
	@echo "make demo   - set up, run a small real experiment, write a report"
	@echo "make report - report.html of a run (RUN=runs/NAME; default: the newest)"
	@echo "make sample-run - regenerate notebooks/sample_run (the notebooks' real run)"
	@echo "make test   - set up, lint (ruff, mypy, import-linter), run the test suite"
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

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (pyflakes, isort, bugbear), mypy (disallow_untyped_defs on lab/), import-linter (the layers)
lint: setup
	$(VENV)/bin/ruff check lab tests benchmarks examples
	$(VENV)/bin/mypy -p lab
	$(VENV)/bin/lint-imports

# Docker runtime: images built offline (cached); dockerd started for the duration, then stopped
# if this started it (scripts/docker-daemon.sh). `make test` runs the Docker tests as well.
images: setup
	bash scripts/docker-daemon.sh start $$$$ && bash scripts/docker-images.sh; rc=$$?; \
		bash scripts/docker-daemon.sh stop $$$$; exit $$rc

test-docker: setup
	$(PY) -m pytest tests/docker -m docker $(PYTEST_ARGS)

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

# make sample-run: regenerate notebooks/sample_run (the real run the notebooks and report tests read)
# from notebooks/sample_experiment.toml; the old one is replaced only when the new run completed
sample-run: setup
	@rm -rf notebooks/.sample_run.new && \
	$(ICELAB) run notebooks/sample_experiment.toml --out notebooks/.sample_run.new && \
	rm -rf notebooks/sample_run && mv notebooks/.sample_run.new notebooks/sample_run && \
	echo "notebooks/sample_run regenerated"

# make demo: a small real experiment (experiments/demo.toml, DEMO_TRIALS repetitions) and its report
DEMO_TRIALS ?= 3
demo: setup
	@out=runs/demo-$$(date -u +%Y%m%d-%H%M%S); start=$$(date +%s); \
	$(ICELAB) run experiments/demo.toml --trials $(DEMO_TRIALS) --out "$$out" && \
	$(ICELAB) report "$$out" && \
	echo "demo done in $$(( $$(date +%s) - start )) s; open the report: $$(realpath "$$out")/report.html"

# make report [RUN=runs/NAME]: RUN/report.html (default: the newest run under runs/)
RUN ?= $(shell $(PY) -c "from lab.analysis import newest_run; print(newest_run('runs') or '')" 2>/dev/null)
report: setup
	@test -n "$(RUN)" || { echo "no run under runs/: make demo first, or make report RUN=DIR"; exit 2; }
	$(ICELAB) report $(RUN)
