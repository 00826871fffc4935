"""Put the demo tickets on a board: `seed_board(store, instance_ids)`.

`instance_ids` maps each instance's Name tag (`<account-name>-<nn>`, see spreadsheet.py) to
the id the local AWS gave it; `instance_ids_from_local_aws(endpoint_url)` asks the running
local AWS for it (assume `OrganizationAccountAccessRole` into every member account of org.py,
DescribeInstances in the account's regions). The ids go into the tickets' texts and into
OPS-180's spreadsheet, so what the demo tickets name is what discovery finds.

Idempotent: a ticket whose key is already on the board is left as it is, and its links are
not added again; a board holding every demo ticket is not touched at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from include.itsm.devstack.demo import org
from include.itsm.devstack.demo.history import history_incidents
from include.itsm.devstack.demo.spreadsheet import build_customer_spreadsheet, spreadsheet_rows
from include.itsm.devstack.demo.tickets import DemoTicket, demo_tickets

ACCESS_KEY = SECRET_KEY = "testing"
HOME_REGION = "ap-southeast-2"


def all_demo_tickets(
    instance_ids: Mapping[str, str] | None = None,
    *,
    now: datetime | None = None,
    regions: Mapping[str, str] | None = None,
) -> tuple[DemoTicket, ...]:
    """History then open tickets, in creation order (the order they are seeded in)."""
    spreadsheet = None
    if instance_ids is not None:
        names = [r.instance_name for r in spreadsheet_rows()]
        spreadsheet = build_customer_spreadsheet(
            {n: instance_ids[n] for n in names if n in instance_ids}, regions=regions
        )
    tickets = history_incidents(now, instance_ids) + demo_tickets(instance_ids, now, spreadsheet)
    return tuple(sorted(tickets, key=lambda t: t.created))


def seed_board(
    store,
    instance_ids: Mapping[str, str] | None = None,
    *,
    now: datetime | None = None,
    regions: Mapping[str, str] | None = None,
    project: str = "OPS",
) -> list[str]:
    """Seed every demo ticket and link through `store.seed_issue` / `store.link_issues`; `project`
    re-keys the operations tickets (OPS-180 becomes <project>-180) for a second customer's own site.

    Returns the keys seeded by this call (empty when the board already had them all).
    """
    if instance_ids is None:
        raise ValueError(
            "seed_board needs the local AWS's instance ids (Name -> InstanceId): "
            "pass instance_ids_from_local_aws(endpoint_url)"
        )
    missing = [r.instance_name for r in spreadsheet_rows() if r.instance_name not in instance_ids]
    if missing:
        raise KeyError(f"instance_ids lacks {len(missing)} instance(s), e.g. {missing[:3]}: is the local AWS seeded?")
    tickets = all_demo_tickets(instance_ids, now=now, regions=regions)

    def rekeyed(key: str) -> str:
        return project + key.removeprefix("OPS") if key.startswith("OPS-") else key

    if all(store.get_issue(rekeyed(t.key)) is not None for t in tickets):
        return []
    seeded: list[str] = []
    for ticket in tickets:
        key = rekeyed(ticket.key)
        if store.get_issue(key) is not None:
            continue
        kwargs = ticket.seed_kwargs()
        store.seed_issue(
            **kwargs | {"key": key, "project": project if kwargs["project"] == "OPS" else kwargs["project"]}
        )
        seeded.append(key)
    new = set(seeded)
    for ticket in tickets:
        if rekeyed(ticket.key) in new:
            for link in ticket.links:
                store.link_issues(link.link_type, rekeyed(link.outward_key), rekeyed(link.inward_key))
    return seeded


def local_instances(
    endpoint_url: str,
    *,
    accounts: Iterable[org.DemoAccount] = org.ACCOUNTS,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    management_region: str = HOME_REGION,
) -> dict[str, tuple[str, str]]:
    """Name tag -> (InstanceId, region) of every non-terminated instance of the member accounts."""
    import boto3

    session = boto3.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=management_region
    )
    sts = session.client("sts", endpoint_url=endpoint_url)
    found: dict[str, tuple[str, str]] = {}
    for account in accounts:
        role = f"arn:aws:iam::{account.account_id}:role/{org.MEMBER_ROLE_NAME}"
        creds = sts.assume_role(RoleArn=role, RoleSessionName="itsm-demo-seed")["Credentials"]
        for region in account.regions:
            ec2 = session.client(
                "ec2",
                region_name=region,
                endpoint_url=endpoint_url,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            for page in ec2.get_paginator("describe_instances").paginate():
                for reservation in page["Reservations"]:
                    for instance in reservation["Instances"]:
                        if instance.get("State", {}).get("Name") == "terminated":
                            continue
                        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                        if "Name" in tags:
                            found[tags["Name"]] = (instance["InstanceId"], region)
    return found


def instance_ids_from_local_aws(endpoint_url: str, **kwargs) -> dict[str, str]:
    """Name tag -> InstanceId over the local AWS (what `seed_board` needs)."""
    return {name: iid for name, (iid, _region) in local_instances(endpoint_url, **kwargs).items()}
