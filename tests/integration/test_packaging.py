"""The wheel is the product: built from this tree, installed with requirements-prod.txt into a fresh
virtual environment, it runs `itsm` and imports every DAG file and the plugin, with no repository on
the path. That is what the Dockerfile does (it installs the same wheel on the same lock file).

uv installs from its cache (registries are only asked for what the cache lacks), so the install
takes seconds once the lock's packages have been fetched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{args}: {done.stdout[-1500:]}\n{done.stderr[-3000:]}"
    return done


def _uv() -> list[str]:
    for candidate in (sys.executable, "python3.11", "python3"):
        if subprocess.run([candidate, "-m", "uv", "--version"], capture_output=True).returncode == 0:
            return [candidate, "-m", "uv"]
    pytest.fail("uv is needed to build and install the wheel (make install puts it next to python3.11)")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A fresh virtual environment holding only the wheel and the production lock file."""
    uv, work = _uv(), tmp_path_factory.mktemp("packaging")
    _run([*uv, "build", "--wheel", "--out-dir", work / "dist", REPO_ROOT], timeout=300)
    (wheel,) = (work / "dist").glob("itsm_lifecycle-*.whl")
    venv = work / "venv"
    _run([*uv, "venv", "--python", sys.executable, venv], timeout=120)
    python = venv / "bin" / "python"
    _run(
        [*uv, "pip", "install", "--python", python, "-r", REPO_ROOT / "requirements-prod.txt", wheel],
        timeout=600,
    )
    home = work / "airflow-home"
    home.mkdir()
    # Nothing of the test session's set-up (conftest's AIRFLOW_* and ITSM_*, the repository on PYTHONPATH).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ITSM", "PYTHONPATH", "VIRTUAL_ENV"))}
    env |= {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "HOME": str(work)}
    return {"venv": venv, "python": python, "env": env, "cwd": work}


def test_the_lock_files_split_runtime_from_test_and_devstack_tools():
    prod = (REPO_ROOT / "requirements-prod.txt").read_text()
    full = (REPO_ROOT / "requirements.txt").read_text()
    names = {line.split("==")[0] for line in prod.splitlines() if "==" in line and not line.startswith("#")}
    for tool in ("pytest", "hypothesis", "ruff", "moto", "jira", "detect-secrets", "openapi-core", "duckdb"):
        assert tool not in names, f"{tool} is a test or devstack tool, not a runtime dependency"
        assert f"\n{tool}==" in full, f"{tool} missing from requirements.txt (make install)"
    for runtime in ("apache-airflow", "apache-airflow-providers-fab", "apache-airflow-providers-amazon", "s3fs"):
        assert runtime in names
    marker = "platform_machine == 'x86_64'"  # hyperscan ships no Linux ARM wheel
    assert all(marker in line for line in (prod + full).splitlines() if line.startswith("hyperscan=="))


def test_itsm_runs_from_the_installed_wheel(installed):
    done = _run([installed["venv"] / "bin" / "itsm", "--help"], env=installed["env"], cwd=installed["cwd"], timeout=120)
    assert "lifecycle" in done.stdout and "doctor" in done.stdout


def test_every_dag_file_and_the_plugin_import_from_the_installed_package(installed):
    probe = f"""
import json, runpy, sys
import include.itsm.config
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={str(REPO_ROOT / "dags")!r}, safe_mode=False)
plugin = runpy.run_path({str(REPO_ROOT / "plugins" / "itsm_bridge_plugin.py")!r})
print(json.dumps({{
    "package": include.itsm.config.__file__,
    "dags": sorted(bag.dag_ids),
    "errors": {{k: str(v)[-1500:] for k, v in bag.import_errors.items()}},
    "files": sorted(stat.file for stat in bag.dagbag_stats),
    "plugins": sorted(k for k, v in plugin.items() if isinstance(v, type) and v.__module__ == "<run_path>"),
}}))
"""
    done = _run([installed["python"], "-c", probe], env=installed["env"], cwd=installed["cwd"], timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["package"].startswith(str(installed["venv"])), "include.itsm came from outside the wheel"
    assert result["errors"] == {}
    assert {"itsm_nightly_sweep", "itsm_pattern_bridge"} <= set(result["dags"])
    assert len(result["files"]) == len(list((REPO_ROOT / "dags").glob("*.py")))  # every file parsed
    assert result["plugins"], "the plugin file defined no plugin class"


def test_runtime_dependencies_cover_every_module_but_the_devstack(installed):
    """Every include.itsm module outside the embedded default imports on the runtime lock alone; the
    devstack's own packages (moto) are not there, so the split between them is real."""
    probe = """
import importlib, importlib.util, json, pkgutil
import include.itsm
failed = {}
for module in pkgutil.walk_packages(include.itsm.__path__, "include.itsm."):
    if module.name.startswith("include.itsm.devstack") or module.name == "include.itsm.__main__":
        continue
    try:
        importlib.import_module(module.name)
    except Exception as error:
        failed[module.name] = repr(error)
print(json.dumps({"failed": failed, "moto": importlib.util.find_spec("moto") is not None}))
"""
    done = _run([installed["python"], "-c", probe], env=installed["env"], cwd=installed["cwd"], timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}
    assert not result["moto"], "moto (the devstack extra) is in the runtime lock"
