"""docker-compose.yaml cannot run here (no Docker engine): check its shape by parsing it."""

from pathlib import Path

import yaml

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yaml").read_text())
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")


def test_production_topology_is_complete():
    assert {"postgres", "redis", *AIRFLOW_SERVICES} <= set(COMPOSE["services"])


def test_every_airflow_service_runs_celery_on_postgres_and_redis():
    for name in AIRFLOW_SERVICES:
        env = COMPOSE["services"][name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql"), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name


def test_project_code_is_mounted_and_importable():
    for name in AIRFLOW_SERVICES:
        service = COMPOSE["services"][name]
        mounts = {volume.split(":")[1] for volume in service["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/include", "/opt/airflow/plugins"} <= mounts, name
        assert service["environment"]["PYTHONPATH"] == "/opt/airflow", name


def test_no_secret_is_written_into_the_file():
    env = COMPOSE["services"]["airflow-scheduler"]["environment"]
    for name in ("AIRFLOW_CONN_JIRA_DEFAULT", "AIRFLOW_CONN_AWS_DEFAULT", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert env[name].startswith("${"), f"{name} must come from the environment"


def test_components_wait_for_the_database_migration():
    for name in AIRFLOW_SERVICES[1:]:
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
