"""One real Airflow (scheduler, dag-processor, triggerer, api-server; SQLite, LocalExecutor)
for the whole end-to-end session, pointed at the demo devstack like a deployment would be."""

from __future__ import annotations

import pytest

from include.itsm.devstack.local_airflow import ADMIN_PASSWORD, ADMIN_USER, LocalAirflow
from tests.integration.demo_fixtures import connection_env, seeded_board, write_test_config

# The demo configuration's approvers (include/itsm/domain/change_policy.py defaults), an engineer who
# triggers (the drafter), and an outsider assigned to no gate.
APPROVERS = ("sre-lead", "qa-engineer", "cfo-delegate", "cso-delegate", "cto-delegate", "change-manager",
             "cab-1", "cab-2", "service-owner", "governance", "incident-manager", "product-owner",
             "dual-delegate")
# One person on two go/no-go parties' lists: the configuration allows it, separation of duties must refuse it.
E2E_POLICY = {"change": {"approvers": {"go_no_go": {"business": ["cfo-delegate", "dual-delegate"],
                                                    "security": ["cso-delegate", "dual-delegate"],
                                                    "engineering": ["cto-delegate"]}}}}
E2E_USERS = {ADMIN_USER: (ADMIN_PASSWORD, "admin"), "engineer": ("engineer-pw", "op"), "outsider": ("outsider-pw", "op"),
             **{user: (f"{user}-pw", "op") for user in APPROVERS}}


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
