"""The PIR domain: the quality gate rule by rule, the timeline from a changelog, the renderings,
and that the machine never writes a why."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from include.itsm.core.ticket import ChangelogItem, Ticket
from include.itsm.steps.pir import domain as P

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RESOLVED = T0 + timedelta(hours=2)


def ticket(**kw) -> Ticket:
    base = dict(
        key="OPS-152",
        summary="Bad release crashed prod-core API fleet",
        issue_type="Incident",
        status="Pending PIR",
        priority="P1",
        created=T0,
        resolved=RESOLVED,
        labels=["blast:single-account", "rca:code-defect", "service:compute"],
        changelog=[
            ChangelogItem(
                created=T0 + timedelta(minutes=15), field="status", from_value="Open", to_value="In Progress"
            ),
            ChangelogItem(created=T0 + timedelta(minutes=20), field="priority", from_value="P2", to_value="P1"),
            ChangelogItem(created=RESOLVED, field="status", from_value="In Progress", to_value="Pending PIR"),
            ChangelogItem(created=RESOLVED, field="resolution", to_value="Done"),
        ],
    )
    return Ticket(**{**base, **kw})


WHYS = [
    P.Why(text="The API service crash-looped on three instances"),
    P.Why(text="Release 26.10.3 had a null-pointer on an empty config key"),
    P.Why(text="The config key was removed in the same release"),
    P.Why(text="Integration tests run with a full config file, never an empty key"),
    P.Why(text="Releases skip the canary stage that would have caught it", cause_kind="process"),
]
ITEMS = [
    P.ActionItem(action="Enforce the canary stage", owner="CloudOps Engineer", due=date(2026, 4, 1)),
    P.ActionItem(action="Test with an empty config key", owner="SRE", due=date(2026, 4, 15)),
]


def complete(**kw) -> P.Pir:
    pir = P.draft(ticket(), P.draft_timeline(ticket()))
    return pir.model_copy(
        update={
            "whys": WHYS,
            "root_cause": "Release shipped without canary",
            "rca": "code-defect",
            "action_items": ITEMS,
            **kw,
        }
    )


def test_a_complete_pir_passes():
    assert P.validate(complete()) == []


@pytest.mark.parametrize(
    "whys, expected",
    [
        (WHYS[:4], "4 given, exactly 5"),
        (WHYS + [P.Why(text="one more", cause_kind="system")], "6 given, exactly 5"),
        ([WHYS[0], P.Why(text="  "), *WHYS[2:]], "why 2 is empty"),
        ([WHYS[0], WHYS[0].model_copy(), *WHYS[2:]], "why 2 repeats why 1"),
        (
            [WHYS[0], WHYS[1], WHYS[2], P.Why(text="the api service CRASH-looped on three instances"), WHYS[4]],
            "why 4 repeats why 1: the 5 whys must be distinct",
        ),
        ([*WHYS[:4], P.Why(text="Releases skip the canary stage")], "why 5 must name a process or system cause"),
        ([*WHYS[:4], P.Why(text="{process gap}", cause_kind="process")], "why 5 holds a placeholder"),
        ([WHYS[0], P.Why(text="TBD"), *WHYS[2:]], "why 2 holds a placeholder"),
    ],
)
def test_the_five_whys(whys, expected):
    assert any(expected in p for p in P.validate(complete(whys=whys))), P.validate(complete(whys=whys))


def test_a_system_cause_is_accepted_as_well():
    assert P.validate(complete(whys=[*WHYS[:4], WHYS[4].model_copy(update={"cause_kind": "system"})])) == []


@pytest.mark.parametrize(
    "rca, expected",
    [
        ("", "rca label missing"),
        ("unknown", "placeholder"),
        ("not-applicable", "placeholder"),
        ("bug", "not in the taxonomy"),
    ],
)
def test_the_rca_label_is_concrete_and_in_the_taxonomy(rca, expected):
    assert any(expected in p for p in P.validate(complete(rca=rca)))


def test_root_cause_required_and_not_a_placeholder():
    assert "root cause is empty" in P.validate(complete(root_cause=" "))
    assert any("root cause holds a placeholder" in p for p in P.validate(complete(root_cause="TODO: write it")))


@pytest.mark.parametrize(
    "item, expected",
    [
        (P.ActionItem(action="Fix alarms", owner="", due=date(2026, 4, 1)), "has no owner"),
        (P.ActionItem(action="Fix alarms", owner="SRE"), "has no due date"),
        (P.ActionItem(action="Fix alarms", owner="SRE", due=RESOLVED.date()), "is not after the incident's resolution"),
        (
            P.ActionItem(action="Fix alarms", owner="SRE", due=date(2026, 1, 1)),
            "is not after the incident's resolution",
        ),
        (P.ActionItem(action="{action}", owner="SRE", due=date(2026, 4, 1)), "holds a placeholder"),
        (P.ActionItem(action="Fix alarms", owner="TBD", due=date(2026, 4, 1)), "owner is a placeholder"),
    ],
)
def test_every_action_item_has_an_owner_and_a_future_due_date(item, expected):
    problems = P.validate(complete(action_items=[ITEMS[0], item]))
    assert any(expected in p for p in problems), problems


def test_no_action_items_is_a_problem():
    assert any("no action items" in p for p in P.validate(complete(action_items=[])))


def test_timeline_from_the_changelog_alarms_and_linked_changes_in_utc():
    nz = timezone(timedelta(hours=13))
    alarms = [
        P.AlarmState(
            at=(T0 + timedelta(minutes=5)).astimezone(nz), alarm_name="api-5xx", old_state="OK", new_state="ALARM"
        )
    ]
    changes = [
        P.LinkedChange(key="OPS-300", summary="Roll back to 26.10.2", status="Closed", at=T0 + timedelta(minutes=90))
    ]
    rows = P.draft_timeline(ticket(), alarms, changes)
    assert [r.at for r in rows] == sorted(r.at for r in rows)
    assert all(r.at.utcoffset() == timedelta(0) for r in rows)
    events = [(r.at - T0, r.event, r.source) for r in rows]
    assert events[0] == (timedelta(0), "OPS-152 opened: Bad release crashed prod-core API fleet", "Jira")
    assert (timedelta(minutes=5), "Detection: Alarm api-5xx: OK -> ALARM", "CloudWatch alarm") in events
    assert (timedelta(minutes=15), "Escalation: Status Open -> In Progress", "Jira changelog") in events
    assert (timedelta(minutes=20), "Priority P2 -> P1", "Jira changelog") in events
    assert (
        timedelta(minutes=90),
        "Mitigation: change OPS-300 Roll back to 26.10.2 (Closed)",
        "Change record",
    ) in events
    assert (timedelta(hours=2), "Service restored: Status In Progress -> Pending PIR", "Jira changelog") in events
    assert not any("resolution" in e for _, e, _ in events)


def test_the_draft_never_generates_whys_root_cause_or_actions():
    pir = P.draft(ticket(), P.draft_timeline(ticket()), ["cross-validation run x"])
    assert pir.whys == [] and pir.root_cause == "" and pir.rca == "" and pir.action_items == []
    assert pir.severity == "P1" and pir.blast == "single-account" and pir.duration_minutes == 120
    problems = P.validate(pir)
    assert any("never generated" in p for p in problems)
    # merging no input, or an empty one, invents nothing either
    assert P.merge(pir, None).whys == [] and P.merge(pir, P.PirInput()).whys == []
    assert "(the 5 Whys are still to come from the responders)" in P.render_markdown(pir)


def test_markdown_has_the_seeds_sections():
    text = P.render_markdown(complete(action_items=[ITEMS[0].model_copy(update={"ticket_key": "OPS-400"})]))
    for section in (
        "## Post-Incident Review: OPS-152",
        "**Incident**: Bad release crashed prod-core API fleet",
        "**Duration**: 2026-03-02 09:00 UTC → 2026-03-02 11:00 UTC (120 minutes)",
        "**Severity**: P1 | Impact: blast:single-account",
        "## Timeline",
        "| Time (UTC) | Event | Source |",
        "## 5-Why Root Cause Analysis",
        "1. Why did the service fail? -> The API service crash-looped on three instances",
        "5. Why wasn't the gap closed? -> Releases skip the canary stage that would have caught it (process cause)",
        "**Root Cause**: Release shipped without canary",
        "**rca: label**: rca:code-defect",
        "## Action Items",
        "| Action | Owner | Due Date | JIRA Ticket |",
        "| Enforce the canary stage | CloudOps Engineer | 2026-04-01 | OPS-400 |",
    ):
        assert section in text, section


def test_storage_and_adf_renderings():
    pir = complete(title="A <b> & c")
    storage = P.render_storage(pir)
    assert "<h2>5-Why Root Cause Analysis</h2>" in storage and "<ol><li>" in storage
    assert "A &lt;b&gt; &amp; c" in storage and "<b>" not in storage
    doc = P.render_adf(pir)
    assert doc["type"] == "doc" and any(n["type"] == "orderedList" for n in doc["content"])
    assert "Enforce the canary stage" in json.dumps(doc)


def test_form_and_yaml_inputs():
    people = P.input_from_form(
        {
            "whys": "1. a\n2) b\n\nc\nd\nprocess: e",
            "root_cause": "rc",
            "rca": "rca:config-drift",
            "action_items": "Fix it | SRE | 2026-04-01\nDocument | Ops | not-a-date\n",
        },
        "incident-manager",
    )
    assert [w.text for w in people.whys] == ["a", "b", "c", "d", "e"] and people.whys[-1].cause_kind == "process"
    assert people.action_items[0] == P.ActionItem(action="Fix it", owner="SRE", due=date(2026, 4, 1))
    assert people.action_items[1].due is None and people.source == "form:incident-manager"
    assert P.merge(complete(), people).rca == "config-drift"
    yaml_like = P.input_from_mapping(
        {
            "whys": ["a", {"text": "b"}, "c", "d", "system: e"],
            "rca": "infra-failure",
            "action_items": [{"action": "x", "owner": "y", "due": "2026-05-01"}],
        }
    )
    assert yaml_like.whys[-1].cause_kind == "system" and yaml_like.action_items[0].due == date(2026, 5, 1)
    with pytest.raises(ValueError, match="unknown keys"):
        P.input_from_mapping({"why": []})


def test_known_error_entry():
    entry = P.known_error(complete(), "compute", 12)
    assert entry.id == "0012" and entry.rca == "code-defect" and entry.title.startswith("OPS-152: ")
