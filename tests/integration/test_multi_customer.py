"""Two customers side by side on one platform (the demo devstack): customer A is the demo's Kiwi Freight;
customer B (Tasman Ports) has its own AWS connection id (same local endpoint), its own Config aggregator
over a subset of the accounts, its own scrub registers, and its tickets on the board carry the label
`customer:tasman-ports`. Nothing crosses: evidence lives under `<root>/<customer id>/`, each sweep sees
only its customer's tickets, each bridge only its customer's incidents, with its own registers and its
own story idempotency keys.
"""

from __future__ import annotations

import json
import os

import boto3
import pytest
import yaml

from include.itsm.core import adf
from tests.integration.demo_fixtures import write_test_config

B = "tasman-ports"


@pytest.fixture(scope="module")
def tenants(demo_env, demo_board, local_aws, tmp_path_factory):
    from include.itsm.config import load_settings
    from include.itsm.devstack.demo import org
    from include.itsm.wiring import run_context

    directory = tmp_path_factory.mktemp("tenants")
    subset = [org.account_by_name(n).account_id for n in ("prod-core", "staging-core")]
    config_client = boto3.client(
        "config",
        endpoint_url=local_aws.endpoint_url,
        region_name=local_aws.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    config_client.put_configuration_aggregator(
        ConfigurationAggregatorName="tasman-aggregator",
        AccountAggregationSources=[{"AccountIds": subset, "AllAwsRegions": True}],
    )
    path = write_test_config(directory, evidence_per_customer=True)
    config = yaml.safe_load(path.read_text())
    a = config["customers"][0]
    config["customers"].append(
        {
            **a,
            "id": B,
            "name": "Tasman Ports Ltd",
            "aws_conn_id": "aws_customer_b",
            "aws_operations_conn_id": "aws_customer_b_operations",
            "aggregator_name": "tasman-aggregator",
            "regions": ["ap-southeast-2"],
            "scrub": {"customers": [{"name": "Tasman Ports Ltd", "persona": "port-operator"}]},
        }
    )
    path.write_text(yaml.safe_dump(config))
    os.environ["AIRFLOW_CONN_AWS_CUSTOMER_B"] = os.environ["AIRFLOW_CONN_AWS_DEFAULT"]
    settings = load_settings(path)
    text = (
        "Tasman Ports Ltd: EC2 instance prod-core-03 in account {acct} keeps failing status checks "
        "after the config drift on the launch template, production down for the port crane app."
    )
    keys = [
        demo_board.store.seed_issue(
            project="OPS",
            issue_type="Incident",
            summary=f"Tasman prod EC2 outage {n}",
            description_adf=adf.doc([adf.paragraph(text.format(acct=subset[0]))]),
            labels=[f"customer:{B}", "service:compute", "rca:config-drift"],
            priority="P2",
            reporter="ops@tasman.example",
        )
        for n in range(3)
    ]

    def ctx(customer, run, execute=False):
        return run_context(settings, run, customer, execute=execute)

    yield settings, keys, subset, ctx
    closer = ctx(None, "close", execute=True)
    for key in keys:
        try:
            closer.jira.transition(key, "Closed")
        except Exception:  # noqa: BLE001 - best effort
            pass
    os.environ.pop("AIRFLOW_CONN_AWS_CUSTOMER_B", None)


def test_each_customer_sees_only_its_tickets_and_its_aggregator(tenants):
    from include.itsm.steps.discover.service import take_org_snapshot
    from include.itsm.sweep import fetch_open_tickets, open_keys

    settings, keys, subset, ctx = tenants
    a_keys = open_keys(fetch_open_tickets(ctx("kiwi-freight", "mc-a")))
    b_keys = open_keys(fetch_open_tickets(ctx(B, "mc-b")))
    assert sorted(b_keys) == sorted(keys) and not set(keys) & set(a_keys) and "OPS-180" in a_keys
    b = ctx(B, "mc-b")
    assert b.customer.aws_conn_id == "aws_customer_b"
    snapshot = take_org_snapshot(b)
    instances = [r for r in snapshot.resources if r.resource_type == "AWS::EC2::Instance"]
    assert instances and {r.account_id for r in instances} <= set(subset)


def test_evidence_and_stories_do_not_cross(tenants):
    from include.itsm.bridge.service import detect_and_draft
    from include.itsm.core.ticket import idempotency_label
    from include.itsm.steps.assess import assess_ticket
    from include.itsm.steps.discover.service import take_org_snapshot

    settings, keys, subset, ctx = tenants
    root = settings.runtime.evidence_root.removeprefix("file://")
    b = ctx(B, "mc-b2")
    assert b.evidence.root.path.rstrip("/").endswith(f"/{B}")
    snapshot = take_org_snapshot(b)
    b.evidence.write("_org", b.run_id, "discover", snapshot)
    assess_ticket(b, b.jira.get_ticket(keys[0]), snapshot)
    assert os.path.exists(f"{root}/{B}/{keys[0]}/mc-b2/classify.json")
    assert not os.path.exists(f"{root}/kiwi-freight/{keys[0]}") and not os.path.exists(f"{root}/{keys[0]}")

    b_run = detect_and_draft(ctx(B, "mc-bridge-b"))
    a_run = detect_and_draft(ctx("kiwi-freight", "mc-bridge-a"))
    b_incidents = {row.key for row in b_run.incidents}
    assert b_incidents == set(keys)
    assert not b_incidents & {row.key for row in a_run.incidents}
    b_draft = next(d for d in b_run.drafts if set(d.incident_keys) == set(keys))
    assert "Tasman Ports" not in b_draft.to_markdown() and subset[0] not in b_draft.to_markdown()
    assert b_draft.idempotency_key.startswith(f"{B}:")
    a_labels = {idempotency_label(d.idempotency_key) for d in a_run.drafts}
    assert idempotency_label(b_draft.idempotency_key) not in a_labels  # same pattern, separate stories
    assert os.path.exists(f"{root}/{B}/_bridge/mc-bridge-b/drafts.json")
    assert not os.path.exists(f"{root}/kiwi-freight/_bridge/mc-bridge-b")
    drafts_a = json.loads(open(f"{root}/kiwi-freight/_bridge/mc-bridge-a/drafts.json").read())
    assert not set(keys) & {i["key"] for i in drafts_a["incidents"]}


def test_unknown_customer_label_maps_to_no_one(tenants):
    from include.itsm.tenancy import customer_id_of

    settings, *_ = tenants
    assert customer_id_of(settings, ["customer:nobody"]) is None
    assert customer_id_of(settings, ["service:compute"]) == "kiwi-freight"
    assert customer_id_of(settings, [f"customer:{B}"]) == B


def test_a_customers_cli_trigger_names_its_own_bridge_dag(tenants):
    from include.itsm.tenancy import dag_id_for

    settings, *_ = tenants
    assert dag_id_for(settings, "itsm_pattern_bridge", B) == f"itsm_pattern_bridge__{B}"
    assert dag_id_for(settings, "itsm_pattern_bridge", None) == "itsm_pattern_bridge__kiwi-freight"
