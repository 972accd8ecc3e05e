# `make test`, `make demo` and `make docs` set everything up themselves on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# A plain `torch` requirement pulls the multi-GB CUDA build; pin the CPU wheel in the same
# pip command as everything that depends on torch.
TORCH ?= torch==2.13.0
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: test demo bench lint docs clean live-check

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$(TORCH)" -e '.[all,dev,docs]'
	touch $@

test: $(VENV)/.installed
	@echo "== mypy: type-checking lmwrapper/ (about 15 s on a fresh clone)"
	$(PY) -m mypy
	@echo "== import-linter: imports point one way (layers in .importlinter; a few seconds)"
	$(VENV)/bin/lint-imports
	@echo "== mkdocs: the documentation site, warnings as errors (about 5 s; make docs alone)"
	$(MAKE) --no-print-directory docs
	@echo "== pytest: the suite (about 5 minutes on 2 idle cores; the slowest 15 are listed at the end)"
	$(PY) -m pytest -q --durations=15

# The site in site/, built offline from docs/ and the docstrings; a warning (a broken link,
# a page missing from the nav, a name mkdocstrings cannot find) fails the build.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# A few tiny real requests per provider whose key is set (live, and a 2-line batch; under a
# cent in all), printing what works; without OPENAI_API_KEY / ANTHROPIC_API_KEY it is skipped.
live-check: $(VENV)/.installed
	$(PY) scripts/live_check.py

demo: $(VENV)/.installed
	$(PY) -m lmwrapper.tools.demo

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_cache.py

lint: $(VENV)/.installed
	$(PY) -m ruff check lmwrapper tests benchmarks scripts
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests/test_import_graph.py tests/test_public_surface.py  # no import cycles (lazy imports counted); tests and docs use the public surface

clean:
	rm -rf $(VENV) site cache/lmwrapper.sqlite*
