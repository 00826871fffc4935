"""The PIR step on the demo devstack: a copy of the history's P1 incident in Pending PIR (OPS-152).

Preview sends nothing and shows the Confluence POST and the transition; execute publishes the page
once (a re-run updates it), creates each action item once, and resolves the ticket only after the
incident manager's approval. A P3 incident or a ticket not in Pending PIR is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.itsm.adapters.jira import idempotency_label
from include.itsm.context import RunContext
from include.itsm.steps import GateDecision
from include.itsm.steps.pir import domain as P
from include.itsm.steps.pir import service as step
from include.itsm.wiring import run_context
from tests.conftest import evidence_store

SOURCE = "OPS-152"  # P1, Pending PIR in the demo history
DUE = (datetime.now(UTC) + timedelta(days=30)).date()
INPUT = {
    "whys": [
        "The API service crash-looped on three prod-core instances",
        "Release 26.10.3 dereferenced a config key that was empty",
        "The key was removed from the config in the same release",
        "Integration tests always run with a complete config file",
        "process: releases skip the canary stage that would have caught it",
    ],
    "root_cause": "Release 26.10.3 shipped without a canary stage",
    "rca": "code-defect",
    "action_items": [
        f"Enforce the canary stage in the pipeline | CloudOps Engineer | {DUE.isoformat()}",
        {"action": "Test releases with an empty config key", "owner": "SRE", "due": DUE.isoformat()},
    ],
}


def decision(approved: bool = True, **inputs) -> GateDecision:
    return GateDecision(
        gate="pir",
        approved=approved,
        user_id="incident-manager",
        user_name="incident-manager",
        at=datetime.now(UTC),
        outcome="approved" if approved else "rejected",
        inputs=inputs,
    )


class World:
    def __init__(self, root: str) -> None:
        from include.itsm.config import settings

        self.settings, self.store, self.runs = settings(), evidence_store(root), 0

    def ctx(self, execute: bool = False) -> RunContext:
        self.runs += 1
        return run_context(
            self.settings,
            f"pir{self.runs:03d}",
            execute=execute,
            actor="user:sre-engineer",
            evidence=self.store,
        )


@pytest.fixture(scope="module")
def world(demo_env, demo_board, tmp_path_factory):
    w = World(f"file://{tmp_path_factory.mktemp('pir-evidence')}")
    source = w.ctx().jira.get_ticket(SOURCE)
    changelog = tuple((c.created, c.author, c.field, c.from_value, c.to_value) for c in source.changelog)
    w.copy = demo_board.store.seed_issue(
        project="OPS",
        issue_type="Incident",
        summary=source.summary,
        description_adf=source.description_adf,
        status="Pending PIR",
        labels=source.labels,
        priority="P1",
        created=source.created,
        resolved=source.resolved,
        changelog=changelog,
    )
    w.title = f"PIR {w.copy}: {source.summary}"
    yield w
    jira = w.ctx(execute=True).jira  # close what the tests created, so later sweeps do not see it
    for ticket in jira.search('project = OPS AND labels = "pir-action" AND statusCategory != Done'):
        jira.transition(ticket.key, "Closed")


def status(board, key: str) -> str:
    return board.http.get(f"{board.url}/rest/api/3/issue/{key}", timeout=10).json()["fields"]["status"]["name"]


def pages(board, title: str) -> list[dict]:
    return board.http.get(
        f"{board.url}/wiki/api/v2/pages", params={"title": title, "body-format": "storage"}, timeout=10
    ).json()["results"]


def test_a_p3_incident_or_a_ticket_not_pending_pir_is_refused(world):
    ctx = world.ctx()
    with pytest.raises(ValueError, match="priority is P3"):
        step.run(ctx, "OPS-132")  # P3, Resolved
    with pytest.raises(ValueError, match="status is 'Resolved', not 'Pending PIR'"):
        step.run(ctx, "OPS-136")  # P1 whose PIR is done
    with pytest.raises(ValueError, match="not an Incident"):
        step.run(ctx, "OPS-180")  # the change request


def test_preview_without_input_lists_what_is_missing_and_sends_nothing(world, demo_board):
    ctx = world.ctx()
    summary = step.run(ctx, world.copy)
    assert summary["severity"] == "P1" and summary["duration_minutes"] == 120
    assert any("0 given, exactly 5" in m for m in summary["missing"])
    body = step.brief(ctx, world.copy, "pir").body
    assert "Still missing" in body and "## Timeline" in body and "Service restored" in body
    with pytest.raises(ValueError, match="quality gate"):
        step.apply(ctx, world.copy, "pir", {"pir": decision()})
    assert status(demo_board, world.copy) == "Pending PIR"


def test_invalid_people_input_is_refused_naming_each_problem(world):
    ctx = world.ctx()
    bad = dict(INPUT, whys=INPUT["whys"][:4], rca="unknown", action_items=["Fix it | | 2020-01-01"])
    ctx.step_inputs["pir_input"] = P.input_from_mapping(bad, "yaml:bad.yaml")
    with pytest.raises(ValueError) as refused:
        step.run(ctx, world.copy)
    for problem in ("4 given, exactly 5", "rca:unknown is a placeholder", "has no owner", "is not after"):
        assert problem in str(refused.value)


def test_preview_shows_the_confluence_post_and_the_transition(world, demo_board):
    from include.itsm.commands.pir import preview

    ctx = world.ctx()
    result = preview(ctx, world.copy, P.input_from_mapping(INPUT, "yaml:pir.yaml"))
    assert result["refused"] is None, result["refused"]
    planned = [(p["method"], p["path"]) for p in result["applied"]["planned"]]
    assert ("POST", "/wiki/api/v2/pages") in planned
    assert ("POST", f"/rest/api/3/issue/{world.copy}/transitions") in planned
    assert planned.count(("POST", "/rest/api/3/issue")) == 2  # one per action item
    assert planned[-1] == ("POST", f"/rest/api/3/issue/{world.copy}/transitions")  # resolved last
    assert status(demo_board, world.copy) == "Pending PIR"
    assert pages(demo_board, world.title) == []


def test_execute_publishes_once_creates_actions_once_and_resolves_only_after_approval(world, demo_board):
    ctx = world.ctx(execute=True)
    step.write_input(ctx, world.copy, P.input_from_mapping(INPUT, "yaml:pir.yaml"))
    run = step.run(ctx, world.copy)
    assert run["missing"] == [] and run["input"] == "yaml:pir.yaml"

    with pytest.raises(PermissionError, match="not approved"):
        step.apply(ctx, world.copy, "pir", {"pir": decision(approved=False)})
    assert status(demo_board, world.copy) == "Pending PIR"

    result = step.apply(ctx, world.copy, "pir", {"pir": decision()})
    assert status(demo_board, world.copy) == "Resolved" and result["transitioned"]
    title = world.title
    found = pages(demo_board, title)
    assert len(found) == 1 and result["page"]["action"] == "created"
    page = found[0]["body"]["storage"]["value"]
    assert "5-Why Root Cause Analysis" in page and "Release 26.10.3 shipped without a canary stage" in page
    keys = [a["ticket_key"] for a in result["action_items"]]
    assert all(keys) and len(set(keys)) == 2 and all(k in page for k in keys)
    register = world.store.latest("_org", "known-errors", step.KnownErrorRegister).entries
    assert [e.title.split(":")[0] for e in register] == [world.copy]
    assert register[0].id not in {e.id for e in world.settings.policy.known_errors}

    # a re-run (the approver corrected the root cause in the entry form) updates the page in place
    again = world.ctx(execute=True)
    form = {
        "whys": "\n".join(INPUT["whys"]),
        "root_cause": "Release 26.10.3 skipped the canary stage",
        "rca": "code-defect",
        "action_items": "\n".join(
            [
                f"Enforce the canary stage in the pipeline | CloudOps Engineer | {DUE}",
                f"Test releases with an empty config key | SRE | {DUE}",
            ]
        ),
    }
    second = step.apply(again, world.copy, "pir", {"pir": decision(**form)})
    assert second["page"]["action"] == "updated" and not second["transitioned"]
    found = pages(demo_board, title)
    assert len(found) == 1 and found[0]["version"]["number"] == 2
    assert "skipped the canary stage" in found[0]["body"]["storage"]["value"]
    assert [a["ticket_key"] for a in second["action_items"]] == keys
    for item in P.input_from_mapping(INPUT).action_items:
        label = idempotency_label(item.idempotency_key(world.copy))
        assert len(list(again.jira.search(f'project = OPS AND labels = "{label}"'))) == 1
    assert world.store.latest("_org", "known-errors", step.KnownErrorRegister).entries[0].id == register[0].id
