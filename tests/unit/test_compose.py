"""docker-compose.yaml and the Dockerfile, checked without a Docker engine.

The compose file is interpolated the way `docker compose` does it (`${VAR}`, `${VAR:-default}`,
`${VAR:?error}`, `$$`), then validated against the Compose Specification's JSON schema (vendored in
tests/data/compose-spec), and held to the deployment's rules: a health check on every long-running
service, no code mounted from the host, the api-server on 127.0.0.1 only, FAB auth, secrets only from
the environment, Celery on Postgres and Redis, and one evidence store every Airflow container shares.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import pytest
import yaml

from include.itsm.config import load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = REPO_ROOT / "docker-compose.yaml"
SCHEMA = REPO_ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"
SECRETS = (
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "AIRFLOW_CONN_ITSM_AUDIT",
    "AIRFLOW_ADMIN_PASSWORD",
)
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value, env: dict[str, str]):
    """Compose's variable interpolation over every string of the loaded file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        current = env.get(name)
        unset = current is None or (current == "" and op and op.startswith(":"))
        if op and op.endswith("?") and unset:
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        if op and op.endswith("-") and unset:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # merge keys (<<) resolved as compose resolves them


@pytest.fixture(scope="module")
def compose(raw) -> dict:
    return interpolate(raw, {name: f"test-{name.lower()}" for name in SECRETS})


def _airflow_services(compose: dict) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if s.get("image", "").startswith("itsm-lifecycle")}


def test_the_file_validates_against_the_compose_specification(compose):
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_catches_a_broken_file(compose):
    """The validator is not vacuous: a misspelt key and a wrong type are both refused."""
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    broken["services"]["postgres"]["ports"] = "5432"
    assert len(list(jsonschema.Draft7Validator(schema).iter_errors(broken))) >= 2


@pytest.mark.parametrize("secret", SECRETS)
def test_every_secret_comes_from_the_environment(raw, secret):
    env = {name: "x" for name in SECRETS if name != secret}
    with pytest.raises(ValueError, match=secret):
        interpolate(raw, env)


def test_every_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name} has no health check"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_no_code_is_mounted_from_the_host(compose):
    named = set(compose.get("volumes", {}))
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            kind = "volume" if isinstance(volume, str) else volume.get("type", "volume")
            assert kind == "volume" and source in named, f"{name} mounts {volume!r} from the host"
    # What the host does provide is configuration (compose configs), never Python.
    for config in compose.get("configs", {}).values():
        assert not config["file"].endswith(".py")


def test_the_api_server_listens_on_localhost_only(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    assert compose["services"]["airflow-apiserver"]["ports"]


def test_airflow_runs_fab_auth_with_a_fernet_key_and_a_jwt_secret(raw, compose):
    services = _airflow_services(compose)
    assert set(services) >= {
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
    }
    for name, service in services.items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("fab_auth_manager.FabAuthManager"), name
        assert env["AIRFLOW__CORE__FERNET_KEY"] == "test-airflow_fernet_key", name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "test-airflow_jwt_secret", name
        assert "PYTHONPATH" not in env, f"{name}: the code comes from the installed wheel"


def test_every_airflow_container_shares_the_evidence_store(compose):
    """The configuration compose mounts puts evidence, anchors and manifest on volumes every container has."""
    (config,) = compose["configs"].values()
    settings = load_settings(REPO_ROOT / config["file"])
    shared = [
        urlparse(settings.runtime.evidence_root),
        urlparse(settings.runtime.audit_anchor_root),
        urlparse(f"file://{Path(settings.runtime.manifest_path).parent}"),
    ]
    for name, service in _airflow_services(compose).items():
        assert service["environment"]["ITSM_CONFIG"] in {c["target"] for c in service["configs"]}, name
        mounts = {volume.split(":")[1] for volume in service["volumes"]}
        for location in shared:
            if location.scheme == "file":
                assert any(location.path.startswith(mount) for mount in mounts), f"{name} lacks {location.path}"
            else:
                assert location.scheme == "s3", location


def test_the_image_installs_the_wheel_and_mounts_no_code():
    stages = re.split(r"^FROM ", (REPO_ROOT / "Dockerfile").read_text(), flags=re.M)[1:]
    final = stages[-1]
    assert final.startswith("apache/airflow:3.3.2-python3.11")
    assert re.search(r"pip install [^\n]*-r /tmp/requirements-prod.txt [^\n]*\.whl", final)
    assert "COPY include" not in final and "PYTHONPATH" not in final  # code only through the wheel
    assert "requirements.txt" not in final  # the test and devstack tools stay out of the image
    assert re.search(r"build --wheel", stages[0])


def test_celery_on_postgres_and_redis_after_the_migration(raw, compose):
    services = _airflow_services(compose)
    for name, service in services.items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql"), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        # connections come from the environment (or a secrets backend), never from this file
        for connection in ("AIRFLOW_CONN_JIRA_DEFAULT", "AIRFLOW_CONN_AWS_DEFAULT", "AIRFLOW_CONN_AWS_OPERATIONS"):
            assert raw["services"][name]["environment"][connection].startswith("${"), (name, connection)
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
