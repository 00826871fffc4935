"""Session-wide test set-up.

Airflow reads its configuration when first imported, so the environment is fixed here,
before any test module imports airflow: a private AIRFLOW_HOME (SQLite), no examples,
unit-test mode, and the repository's dags/ folder.
"""

import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="itsm-test-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO_ROOT / "plugins")
os.environ.setdefault("ITSM_DEVSTACK_HOME", tempfile.mkdtemp(prefix="itsm-test-devstack-"))
