"""Step 4 cross-validate: OPS-180 from the demo org, independence, silent zeros, metamorphic, billing, ADF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.itsm.core import adf
from include.itsm.core.artifact import Provenance
from include.itsm.core.change_policy import ChangePolicy
from include.itsm.core.inventory import AccountInfo
from include.itsm.core.ticket import Ticket
from include.itsm.devstack.demo import org
from include.itsm.steps.cross_validate.domain import (
    ENV_TAG_MISSING,
    ENV_TAG_NON_STANDARD,
    INACTIVE_STATE,
    LAUNCHED_AFTER_AS_OF,
    SELF_COMPARISON,
    SILENT_ZERO,
    AlarmStateChange,
    ResourceFacts,
    SourceResult,
    TimelineSeries,
    cross_validate,
    render_adf,
    source_from_timeline,
)

NOW = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)
ORG_SPEND = 933_510.64  # Cost Explorer total for the month; EC2 compute is $17,550.00
POLICY = ChangePolicy()
TICKET = Ticket(
    key="OPS-180",
    summary="Extend the EC2 instance scheduler to more accounts",
    reporter="ops@kiwifreight.example",
    created=datetime(2026, 10, 16, 21, 5, tzinfo=UTC),
)
ACCOUNTS = [AccountInfo(account_id=a.account_id, name=a.name) for a in org.ACCOUNTS]


def world() -> list[ResourceFacts]:
    """Every demo instance with the facts the org-wide inventory reports."""
    out = []
    for a in org.ACCOUNTS:
        for i in range(a.instances):
            late = i >= a.instances - a.late_launches
            out.append(
                ResourceFacts(
                    account_id=a.account_id,
                    resource_id=f"i-{a.account_id[-3:]}{i:014x}",
                    region=a.regions[i % len(a.regions)],
                    state="running",
                    launch_time=org.SPREADSHEET_AS_OF + (timedelta(days=2) if late else -timedelta(days=200)),
                    tags={org.ENV_TAG_KEY: a.env_tag} if a.env_tag else {},
                )
            )
    return out


def ops180_sources(instances: list[ResourceFacts] | None = None, billed: float = 17_550.0) -> list[SourceResult]:
    instances = world() if instances is None else instances
    sheet_rows = [
        ResourceFacts(account_id=r.account_id, resource_id=r.resource_id)
        for r in instances
        if r.launch_time <= org.SPREADSHEET_AS_OF
    ]
    tagged = [r for r in instances if (r.tags or {}).get(org.ENV_TAG_KEY) in POLICY.env_tag.standard_values]
    return [
        SourceResult(
            name="customer spreadsheet",
            system="jira",
            api="attachment",
            as_of=org.SPREADSHEET_AS_OF,
            resources=sheet_rows,
            provenance=Provenance(
                source="jira:attachment",
                query="OPS-180/ec2-inventory.xlsx",
                as_of=org.SPREADSHEET_AS_OF,
                detail={"filename": "ec2-inventory.xlsx"},
            ),
        ),
        SourceResult(
            name="org-wide resource search",
            system="aws-config",
            api="SelectAggregateResourceConfig",
            as_of=NOW,
            resources=instances,
            provenance=Provenance(
                source="aws:config:SelectAggregateResourceConfig",
                as_of=NOW,
                query="SELECT accountId, resourceId WHERE resourceType = 'AWS::EC2::Instance'",
                detail={"aggregator": org.AGGREGATOR_NAME},
            ),
        ),
        SourceResult(
            name="env-tagged inventory",
            system="aws-ec2",
            api="DescribeInstances",
            as_of=NOW,
            resources=tagged,
            env_tag_values=POLICY.env_tag.standard_values,
            accounts_queried=[a.account_id for a in org.ACCOUNTS],
            provenance=Provenance(
                source="aws:ec2:DescribeInstances",
                as_of=NOW,
                query="tag:env in standard",
                detail={"regions": ["ap-southeast-2"]},
            ),
        ),
        SourceResult(
            name="billing",
            system="aws-cost-explorer",
            api="GetCostAndUsage",
            as_of=NOW,
            billed_usd=billed,
            total_spend_usd=ORG_SPEND,
            provenance=Provenance(
                source="aws:ce:GetCostAndUsage",
                as_of=NOW,
                query='{"TimePeriod":{"Start":"2026-10-01","End":"2026-11-01"},"Granularity":"MONTHLY",'
                '"Metrics":["UnblendedCost"],"GroupBy":[{"Type":"DIMENSION","Key":"SERVICE"}]}',
            ),
        ),
    ]


def run(sources: list[SourceResult]):
    return cross_validate(TICKET, "run-1", sources, POLICY, rca="rca:not-applicable", accounts=ACCOUNTS)


def counts(result) -> dict[str, tuple[int | None, int | None]]:
    return {s.name: (s.instances, s.accounts) for s in result.sources}


def test_ops180_counts_explanations_and_verdict() -> None:
    t = org.totals()
    result = run(ops180_sources())
    assert counts(result) == {
        "customer spreadsheet": (t["spreadsheet_instances"], t["spreadsheet_accounts"]),
        "org-wide resource search": (t["instances"], t["accounts"]),
        "env-tagged inventory": (t["env_tagged_instances"], t["env_tagged_accounts"]),
        "billing": (None, None),
    }
    assert counts(result)["customer spreadsheet"] == (110, 16)
    assert counts(result)["org-wide resource search"] == (117, 17)
    assert counts(result)["env-tagged inventory"] == (94, 13)

    late = result.group(LAUNCHED_AFTER_AS_OF, "customer spreadsheet")
    assert late.instances == 7
    by_name = {
        org.account_by_name(n).account_id: k
        for n, k in {"prod-core": 1, "dev-core": 1, "sandbox": 1, "datalake-dev": 3, "legacy-apps": 1}.items()
    }
    assert late.accounts == dict(sorted(by_name.items()))
    non_standard = result.group(ENV_TAG_NON_STANDARD, "env-tagged inventory")
    missing = result.group(ENV_TAG_MISSING, "env-tagged inventory")
    assert (non_standard.instances, len(non_standard.accounts)) == (13, 2)
    assert (missing.instances, len(missing.accounts)) == (10, 2)
    assert set(non_standard.accounts) == {
        org.account_by_name("legacy-apps").account_id,
        org.account_by_name("integration-test").account_id,
    }
    assert non_standard.instances + missing.instances == 23
    assert len(non_standard.accounts) + len(missing.accounts) == 4

    assert result.unexplained == [] and result.unexplained_share == 0
    assert result.billing.passed and f"{result.billing.billed_share:.2%}" == "1.88%"
    assert result.billing.expected_share == pytest.approx(117 * 150 / ORG_SPEND)
    assert result.verdict == "pass" and result.refusals == []
    assert result.compliance_area.startswith("Control testing")


def test_ops180_reproduce_prompt_and_5w1h() -> None:
    result = run(ops180_sources())
    text = "\n".join(result.reproduce)
    assert f"--configuration-aggregator-name {org.AGGREGATOR_NAME}" in text
    assert "resourceType = 'AWS::EC2::Instance'" in text
    describe = [c for c in result.reproduce if c.startswith("aws ec2 describe-instances")]
    assert len(describe) == 17  # one per queried account
    assert "--filters Name=tag:env,Values=prod,staging,dev,dr,preprod,sit" in describe[0]
    assert "aws ce get-cost-and-usage --cli-input-json" in text and "ec2-inventory.xlsx" in text
    w = result.five_w_one_h
    assert "117 resources in 17 accounts" in w.what
    assert "2026-10-16T21:05:00+00:00" in w.when and "rca:not-applicable" in w.why
    assert "7 launched after" in w.why and "13 env tag value non-standard" in w.why


def test_adf_panel_holds_5w1h_and_tables_sit_beside_it() -> None:
    document = render_adf(run(ops180_sources()))
    kinds = [n["type"] for n in document["content"]]
    assert kinds[:2] == ["heading", "panel"] and kinds.count("table") == 2 and "codeBlock" in kinds
    panel_text = adf.to_plain_text(document["content"][1])
    assert [line.split(":")[0] for line in panel_text.splitlines()] == ["What", "Who", "When", "Where", "Why", "How"]
    assert "sandbox (318274650123): 1" in adf.to_plain_text(document)


def test_self_comparison_refused() -> None:
    sources = ops180_sources()
    copy = sources[1].model_copy(update={"name": "config export (same API)"})
    result = run([sources[0], sources[1], copy, sources[3]])
    assert result.verdict == "refused"
    assert [r.code for r in result.refusals] == [SELF_COMPARISON]
    assert (
        "org-wide resource search" in result.refusals[0].reason
        and "SelectAggregateResourceConfig" in result.refusals[0].reason
    )


def test_missing_source_and_silent_zero_refused() -> None:
    sources = ops180_sources()
    assert run(sources[:3]).refusals[0].code == "INCOMPLETE_EVIDENCE"
    zero = sources[2].model_copy(update={"resources": [], "accounts_queried": []})
    result = run([sources[0], sources[1], zero, sources[3]])
    assert result.verdict == "refused" and [r.code for r in result.refusals] == [SILENT_ZERO]


def test_metamorphic_three_new_instances_follow() -> None:
    sandbox = org.account_by_name("sandbox")
    new = [
        ResourceFacts(
            account_id=sandbox.account_id,
            resource_id=f"i-new{i:014x}",
            region="ap-southeast-2",
            state="running",
            launch_time=NOW - timedelta(hours=1),
            tags={"env": "dev"},
        )
        for i in range(3)
    ]
    result = run(ops180_sources(world() + new, billed=120 * 150.0))
    assert counts(result)["org-wide resource search"] == (120, 17)
    assert counts(result)["env-tagged inventory"] == (97, 13)
    assert counts(result)["customer spreadsheet"] == (110, 16)
    late = result.group(LAUNCHED_AFTER_AS_OF, "customer spreadsheet")
    assert late.instances == 10 and late.accounts[sandbox.account_id] == 4
    assert result.verdict == "pass"


def test_metamorphic_removed_spreadsheet_row_is_unexplained() -> None:
    sources = ops180_sources()
    removed = sources[0].resources[0]
    sources[0] = sources[0].model_copy(update={"resources": sources[0].resources[1:]})
    result = run(sources)
    assert counts(result)["customer spreadsheet"] == (109, 16)
    assert [(d.resource_id, d.missing_from) for d in result.unexplained] == [
        (removed.resource_id, "customer spreadsheet")
    ]
    assert sorted(result.unexplained[0].present_in) == ["env-tagged inventory", "org-wide resource search"]
    assert result.unexplained_share == pytest.approx(1 / 117)
    assert result.verdict == "fail"  # 0.85 % > 0.5 %


def test_stopped_instances_explained_and_billing_inconsistency_fails() -> None:
    instances = world()
    for r in instances[:2]:
        r.state = "stopped"
    sources = ops180_sources(instances)
    sources[2] = sources[2].model_copy(
        update={"states": ("running",), "resources": [r for r in sources[2].resources if r.state == "running"]}
    )
    result = run(sources)
    assert result.group(INACTIVE_STATE, "env-tagged inventory").instances == 2
    assert result.billing.instances == 115 and result.billing.passed  # 1.7 % off: within the 10 % tolerance
    assert result.verdict == "pass"
    inconsistent = run(ops180_sources(billed=30_000.0))  # billed 3.21 % vs 1.88 % expected
    assert not inconsistent.billing.passed and inconsistent.verdict == "fail"
    assert "117 instances x $150.00" in inconsistent.billing.formula


def test_incident_sources_with_timeline() -> None:
    at = datetime(2026, 11, 3, 1, 20, tzinfo=UTC)
    prod = org.account_by_name("prod-core").account_id
    facts = [ResourceFacts(account_id=prod, resource_id="i-0web")]
    prov = Provenance(source="test", as_of=at)
    timeline = [
        TimelineSeries(
            account_id=prod,
            resource_id="i-0web",
            namespace="AWS/EC2",
            metric_name="CPUUtilization",
            alarm_changes=[AlarmStateChange(at=at, alarm_name="cpu", old_state="OK", new_state="ALARM")],
        )
    ]
    sources = [
        SourceResult(name="ticket", system="jira", api="issue", as_of=at, resources=facts, provenance=prov),
        SourceResult(
            name="inventory",
            system="aws-config",
            api="SelectAggregateResourceConfig",
            as_of=at,
            resources=facts,
            provenance=prov,
        ),
        SourceResult(
            name="alarms",
            system="aws-cloudwatch",
            api="DescribeAlarmHistory",
            as_of=at,
            resources=facts,
            provenance=prov,
        ),
        source_from_timeline("visual timeline", timeline, at, prov),
    ]
    result = cross_validate(TICKET, "run-2", sources, POLICY, rca="rca:infra-failure", timeline=timeline)
    assert result.verdict == "pass" and result.billing is None
    assert "first alarm 2026-11-03T01:20:00+00:00" in result.five_w_one_h.when
