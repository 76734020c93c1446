# Two commands for a fresh machine (Python >= 3.11 with venv, make; Xvfb for the session tests):
#   make demo   set up .venv and run the main job on the embedded default
#   make test   set up .venv and run lint and the test suite
# VENV=... puts the virtualenv elsewhere (CI uses a fresh one per run).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gazelab-installed
BENCH_STAMP := $(VENV)/.gazelab-bench-installed

.PHONY: demo test lint bench setup session clean xvfb

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,torch,eyelink,psychopy,webcam,analysis]"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps psychopy==2026.2.5
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/gazelab demo --out out/demo-$$(date +%Y%m%d-%H%M%S)

# a short simulated recording session in a PsychoPy window (Xvfb when there is no display)
session: $(STAMP)
	xvfb-run -a -s "-screen 0 1280x1024x24" $(BIN)/gazelab run examples/free-viewing.yaml --participant P01 \
		--session $$(date +%H%M%S) --windowed --out out/sessions

lint: $(STAMP)
	$(BIN)/ruff check gazelab tests benchmarks examples
	$(BIN)/ruff format --check gazelab tests benchmarks examples

# the PsychoPy session tests need an X server: Xvfb (Debian), installed here when missing and root
xvfb:
	@command -v Xvfb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		apt-get install -y -qq xvfb xauth >/dev/null; } || \
		echo "Xvfb is missing: the PsychoPy session tests will be skipped (apt-get install xvfb)"

test: lint xvfb
	$(BIN)/python -m pytest

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,torch,eyelink,psychopy,webcam,analysis,bench]"
	touch $(BENCH_STAMP)

# benchmarks against the peers (pymovements, MNE); run by hand, not in CI
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench_asc.py
	$(BIN)/python benchmarks/bench_events.py
	$(BIN)/python benchmarks/efix_agreement.py
	$(BIN)/python benchmarks/bench_maps.py
	$(BIN)/python benchmarks/bench_hdf5_layout.py
	$(BIN)/python benchmarks/simulated_vs_real.py
	$(BIN)/python benchmarks/bench_webcam.py
	$(BIN)/python benchmarks/bench_quality.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
