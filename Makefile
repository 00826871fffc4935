# The two set-up commands a newcomer needs: `make run` and `make test`.
# Both create .venv (uv, compiled bytecode) from the pinned requirements when it is missing
# or older than requirements.txt / pyproject.toml. `--python` is explicit: `python -m uv pip`
# would otherwise install into the interpreter that launched uv, not into .venv.
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3.11

.PHONY: run test install

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(PYTHON) -m uv venv --allow-existing --python $(PYTHON) $(VENV)
	$(PYTHON) -m uv pip install --python $(VENV)/bin/python --quiet --compile-bytecode -r requirements.txt
	$(PYTHON) -m uv pip install --python $(VENV)/bin/python --quiet --compile-bytecode --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) -m include.itsm.devstack.demo_run

test: $(VENV)/.installed
	$(PY) -m pytest
