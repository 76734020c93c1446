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
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,torch,eyelink,psychopy,webcam,analysis,edf]"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps psychopy==2026.2.5
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/gazelab demo --out out/demo-$$(date +%Y%m%d-%H%M%S)

# a short simulated recording session in a PsychoPy window (Xvfb when there is no display); nobody
# needs to press a key: --unattended lets the simulated participant answer the key prompts
session: $(STAMP)
	xvfb-run -a -s "-screen 0 1280x1024x24" $(BIN)/gazelab run examples/free-viewing.yaml --participant P01 \
		--session $$(date +%H%M%S) --windowed --unattended --out out/sessions

lint: $(STAMP)
	$(BIN)/ruff check gazelab tests benchmarks examples
	$(BIN)/ruff format --check gazelab tests benchmarks examples

# the PsychoPy session tests need an X server: Xvfb (Debian), installed here when missing and root
xvfb:
	@command -v Xvfb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		apt-get install -y -qq xvfb xauth >/dev/null; } || \
		echo "Xvfb is missing: the PsychoPy session tests will be skipped (apt-get install xvfb)"

# the export tests also load our files with the peers' own readers (make peers)
test: lint xvfb peers
	$(BIN)/python -m pytest

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,torch,eyelink,psychopy,webcam,analysis,edf,bench]"
	touch $(BENCH_STAMP)

# benchmarks against the peers (pymovements, MNE, pysaliency); run by hand, not in CI
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench_asc.py
	$(BIN)/python benchmarks/bench_edf.py
	$(BIN)/python benchmarks/bench_events.py
	$(BIN)/python benchmarks/efix_agreement.py
	$(BIN)/python benchmarks/bench_maps.py
	$(BIN)/python benchmarks/bench_metrics.py --before f0a9f38
	$(BIN)/python benchmarks/probe_fused_kernels.py
	$(BIN)/python benchmarks/bench_hdf5_layout.py
	$(BIN)/python benchmarks/simulated_vs_real.py
	$(BIN)/python benchmarks/bench_webcam.py
	$(BIN)/python benchmarks/bench_quality.py
	$(BIN)/python benchmarks/bench_eyelink_replay.py

# the peers two export tests load our files with (pysaliency; Hugging Face datasets, with the
# dependencies a fresh venv lacks), each in a
# throwaway folder beside the repo, not in the venv (neither is a gazelab dependency, and pysaliency
# needs setuptools<81); the tests skip cleanly without them
.PHONY: peers
peers: .venv-pysaliency/.installed .venv-hf/.installed

.venv-pysaliency/.installed: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target .venv-pysaliency \
		pysaliency==0.2.22 setuptools==80.9.0 boltons==26.2.0 schema==0.7.8 natsort==8.4.0 dill==0.4.1 \
		imageio==2.38.2 deprecation==2.1.0 numba==0.68.1 llvmlite==0.50.0
	touch $@

.venv-hf/.installed: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target .venv-hf \
		datasets==5.2.0 huggingface-hub==2.4.0 xxhash==4.1.0 multiprocess==0.70.19 httpx==0.29.0 \
		httpx2==2.16.2 httpcore==1.0.9 httpcore2==2.16.2 h11==0.16.0 anyio==4.16.0 sniffio==1.3.1 \
		truststore==0.10.5 hf-xet==1.8.0 typer==0.29.2 shellingham==1.5.4 dill==0.4.1
	touch $@

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .venv-pysaliency .venv-hf
