"""Two customers end to end on the production topology (tests/e2e/topology.py): separate processes
with nothing shared on disk but a read-only DAG folder, FAB auth, state on S3, each customer on its own
Jira site and its own AWS organisation reached through role assumption. Each step here is a step of
docs/deploy.md's "Production topology, step by step", in the same order.

Proves that no ticket, label, artifact, story or report of one customer appears in the other's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from include.itsm.adapters.evidence import run_segment
from include.itsm.devstack.demo.tickets import demo_tickets
from include.itsm.lifecycle.manifest import Manifest
from include.itsm.lifecycle.plan import lifecycle_dag_id
from tests.e2e.lifecycle_helpers import (
    APPROVER_OF,
    ROLLBACK_EVIDENCE,
    approve,
    itsm,
    start_from_laptop,
    wait_for_hitl,
)
from tests.e2e.topology import BUCKETS, KIWI, PROJECT, READ_ROLE, TASMAN, WORKERS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]
WORKED_EXAMPLE = 180  # OPS-180 and its copy TPL-180 on the second customer's site: a normal change
OTHER = {KIWI: TASMAN, TASMAN: KIWI}


def _key(customer: str) -> str:
    return f"{PROJECT[customer]}-{WORKED_EXAMPLE}"


def _trigger_each(topology, base: str, conf: dict, user: str = "engineer") -> dict[str, tuple[str, str]]:
    """Trigger `base__<customer>` for both customers at once; (dag id, run id) per customer."""
    client, now = topology.airflow.client(user), datetime.now(UTC)
    runs = {}
    for customer in (KIWI, TASMAN):
        dag_id, run_id = f"{base}__{customer}", f"topology__{customer}__{now:%Y%m%dT%H%M%S%f}"
        client.wait_for_dag(dag_id)
        client.trigger_at(dag_id, run_id, now, conf=conf)
        runs[customer] = (dag_id, run_id)
    return runs


def _issues(tenant) -> list[dict]:
    return tenant.board.store.all_issues()


def _mentions(tenant, text: str) -> list[str]:
    """Keys of the tenant's board issues whose key, summary, labels or description mention `text`."""
    return [
        i["key"]
        for i in _issues(tenant)
        if text in i["key"]
        or text in i["summary"]
        or any(text in label for label in i["labels"])
        or text in json.dumps(i.get("description") or "")
    ]


@pytest.fixture(scope="module")
def swept(production_topology):
    """Step 6: each customer's nightly sweep, triggered over the REST API by an operator."""
    for tenant in production_topology.tenants.values():
        tenant.aws.clear_calls()
    runs = _trigger_each(production_topology, "itsm_nightly_sweep", {})
    client = production_topology.airflow.client()
    states = {c: client.wait_for_run(dag_id, run_id, timeout_s=420) for c, (dag_id, run_id) in runs.items()}
    return runs, states


def test_each_customers_sweep_runs_on_both_workers_under_that_customers_role(production_topology, swept):
    runs, states = swept
    assert states == {KIWI: "success", TASMAN: "success"}
    client = production_topology.airflow.client()
    hosts = {ti["hostname"] for dag_id, run_id in runs.values() for ti in client.task_instances(dag_id, run_id)}
    assert set(WORKERS) <= hosts  # the mapped batches spread over both workers
    for customer, tenant in production_topology.tenants.items():
        calls = tenant.aws.calls()
        roles = {c["role_arn"] for c in calls if c["role_arn"] and ":role/ITSM" in c["role_arn"]}
        assert READ_ROLE[customer] in roles, roles  # the connection's role_arn, really assumed
        assert READ_ROLE[OTHER[customer]] not in roles  # never the other customer's role
        unsigned = [c for c in calls if c["role_arn"] is None and c["operation"] != "AssumeRole"]
        assert unsigned == []  # nothing ran under the host's own keys


def test_each_sweep_summary_counts_every_open_ticket_of_its_customer(production_topology, swept):
    runs, _ = swept
    s3 = production_topology.platform_aws.client("s3")
    for customer, (_, run_id) in runs.items():
        key = f"evidence/{customer}/_sweep/{run_segment(run_id)}/summary.json"
        summary = json.loads(s3.get_object(Bucket=BUCKETS["evidence"], Key=key)["Body"].read())
        assert summary["failed"] == 0 and summary["succeeded"] >= len(demo_tickets()), summary


def test_the_approvers_are_fab_users_assigned_by_id(production_topology):
    """Under FAB, Airflow compares a respondent's numeric user id with a gate's assigned ids: the ids
    `itsm approvers sync` stored (step 7) must be those users' ids."""
    airflow = production_topology.airflow
    ids = json.loads(airflow.client().get("/variables/itsm_approver_ids")["value"])
    listed = subprocess.run(  # FAB's REST API does not expose ids; its CLI lists them
        [sys.executable, "-m", "airflow", "users", "list", "--output", "json"],
        env=airflow.env("init"),
        cwd=airflow.component_dir("init"),
        check=True,
        capture_output=True,
        text=True,
    )
    users = {u["username"]: u for u in json.loads(listed.stdout.strip().splitlines()[-1])}
    assert set(ids) >= {"cab-1", "cab-2", "product-owner", "dual-delegate"}
    assert all(ids[name] == str(users[name]["id"]) and ids[name].isdigit() for name in ids), (ids, users)


def test_each_customers_tickets_stay_in_its_manifest_entries_and_evidence(production_topology, swept):
    topology = production_topology
    manifest = Manifest.model_validate_json(
        topology.platform_aws.client("s3").get_object(Bucket=BUCKETS["state"], Key="manifest.json")["Body"].read()
    )
    by_customer = {c: {k for k, e in manifest.tickets.items() if e.customer == c} for c in (KIWI, TASMAN)}
    for customer, keys in by_customer.items():
        assert _key(customer) in keys
        assert all(k.startswith(PROJECT[customer] + "-") for k in keys), keys
        evidence = topology.s3_keys("evidence", f"evidence/{customer}/")
        assert evidence and not [k for k in evidence if f"{PROJECT[OTHER[customer]]}-" in k]
    assert not topology.s3_keys("evidence", f"evidence/{_key(KIWI)}")  # nothing outside a customer's prefix


def _through_every_gate(topology, customer: str, laptop) -> tuple[str, str]:
    """Step 7: `itsm lifecycle KEY --execute` from a laptop, then every gate answered by its approver."""
    key = _key(customer)
    triggered = start_from_laptop(topology.airflow, key, customer, laptop, "production topology")
    for gate in triggered["gates"]:
        evidence = ROLLBACK_EVIDENCE if gate == "go_no_go_engineering" else ""
        approve(topology.airflow, key, triggered["run_id"], gate, APPROVER_OF[gate], evidence=evidence)
    state = topology.airflow.client().wait_for_run(lifecycle_dag_id(key), triggered["run_id"], timeout_s=420)
    return triggered["run_id"], state


@pytest.fixture(scope="module")
def lifecycles(production_topology, swept, topology_laptop):
    with ThreadPoolExecutor(2) as pool:
        futures = {c: pool.submit(_through_every_gate, production_topology, c, topology_laptop) for c in (KIWI, TASMAN)}
        return {c: f.result() for c, f in futures.items()}


def test_one_ticket_per_customer_through_every_gate_on_its_own_site(production_topology, lifecycles):
    runs = lifecycles
    assert {c: state for c, (_, state) in runs.items()} == {KIWI: "success", TASMAN: "success"}
    for customer, tenant in production_topology.tenants.items():
        worked = tenant.board.store.get_issue(_key(customer))
        assert {"env:prod", "tier:important"} <= set(worked["labels"])
        created = [i for i in _issues(tenant) if i["key"] != _key(customer) and _key(customer) in json.dumps(i)]
        assert created  # its change record and CAB sub-tasks, on its own site
        assert {i["project"] for i in created} <= {PROJECT[customer], "SPM"}
        other = production_topology.tenants[OTHER[customer]]
        assert _mentions(other, _key(customer)) == []


def test_a_customers_ticket_is_not_reachable_through_the_other_customers_dags(
    production_topology, lifecycles, topology_laptop
):
    refused = itsm(
        production_topology.airflow,
        "engineer",
        "lifecycle",
        _key(TASMAN),
        "--execute",
        "--customer",
        KIWI,
        "--json",
        config=topology_laptop,
    )
    assert refused.returncode == 2 and _key(TASMAN) in refused.stderr, refused.stderr


@pytest.fixture(scope="module")
def bridged(production_topology, lifecycles):
    """Step 8: each customer's pattern bridge, its stories approved by the product owner."""
    runs = _trigger_each(production_topology, "itsm_pattern_bridge", {"execute": True})
    owner, client = production_topology.airflow.client("product-owner"), production_topology.airflow.client()
    for dag_id, run_id in runs.values():
        wait_for_hitl(production_topology.airflow, dag_id, run_id, "stories")
        owner.respond(dag_id, run_id, "stories", approve=True)
    return {c: client.wait_for_run(dag_id, run_id, timeout_s=420) for c, (dag_id, run_id) in runs.items()}


def test_each_customers_bridge_writes_its_own_stories_and_report(production_topology, bridged):
    assert bridged == {KIWI: "success", TASMAN: "success"}
    client = production_topology.airflow.client()
    for customer, tenant in production_topology.tenants.items():
        stories = [i for i in _issues(tenant) if i["project"] == "SPM" and "itsm-bridge" in i["labels"]]
        assert stories
        other_prefix = f"{PROJECT[OTHER[customer]]}-"
        assert not [s for s in stories if other_prefix in json.dumps(s)]
        dates = client.session.get(f"{client.url}/itsm-bridge/customers/{customer}/reports", timeout=30).json()["dates"]
        assert dates
        page = client.session.get(f"{client.url}/itsm-bridge/customers/{customer}/{dates[0]}/report.html", timeout=30)
        assert page.status_code == 200 and f"{PROJECT[customer]}-" in page.text and other_prefix not in page.text
        assert requests.get(page.url, timeout=30).status_code == 401  # the page needs an Airflow login
