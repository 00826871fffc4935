"""The pattern bridge under the real scheduler: REST trigger, HITL approval over REST, stories on SPM,
and the report page through the Airflow api-server (200 with a token, 401 without)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from include.itsm.adapters.airflow_api import AirflowApiError
from tests.e2e.lifecycle_helpers import wait_for_hitl

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
DAG_ID = "itsm_pattern_bridge"


def test_bridge_run_approved_over_rest_creates_the_stories_once(live_airflow, demo_board):
    from include.itsm.adapters.jira import JiraAdapter

    client = live_airflow.client()
    dag = client.wait_for_dag(DAG_ID)
    assert not dag["is_paused"]
    now = datetime.now(UTC)
    run_id = f"e2e-bridge__{now:%Y%m%dT%H%M%S%f}"
    client.trigger_at(DAG_ID, run_id, now, conf={"execute": True})
    wait_for_hitl(live_airflow, DAG_ID, run_id, "stories")
    with pytest.raises(AirflowApiError, match="403"):  # only the configured product owner may answer
        client.respond(DAG_ID, run_id, "stories", approve=True)
    answer = live_airflow.client("product-owner").respond(DAG_ID, run_id, "stories", approve=True)
    assert answer["responded_by"]["name"] == "product-owner"
    assert client.wait_for_run(DAG_ID, run_id, timeout_s=480) == "success"
    states = {ti["task_id"]: ti["state"] for ti in client.task_instances(DAG_ID, run_id)}
    assert states["create_stories"] == "success" and states["report_created"] == "success", states

    board = JiraAdapter.from_credentials(demo_board.url, demo_board.user, demo_board.token)
    stories = list(board.search('project = "SPM" AND labels = "itsm-bridge"'))
    labels = [tuple(sorted(label for label in s.labels if label.startswith("itsm-key-"))) for s in stories]
    assert stories and len(labels) == len(set(labels))  # one story per pattern
    assert {"bridge-recurring", "bridge-p0", "bridge-mttr"} <= {label for s in stories for label in s.labels}


def test_report_page_needs_an_airflow_token(live_airflow):
    client = live_airflow.client()
    deadline = time.monotonic() + 120
    dates = []
    while time.monotonic() < deadline and not dates:
        response = client.session.get(f"{client.url}/itsm-bridge/reports", timeout=30)
        assert response.status_code == 200, response.text
        dates = response.json()["dates"]
        time.sleep(1)
    assert dates, "no bridge report in the evidence store"
    url = f"{client.url}/itsm-bridge/{dates[0]}/report.html"
    page = client.session.get(url, timeout=30)
    assert page.status_code == 200 and "<svg" in page.text
    assert client.session.get(f"{client.url}/itsm-bridge/{dates[0]}/report.csv", timeout=30).status_code == 200
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=30).status_code == 401
    assert requests.get(url, cookies={"_token": "forged"}, timeout=30).status_code == 401
    token = client.session.headers["Authorization"].split()[1]
    assert requests.get(url, cookies={"_token": token}, timeout=30).status_code == 200  # the UI's cookie
    plugins = client.get("/plugins")["plugins"]
    views = [v for p in plugins for v in p.get("external_views", [])]
    assert any(v["name"] == "ITSM Bridge" for v in views)
