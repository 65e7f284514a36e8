# Two commands do all set-up on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PKG_SOURCES := $(shell find neuro_locomotion cpg_controller reflex_modules locomotion_sim launch config urdf -type f \( -name '*.py' -o -name '*.yaml' -o -name '*.urdf' -o -name '*.xacro' \) 2>/dev/null) setup.py setup.cfg package.xml
export AMENT_PREFIX_PATH := $(abspath $(VENV))
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test bench install clean urdf

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# The package itself is installed (not editable) so data_files land in share/neuro_locomotion.
# numba compiles the kernels on first use and caches them next to the installed modules: one 0.1 s
# run of the main demo at install compiles them, so that `make run` times the simulation, not the
# JIT (in a fresh clone its first real-time factor was 2.5, every later one ~12).
$(VENV)/.pkg: $(STAMP) $(PKG_SOURCES)
	$(BIN)/pip install --quiet --no-deps --force-reinstall .
	rm -rf build *.egg-info
	$(BIN)/neuroloco run quadruped --controller cpg --gait trot --duration 0.1 > /dev/null
	touch $(VENV)/.pkg

install: $(VENV)/.pkg

# The main demo: the quadruped trots on a spiking CPG (headless); prints its numbers.
run: install
	$(BIN)/neuroloco run quadruped --controller cpg --gait trot --duration 10 \
		--metrics-json out/quadruped_metrics.json --plot out/quadruped_trot.png

test: install
	$(BIN)/python -m pytest -q test

bench: install
	$(BIN)/python bench/run_all.py

urdf: $(STAMP)
	$(BIN)/python -m locomotion_sim.urdf_build

clean:
	rm -rf $(VENV) build install log *.egg-info out
