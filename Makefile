# `make test` and `make demo` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# A plain `torch` requirement pulls the multi-GB CUDA build; pin the CPU wheel in the same
# pip command as everything that depends on torch.
TORCH ?= torch==2.13.0
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: test demo bench lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)" -e '.[all,dev]'
	touch $@

test: $(VENV)/.installed
	@echo "== mypy: type-checking lmwrapper/ (about 15 s on a fresh clone)"
	$(PY) -m mypy
	@echo "== import-linter: imports point one way (layers in .importlinter; a few seconds)"
	$(VENV)/bin/lint-imports
	@echo "== pytest: the suite (about 5 minutes on 2 idle cores; the slowest 15 are listed at the end)"
	$(PY) -m pytest -q --durations=15

demo: $(VENV)/.installed
	$(PY) -m lmwrapper.tools.demo

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_cache.py

lint: $(VENV)/.installed
	$(PY) -m ruff check lmwrapper tests benchmarks scripts
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) cache/lmwrapper.sqlite*
