"""The PIR under the real scheduler: a P1 incident in Pending PIR, lifecycle steps ["pir"], the
incident manager fills in the pir gate's entry form and approves; only then is the page published
to Confluence OPS and the ticket Resolved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from include.itsm.adapters.evidence import run_segment
from include.itsm.lifecycle.plan import approvals_dag_id, lifecycle_dag_id
from tests.e2e.lifecycle_helpers import add_to_manifest, itsm, laptop_config, trigger, wait_for_gate

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SOURCE = "OPS-152"  # the demo history's P1 in Pending PIR
WHYS = [
    "The API service crash-looped on three prod-core instances",
    "Release 26.10.3 dereferenced a config key that was empty",
    "The key was removed from the config in the same release",
    "Integration tests always run with a complete config file",
    "process: releases skip the canary stage that would have caught it",
]


def _get(demo_board, path: str, **params) -> dict:
    return demo_board.http.get(f"{demo_board.url}{path}", params=params, timeout=10).json()


def _pending_pir_copy(demo_board) -> tuple[str, str]:
    """A copy of the demo history's P1 in Pending PIR (the other e2e tests keep reading the history as
    seeded): (its key, its PIR page's title)."""
    source = _get(demo_board, f"/rest/api/3/issue/{SOURCE}", expand="changelog")
    fields = source["fields"]
    changelog = tuple(
        (
            datetime.fromisoformat(h["created"].replace("+0000", "+00:00")),
            "ops@example.com",
            item["field"],
            item.get("fromString"),
            item.get("toString"),
        )
        for h in source["changelog"]["histories"]
        for item in h["items"]
    )
    key = demo_board.store.seed_issue(
        project="OPS",
        issue_type="Incident",
        summary=fields["summary"],
        description_adf=fields["description"],
        status="Pending PIR",
        labels=fields["labels"],
        priority="P1",
        created=datetime.fromisoformat(fields["created"].replace("+0000", "+00:00")),
        resolved=datetime.fromisoformat(fields["resolutiondate"].replace("+0000", "+00:00")),
        changelog=changelog,
    )
    return key, f"PIR {key}: {fields['summary']}"


def test_pir_gate_entry_form_publishes_the_page_and_resolves(live_airflow, demo_board):
    key, title = _pending_pir_copy(demo_board)
    add_to_manifest(live_airflow, key, "incident")

    run_id = trigger(live_airflow, key, {"execute": True, "steps": ["pir"], "reason": "e2e pir"})
    wait_for_gate(live_airflow, key, run_id, "pir")
    assert _get(demo_board, f"/rest/api/3/issue/{key}")["fields"]["status"]["name"] == "Pending PIR"
    assert _get(demo_board, "/wiki/api/v2/pages", title=title)["results"] == []

    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    live_airflow.client("incident-manager").respond(
        approvals_dag_id(key),
        run_id,
        "pir",
        approve=True,
        params={
            "reason": "PIR reviewed",
            "evidence": "",
            "whys": "\n".join(WHYS),
            "root_cause": "Release 26.10.3 shipped without a canary stage",
            "rca": "code-defect",
            "action_items": f"Enforce the canary stage in the pipeline | CloudOps Engineer | {due}",
        },
    )
    client = live_airflow.client()
    assert client.wait_for_run(lifecycle_dag_id(key), run_id, timeout_s=300) == "success"

    assert _get(demo_board, f"/rest/api/3/issue/{key}")["fields"]["status"]["name"] == "Resolved"
    found = _get(demo_board, "/wiki/api/v2/pages", title=title, **{"body-format": "storage"})["results"]
    assert len(found) == 1
    assert "shipped without a canary stage" in found[0]["body"]["storage"]["value"]
    outcome = json.loads(
        (live_airflow.config_dir / "evidence" / key / run_segment(run_id) / "lifecycle.json").read_text()
    )
    assert outcome["outcome"] == "completed" and outcome["decisions"]["pir"]["user_id"] == "incident-manager"
    assert outcome["decisions"]["pir"]["inputs"]["rca"] == "code-defect"


def test_create_pir_from_a_laptop_hands_its_input_to_the_airflow_side(live_airflow, demo_board, tmp_path):
    """`itsm create-pir KEY --input pir.yaml --execute` from a laptop (its own evidence store): the input
    travels in the run's conf and is stored on the Airflow side; the incident manager approves the
    form as it comes and the page carries the YAML's root cause."""
    key, title = _pending_pir_copy(demo_board)
    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    pir_yaml = tmp_path / "pir.yaml"
    pir_yaml.write_text(
        yaml.safe_dump(
            {
                "whys": WHYS,
                "root_cause": "Release 26.10.3 skipped the canary stage",
                "rca": "code-defect",
                "action_items": [f"Enforce the canary stage | CloudOps Engineer | {due}"],
            }
        )
    )
    (tmp_path / "laptop").mkdir()
    laptop = laptop_config(live_airflow, tmp_path / "laptop")
    started = itsm(
        live_airflow, "engineer", "create-pir", key, "--input", str(pir_yaml), "--execute", "--json", config=laptop
    )
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    assert not list(tmp_path.rglob("pir-input.json"))  # the input never stored on the laptop
    wait_for_gate(live_airflow, key, run_id, "pir")
    live_airflow.client("incident-manager").respond(approvals_dag_id(key), run_id, "pir", approve=True)
    assert live_airflow.client().wait_for_run(lifecycle_dag_id(key), run_id, timeout_s=300) == "success"
    stored = live_airflow.config_dir / "evidence" / key / run_segment(run_id) / "pir-input.json"
    assert json.loads(stored.read_text())["input"]["root_cause"] == "Release 26.10.3 skipped the canary stage"
    found = _get(demo_board, "/wiki/api/v2/pages", title=title, **{"body-format": "storage"})["results"]
    assert len(found) == 1 and "skipped the canary stage" in found[0]["body"]["storage"]["value"]
