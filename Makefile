# `make test` and `make demo` set up .venv on first use (or when setup.py changes).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: test demo bench clean

$(VENV)/.installed: setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest

demo: $(VENV)/.installed
	$(VENV)/bin/kerasbio study capacity --quick

bench: $(VENV)/.installed
	$(VENV)/bin/kerasbio bench

clean:
	rm -rf $(VENV) build *.egg-info
