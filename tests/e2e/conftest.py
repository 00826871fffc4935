"""Two real Airflows for the whole end-to-end session, pointed at devstacks like a deployment would be:
`live_airflow` (the embedded default: scheduler, dag-processor, triggerer, api-server; SQLite,
LocalExecutor, simple auth) and `production_topology` (tests/e2e/topology.py: the same components and
two Celery workers as separate processes with no shared disk, PostgreSQL, Redis, FAB, state on S3, two
customers), which the production-topology and process-fault tests share.

PostgreSQL on 127.0.0.1:5432 (trust, user postgres) and Redis on 127.0.0.1:6379 are expected to run
(.ci/run starts them when they are down).
"""

from __future__ import annotations

import contextlib
import os
import uuid

import psycopg2
import pytest
import redis

from include.itsm.devstack.local_airflow import ADMIN_PASSWORD, ADMIN_USER, LocalAirflow
from tests.integration.demo_fixtures import connection_env, seeded_board, write_test_config

# The demo configuration's approvers (include/itsm/core/change_policy.py defaults), an engineer who
# triggers (the drafter), and an outsider assigned to no gate.
APPROVERS = (
    "sre-lead",
    "qa-engineer",
    "cfo-delegate",
    "cso-delegate",
    "cto-delegate",
    "change-manager",
    "cab-1",
    "cab-2",
    "service-owner",
    "governance",
    "incident-manager",
    "product-owner",
    "dual-delegate",
)
# One person on two go/no-go parties' lists: the configuration allows it, separation of duties must refuse it.
E2E_POLICY = {
    "change": {
        "approvers": {
            "go_no_go": {
                "business": ["cfo-delegate", "dual-delegate"],
                "security": ["cso-delegate", "dual-delegate"],
                "engineering": ["cto-delegate"],
            }
        }
    }
}
E2E_USERS = {
    ADMIN_USER: (ADMIN_PASSWORD, "admin"),
    "engineer": ("engineer-pw", "op"),
    "outsider": ("outsider-pw", "op"),
    **{user: (f"{user}-pw", "op") for user in APPROVERS},
}


@pytest.fixture(scope="session")
def demo_board(tmp_path_factory, local_aws):
    """The end-to-end suite's own demo board: its writes never meet the in-process suites' board."""
    with seeded_board(tmp_path_factory.mktemp("e2e-board"), local_aws.endpoint_url) as board:
        yield board


@pytest.fixture(scope="session")
def live_airflow(tmp_path_factory, demo_board, local_aws):
    directory = tmp_path_factory.mktemp("e2e")
    env = connection_env(demo_board.url, demo_board.user, demo_board.token, local_aws.endpoint_url)
    env["ITSM_CONFIG"] = str(write_test_config(directory, policy=E2E_POLICY, sweep_schedule=None, gate_poke_seconds=2))
    airflow = LocalAirflow(home=directory / "airflow", users=E2E_USERS, extra_env=env)
    airflow.start()
    airflow.config_dir = directory
    try:
        yield airflow
    finally:
        airflow.stop()


PG = dict(
    host=os.environ.get("ITSM_TEST_PG_HOST", "127.0.0.1"),
    port=int(os.environ.get("ITSM_TEST_PG_PORT", "5432")),
    user=os.environ.get("ITSM_TEST_PG_USER", "postgres"),
)
TOPOLOGY_REDIS_URL = os.environ.get("ITSM_TEST_TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/12")
CELERY_BATCH_SIZE = 2  # several mapped sweep batches, so both workers get some
# A killed worker's task is declared dead after this long without a heartbeat, then retried (300 s by
# default: a deployment tunes it to its tolerance for a stuck task, a test to its patience).
HEARTBEAT_TIMEOUT_S = 20


def _pg_admin(sql: str) -> None:
    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@contextlib.contextmanager
def fresh_database():
    """A PostgreSQL metadata DB of its own (fresh per run: sessions on one server never meet)."""
    name = f"itsm_celery_test_{uuid.uuid4().hex[:8]}"
    _pg_admin(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        _pg_admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
        _pg_admin(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="session")
def ops180_full_run(live_airflow, demo_board):
    """OPS-180 through every gate, answered at once by the right people: (run id, final state)."""
    from include.itsm.lifecycle.plan import lifecycle_dag_id, plan_for
    from tests.e2e.lifecycle_helpers import APPROVER_OF, OPS180, ROLLBACK_EVIDENCE, add_to_manifest, approve, trigger

    add_to_manifest(live_airflow, OPS180, "change", "normal")
    run_id = trigger(live_airflow, OPS180, {"execute": True, "reason": "customer request: extend the scheduler"})
    for gate in (g.name for g in plan_for(OPS180, "change", "normal").gates):
        evidence = ROLLBACK_EVIDENCE if gate == "go_no_go_engineering" else ""
        approve(live_airflow, OPS180, run_id, gate, APPROVER_OF[gate], evidence=evidence)
    return run_id, live_airflow.client().wait_for_run(lifecycle_dag_id(OPS180), run_id, timeout_s=300)


@pytest.fixture(scope="session")
def production_topology(tmp_path_factory, local_aws, bare_aws):
    """tests/e2e/topology.py's deployment, started once: the demo customer on the session's demo AWS,
    a second customer on an organisation of its own, state on the platform's S3 (`bare_aws`)."""
    from tests.e2e import topology

    redis.Redis.from_url(TOPOLOGY_REDIS_URL).ping()
    directory = tmp_path_factory.mktemp("topology")
    topology.create_buckets(bare_aws)
    with (
        seeded_board(directory, local_aws.endpoint_url) as kiwi_board,
        topology.tenants(directory, local_aws, kiwi_board) as tenants,
        fresh_database() as database,
    ):
        env = topology.connections(tenants, bare_aws) | {
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        }
        config = topology.write_config(directory, E2E_POLICY, batch_size=CELERY_BATCH_SIZE)
        env["ITSM_CONFIG"] = str(config)
        airflow = topology.airflow(directory, env, E2E_USERS, database, TOPOLOGY_REDIS_URL)
        airflow.start(timeout_s=240)
        try:
            yield topology.Topology(airflow, tenants, bare_aws, config)
        finally:
            airflow.stop()


@pytest.fixture(scope="session")
def topology_laptop(production_topology, tmp_path_factory):
    """An operator's copy of the topology's configuration, state on the laptop's own disk."""
    from tests.e2e.lifecycle_helpers import laptop_config

    return laptop_config(production_topology.airflow, tmp_path_factory.mktemp("laptop"))
