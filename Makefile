# nbq: two entry points, each sets up .venv (idempotent, fast when nothing changed) and runs.
#   make demo   compile the built-in digits CNN for zcu102, C-simulate and RTL-co-simulate it, print accuracies,
#               cycles per image and the bit-exact verdict
#   make test   run the whole test suite (all tiers, as CI does)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The open-source ap_int/hls_stream headers ship inside the hls4ml wheel; nbq needs only those
# files, so install it without its (heavy) dependencies.
HLS_HEADERS_PKG := hls4ml==1.3.0
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint bench clean venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.stamp-demo: pyproject.toml Makefile | $(PY)
	$(PY) -m pip install -q -e ".[demo,sim]"
	$(PY) -m pip install -q --no-deps "$(HLS_HEADERS_PKG)"
	touch $@

$(VENV)/.stamp-test: pyproject.toml Makefile $(VENV)/.stamp-demo
	$(PY) -m pip install -q -e ".[demo,train,sim,dev]"
	touch $@

venv: $(VENV)/.stamp-test

demo: $(VENV)/.stamp-demo
	$(PY) examples/demo.py

test: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check nbq tests examples bench
	$(PY) -m pytest $(PYTEST_ARGS)

# the hardware-facing benchmarks; the training ones (accuracy, train_memory) run alone: python bench/NAME.py
bench: $(VENV)/.stamp-test
	$(PY) bench/compile_time.py
	$(PY) bench/csim_speed.py
	$(PY) bench/cosim_speed.py
	$(PY) bench/rom_efficiency.py
	$(PY) bench/svpe_vs_vpe.py
	$(PY) bench/bcnn_u280.py

clean:
	rm -rf $(VENV) build *.egg-info demo_out
