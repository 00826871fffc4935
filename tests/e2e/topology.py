"""The production topology of docs/deploy.md, built the way a platform team deploys it, for
tests/e2e/test_production_topology.py (tests/e2e/conftest.py's `production_topology` starts it once).

- PostgreSQL (a fresh metadata DB) and Redis (the Celery broker);
- api-server, scheduler, dag-processor, triggerer and two Celery workers as separate processes, each
  with its own AIRFLOW_HOME, HOME, temp folder, working directory and copy of the configuration,
  sharing nothing on disk but a read-only copy of the DAG and plugin folders (the image's);
- the FAB auth manager, the approvers created by `itsm approvers sync`;
- evidence, audit anchors and the lifecycle manifest on S3 (a local AWS of the platform's own);
- two customers, each with its own board (Jira site) and project key, and its own AWS organisation
  (a local AWS each) reached through `role_arn` role assumption in its Airflow connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

from include.itsm.devstack.demo import org
from include.itsm.devstack.demo.seed import instance_ids_from_local_aws, seed_board
from include.itsm.devstack.local_airflow import LocalAirflow
from include.itsm.devstack.services import REPO_ROOT, free_port
from tests.conftest import own_board
from tests.integration.aws_fixtures import LocalAws, serving
from tests.integration.demo_fixtures import write_test_config

KIWI, TASMAN = "kiwi-freight", "tasman-ports"
PROJECT = {KIWI: "OPS", TASMAN: "TPL"}
# The read roles each customer's `aws_default`-style connection assumes (moto answers any role: the
# test checks which one each organisation's calls really ran as).
READ_ROLE = {
    KIWI: f"arn:aws:iam::{org.MANAGEMENT_ACCOUNT_ID}:role/ITSMDiscoveryKiwi",
    TASMAN: f"arn:aws:iam::{org.MANAGEMENT_ACCOUNT_ID}:role/ITSMDiscoveryTasman",
}
# Each customer's connection ids: Jira, AWS reads, AWS operations (the alarm writer).
OPERATIONS_ROLE = {
    KIWI: f"arn:aws:iam::{org.MANAGEMENT_ACCOUNT_ID}:role/ITSMOperationsKiwi",
    TASMAN: f"arn:aws:iam::{org.MANAGEMENT_ACCOUNT_ID}:role/ITSMOperationsTasman",
}
CONNECTIONS = {
    KIWI: ("jira_default", "aws_default", "aws_operations"),
    TASMAN: ("jira_customer_b", "aws_customer_b", "aws_customer_b_operations"),
}
BUCKETS = {"evidence": "itsm-evidence", "anchors": "itsm-audit-anchors", "state": "itsm-state"}
WORKERS = ("topology-worker-a", "topology-worker-b")


@dataclass
class Tenant:
    id: str
    project: str
    board: object  # tests.conftest.BoardHandle
    aws: LocalAws

    def key(self, number: int) -> str:
        return f"{self.project}-{number}"


@dataclass
class Topology:
    airflow: LocalAirflow
    tenants: dict[str, Tenant]
    platform_aws: LocalAws  # the platform's own account: the S3 buckets
    config_path: Path  # what every component got a copy of

    def s3_keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.platform_aws.client("s3").get_paginator("list_objects_v2")
        return [
            o["Key"] for page in pages.paginate(Bucket=BUCKETS[bucket], Prefix=prefix) for o in page.get("Contents", [])
        ]


def _aws_connection(aws: LocalAws, role_arn: str) -> str:
    # the provider never sends role assumption to the global endpoint_url: STS's own
    return aws.connection(role_arn=role_arn, service_config={"sts": {"endpoint_url": aws.endpoint_url}})


def _jira_connection(board) -> str:
    return json.dumps({"conn_type": "jira", "host": board.url, "login": board.user, "password": board.token})


def connections(tenants: dict[str, Tenant], platform_aws: LocalAws) -> dict[str, str]:
    """The Airflow connections a platform team sets (as `AIRFLOW_CONN_*`; a secrets backend in production)."""
    env = {
        "AIRFLOW_CONN_AWS_EVIDENCE": platform_aws.connection(),
        "AIRFLOW_CONN_ITSM_AUDIT": os.environ["AIRFLOW_CONN_ITSM_AUDIT"],
    }
    for tenant in tenants.values():
        jira, reads, operations = (f"AIRFLOW_CONN_{conn_id.upper()}" for conn_id in CONNECTIONS[tenant.id])
        env[jira] = _jira_connection(tenant.board)
        env[reads] = _aws_connection(tenant.aws, READ_ROLE[tenant.id])
        env[operations] = _aws_connection(tenant.aws, OPERATIONS_ROLE[tenant.id])
    return env


def write_config(directory: Path, policy: dict, batch_size: int) -> Path:
    """config/itsm.yaml for two customers on S3 state: the demo customer, and a second one with its own
    Jira site, project and AWS organisation."""
    s3 = {name: f"s3://aws_evidence@{bucket}" for name, bucket in BUCKETS.items()}
    path = write_test_config(
        directory,
        policy=policy,
        evidence_root=f"{s3['evidence']}/evidence",
        audit_anchor_root=f"{s3['anchors']}/anchors",
        manifest_path=f"{s3['state']}/manifest.json",
        manifest_refresh_seconds=5,
        evidence_per_customer=True,
        sweep_schedule=None,
        sweep_batch_size=batch_size,
        gate_poke_seconds=2,
    )
    config = yaml.safe_load(path.read_text())
    kiwi = config["customers"][0] | {"notices": {"channel": "none"}}
    jira, reads, operations = CONNECTIONS[TASMAN]
    tasman = kiwi | {
        "id": TASMAN,
        "name": "Tasman Ports Ltd",
        "jira_conn_id": jira,
        "aws_conn_id": reads,
        "aws_operations_conn_id": operations,
        "jira_project": PROJECT[TASMAN],
    }
    config["customers"] = [kiwi, tasman]
    path.write_text(yaml.safe_dump(config))
    return path


def read_only_copy(source: Path, target: Path) -> Path:
    """The image's folder: copied, then nobody may write it."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    for folder, _, files in os.walk(target, topdown=False):
        for name in files:
            os.chmod(Path(folder) / name, 0o444)
        os.chmod(folder, 0o555)
    return target


@contextlib.contextmanager
def tenants(directory: Path, kiwi_aws: LocalAws, kiwi_board):
    """The demo customer on the session's demo AWS and a board of its own; the second customer on an
    AWS organisation and a board of its own, its tickets keyed TPL-."""
    (directory / "tasman-board").mkdir()
    with serving(directory / "tasman-aws.log") as tasman_aws, own_board(directory / "tasman-board") as tasman_board:
        seed_board(tasman_board.store, instance_ids_from_local_aws(tasman_aws.endpoint_url), project=PROJECT[TASMAN])
        yield {
            KIWI: Tenant(KIWI, PROJECT[KIWI], kiwi_board, kiwi_aws),
            TASMAN: Tenant(TASMAN, PROJECT[TASMAN], tasman_board, tasman_aws),
        }


def create_buckets(platform_aws: LocalAws) -> None:
    s3, where = platform_aws.client("s3"), {"LocationConstraint": platform_aws.region}
    for bucket in BUCKETS.values():
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=where)


def airflow(directory: Path, env: dict[str, str], users, metadata_db: str, broker_url: str) -> LocalAirflow:
    image = directory / "image"
    return LocalAirflow(
        home=directory / "airflow",
        port=free_port(0),
        users=users,
        # Secrets every component must share (docs/deploy.md's table): without one Fernet key, a Variable
        # that `itsm approvers sync` stored is unreadable to the api-server that serves it to the workers.
        extra_env=env
        | {
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__CORE__PARALLELISM": "8",
        },
        executor="CeleryExecutor",
        sql_alchemy_conn=metadata_db,
        broker_url=broker_url,
        celery_workers=WORKERS,
        auth_manager="fab",
        isolated=True,
        dags_folder=read_only_copy(REPO_ROOT / "dags", image / "dags"),
        plugins_folder=read_only_copy(REPO_ROOT / "plugins", image / "plugins"),
    )
