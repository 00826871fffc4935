"""Credentials pasted into incident text never reach the bridge's drafts, report, evidence copies or SPM stories.

A private board (the demo tickets, seeded as the demo fixtures seed them) gets credentials put into the
summaries of incidents that the bridge drafts stories from: the P0 SSO outage (its summary becomes the
story title) and a recurring compute config-drift incident (its summary lands in the evidence table).
The bridge then runs for real against that board: preview, then execute (stories created in SPM).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.integration.demo_fixtures import seeded_board, write_test_config

# Built at run time from parts, so the source holds no scannable credential.
SECRETS = {
    "aws_access_key": "AKIA" + "Z7QW3RTY5UIO2PLK",
    "secret": "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq81Nc4KeyXY",
    "token": "xoxb-" + "2048163749-9173648201537-" + "Gq7hT2kLm9XwP4vR8sZ1yB6n",
    "password": "Tr0ub4dor&" + "3-horse",
}
SEEDED = {
    "Nobody can sign in to any AWS account - SSO outage": (
        f" (break-glass: AWS_ACCESS_KEY_ID={SECRETS['aws_access_key']} AWS_SECRET_ACCESS_KEY={SECRETS['secret']})"
    ),
}


@pytest.fixture(scope="module")
def bridge_runs(tmp_path_factory, local_aws):
    from include.itsm.adapters.jira import JiraAdapter
    from include.itsm.bridge.service import run_bridge
    from include.itsm.config import load_settings
    from include.itsm.wiring import run_context

    directory = tmp_path_factory.mktemp("bridge-credentials")
    with seeded_board(directory, local_aws.endpoint_url) as board:
        issues = board.store.all_issues()
        drift = [i for i in issues if "service:compute" in i["labels"] and "rca:config-drift" in i["labels"]]
        targets = {i["summary"]: i for i in issues if i["summary"] in SEEDED}
        assert set(targets) == set(SEEDED) and drift, "the demo history changed: pick other incidents"
        for summary, issue in targets.items():
            board.store.update_issue(issue["id"], "test", {"summary": summary + SEEDED[summary]}, [])
        board.store.update_issue(
            drift[0]["id"],
            "test",
            {
                "summary": f"{drift[0]['summary']} - Slack {SECRETS['token']}, "
                f"db postgresql://app:{SECRETS['password']}@10.20.4.17:5432/orders"
            },
            [],
        )
        settings = load_settings(write_test_config(directory))
        runs = {}
        for execute in (False, True):
            ctx = run_context(
                settings,
                f"it-bridge-credentials-{execute}-{datetime.now(UTC):%H%M%S%f}",
                execute=execute,
                actor="test",
                jira=JiraAdapter.from_credentials(board.url, board.user, board.token, execute=execute),
            )
            runs[execute] = run_bridge(ctx)
        stories = [i for i in board.store.all_issues() if i["project"] == "SPM"]
        yield runs, stories, directory / "evidence"


def test_the_seeded_incidents_are_drafted(bridge_runs):
    runs, stories, _ = bridge_runs
    ids = {p["pattern_id"] for p in runs[False]["patterns"]}
    assert "recurring:compute:config-drift" in ids and any(i.startswith("p0:") for i in ids)
    assert stories and runs[True]["created"]


def test_no_credential_in_drafts_report_evidence_or_stories(bridge_runs):
    runs, stories, evidence = bridge_runs
    texts = [p.read_text() for p in (evidence / "_bridge").rglob("*") if p.is_file()]
    texts += [json.dumps(run) for run in runs.values()]  # titles and the planned SPM requests (bodies)
    texts += [json.dumps({k: story[k] for k in ("summary", "description", "labels")}) for story in stories]
    blob = "\n".join(texts)
    assert len(texts) > 10
    for kind, value in SECRETS.items():
        assert value not in blob, kind
    titles = " ".join(p["title"] for p in runs[False]["patterns"])
    assert "{aws_access_key}" in titles and "{secret}" in titles  # the P0 title: scrubbed, typed
    assert "{token}" in blob and "{password}" in blob
