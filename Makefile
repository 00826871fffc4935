# The two set-up commands a newcomer needs: `make run` and `make test`.
# Both create .venv (uv, compiled bytecode) from the pinned requirements when it is missing
# or older than requirements.txt / pyproject.toml. The dependencies are declared in pyproject.toml
# (runtime; extras `devstack` and `test`); `make lock` compiles them into requirements.txt (all of
# them: what the README's commands need) and requirements-prod.txt (runtime only: the image). `--python` is explicit: `python -m uv pip`
# would otherwise install into the interpreter that launched uv, not into .venv.
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3.11

.PHONY: run test lint install lock wheel reset

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(PYTHON) -m uv venv --allow-existing --python $(PYTHON) $(VENV)
	$(PYTHON) -m uv pip install --python $(VENV)/bin/python --quiet --compile-bytecode -r requirements.txt
	$(PYTHON) -m uv pip install --python $(VENV)/bin/python --quiet --compile-bytecode --no-deps -e .
	touch $@

install: $(VENV)/.installed

# --no-strip-markers keeps environment markers (hyperscan has no Linux ARM wheel).
LOCK := $(PYTHON) -m uv pip compile pyproject.toml --python-version 3.11 --no-strip-markers --quiet
lock:
	$(LOCK) --extra devstack --extra test -o requirements.txt
	$(LOCK) -o requirements-prod.txt

# The wheel the Dockerfile installs (dist/itsm_lifecycle-*.whl).
wheel:
	$(PYTHON) -m uv build --wheel --out-dir dist .

run: $(VENV)/.installed
	$(PY) -m include.itsm.devstack.demo_run

# The demo's state, cleared for a fresh `make run` (stop a running `make run` first).
reset:
	-test -x $(PY) && $(PY) -m include.itsm devstack down
	rm -rf .airflow .devstack evidence audit-anchors outbox state

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest
