# Set-up and everyday commands. Each target creates .venv with Python 3.12 when it is missing.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The first Python 3.12 or newer that actually runs (a pyenv shim can exist without a version behind it).
FIND_PYTHON = for p in python3.12 python3.13 $(HOME)/.pyenv/versions/3.12*/bin/python3.12 $(HOME)/.pyenv/versions/3.13*/bin/python3.13; do \
	if $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo $$p; break; fi; done

.PHONY: demo test test-slow test-all lint install clean

$(STAMP): pyproject.toml
	@test -x $(PY) || { P=$$($(FIND_PYTHON)); test -n "$$P" || { echo "error: Python 3.12 or newer not found; install it and rerun" >&2; exit 1; }; $$P -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/neurosolve validate quick --out demo-output

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-all: $(STAMP)
	$(PY) -m pytest -q -m ''

lint: $(STAMP)
	$(VENV)/bin/ruff check neurosolve tests
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
