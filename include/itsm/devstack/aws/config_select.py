"""Config `SelectAggregateResourceConfig` from moto's own state (moto has no EC2 in Config).

Supports the SQL subset the project uses: a field list (dotted paths, `*`, `COUNT(*)`),
`WHERE` conditions joined by AND (`=`, `!=`, `IN (...)`, `LIKE 'x%'`, with `tags.key`,
`tags.value`, `tags.tag` = 'k=v'), `GROUP BY` fields. Anything else is rejected the way
Config rejects it (InvalidExpressionException), so the product cannot rely on a dialect AWS lacks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime

from moto.backends import get_backend

MAX_LIMIT = 100


class SelectError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _existing(backend_dict, account_id: str) -> Iterator[tuple[str, object]]:
    """Only regions moto already created: indexing a BackendDict would create (and seed) new ones."""
    per_account = dict.get(backend_dict, account_id)
    return iter(list(dict.items(per_account))) if per_account else iter(())


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _tags(pairs: dict[str, str] | list[dict]) -> list[dict[str, str]]:
    if isinstance(pairs, dict):
        return [{"key": k, "value": v} for k, v in pairs.items()]
    return [{"key": t.get("Key", t.get("key")), "value": t.get("Value", t.get("value"))} for t in pairs]


def _item(account_id: str, region: str, rtype: str, rid: str, name: str | None, configuration: dict, tags) -> dict:
    return {
        "resourceId": rid,
        "resourceName": name or rid,
        "resourceType": rtype,
        "accountId": account_id,
        "awsRegion": region,
        "configuration": configuration,
        "tags": _tags(tags),
    }


def _ec2_items(account_id: str) -> Iterator[dict]:
    backends = get_backend("ec2")
    for region, ec2 in _existing(backends, account_id):
        for reservation in list(ec2.reservations.values()):
            for inst in reservation.instances:
                if inst.state == "terminated":  # Config drops deleted resources
                    continue
                tags = ec2.describe_tags(filters={"resource-id": [inst.id]})
                yield _item(account_id, region, "AWS::EC2::Instance", inst.id, None, {
                    "instanceId": inst.id,
                    "instanceType": inst.instance_type,
                    "imageId": inst.image_id,
                    "launchTime": _iso(inst.launch_time),
                    "state": {"name": inst.state, "code": inst.state_code},
                    "vpcId": inst.vpc_id,
                    "subnetId": inst.subnet_id,
                    "privateIpAddress": inst.private_ip,
                    "placement": {"availabilityZone": inst.placement.availability_zone},
                }, [{"Key": t["key"], "Value": t["value"]} for t in tags])
        for vpc in list(ec2.vpcs.values()):
            yield _item(account_id, region, "AWS::EC2::VPC", vpc.id, None, {
                "vpcId": vpc.id, "cidrBlock": vpc.cidr_block, "isDefault": vpc.is_default, "state": vpc.state,
            }, _tag_list(ec2, vpc.id))
        for by_az in list(ec2.subnets.values()):
            for subnet in list(by_az.values()):
                yield _item(account_id, region, "AWS::EC2::Subnet", subnet.id, None, {
                    "subnetId": subnet.id, "vpcId": subnet.vpc_id, "cidrBlock": subnet.cidr_block,
                    "availabilityZone": subnet.availability_zone,
                }, _tag_list(ec2, subnet.id))
        for by_vpc in list(ec2.groups.values()):
            for group in list(by_vpc.values()):
                yield _item(account_id, region, "AWS::EC2::SecurityGroup", group.id, group.name, {
                    "groupId": group.id, "groupName": group.name, "vpcId": group.vpc_id,
                    "description": group.description,
                }, _tag_list(ec2, group.id))


def _tag_list(ec2, resource_id: str) -> list[dict]:
    return [{"Key": t["key"], "Value": t["value"]} for t in ec2.describe_tags(filters={"resource-id": [resource_id]})]


def _s3_items(account_id: str) -> Iterator[dict]:
    for _, s3 in _existing(get_backend("s3"), account_id):
        for bucket in list(s3.buckets.values()):
            if bucket.account_id != account_id:
                continue
            tags = s3.tagger.list_tags_for_resource(bucket.arn)["Tags"]
            yield _item(account_id, bucket.region_name, "AWS::S3::Bucket", bucket.name, bucket.name, {
                "name": bucket.name, "creationDate": _iso(bucket.creation_date),
            }, tags)


def _rds_items(account_id: str) -> Iterator[dict]:
    for region, rds in _existing(get_backend("rds"), account_id):
        for db in list(rds.databases.values()):
            yield _item(account_id, region, "AWS::RDS::DBInstance", db.dbi_resource_id, db.db_instance_identifier, {
                "dBInstanceIdentifier": db.db_instance_identifier, "engine": db.engine,
                "dBInstanceClass": db.db_instance_class, "backupRetentionPeriod": db.backup_retention_period,
                "allocatedStorage": db.allocated_storage, "dBInstanceStatus": db.status,
            }, db.tags)


def _iam_items(account_id: str) -> Iterator[dict]:
    for _, iam in _existing(get_backend("iam"), account_id):
        for role in list(iam.roles.values()):
            yield _item(account_id, "global", "AWS::IAM::Role", role.id, role.name, {
                "roleName": role.name, "arn": role.arn, "path": role.path,
                "createDate": _iso(role.create_date),
            }, role.tags)


COLLECTORS: dict[str, Callable[[str], Iterator[dict]]] = {
    "AWS::EC2::Instance": _ec2_items,
    "AWS::EC2::VPC": _ec2_items,
    "AWS::EC2::Subnet": _ec2_items,
    "AWS::EC2::SecurityGroup": _ec2_items,
    "AWS::S3::Bucket": _s3_items,
    "AWS::RDS::DBInstance": _rds_items,
    "AWS::IAM::Role": _iam_items,
}

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+GROUP\s+BY\s+(?P<group>.+?))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(
    r"^\s*(?P<field>[\w.]+)\s*(?:(?P<op>=|!=|<>)\s*(?P<value>'[^']*'|[\w.:-]+)"
    r"|(?P<not>NOT\s+)?IN\s*\((?P<values>[^)]*)\)|LIKE\s+'(?P<like>[^']*)')\s*$",
    re.IGNORECASE,
)


def _get(item: dict, path: str):
    value = item
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _unquote(value: str) -> str:
    return value[1:-1] if value.startswith("'") else value


def _condition(text: str) -> Callable[[dict], bool]:
    m = _COND.match(text)
    if not m:
        raise SelectError("InvalidExpressionException", f"unsupported condition: {text.strip()}")
    field = m["field"]
    if m["op"]:
        wanted, negate = {_unquote(m["value"])}, m["op"] != "="
    elif m["values"] is not None:
        wanted, negate = {_unquote(v.strip()) for v in m["values"].split(",")}, bool(m["not"])
    else:
        pattern = re.compile("^" + re.escape(m["like"]).replace("%", ".*").replace("_", ".") + "$")
        wanted, negate = pattern, False

    def values_of(item: dict) -> list[str]:
        if field.lower() in ("tags.key", "tags.value"):
            return [t[field.split(".")[1].lower()] for t in item["tags"]]
        if field.lower() == "tags.tag":
            return [f"{t['key']}={t['value']}" for t in item["tags"]]
        value = _get(item, field)
        return [] if value is None else [str(value)]

    def test(item: dict) -> bool:
        values = values_of(item)
        hit = any(wanted.match(v) for v in values) if isinstance(wanted, re.Pattern) else any(v in wanted for v in values)
        return hit != negate

    return test


def _project(item: dict, fields: list[str]) -> dict:
    if fields == ["*"]:
        return item
    out: dict = {}
    for field in fields:
        value = _get(item, field)
        if value is None:
            continue
        parts = field.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def run_query(expression: str, account_ids: list[str], regions: set[str] | None) -> list[dict]:
    """Evaluate an expression over the given accounts (regions None: all); rows in a stable order."""
    m = _QUERY.match(expression)
    if not m:
        raise SelectError("InvalidExpressionException", "expression must be SELECT ... [WHERE ...] [GROUP BY ...]")
    fields = [f.strip() for f in m["fields"].split(",")]
    conditions = [_condition(c) for c in re.split(r"\s+AND\s+", m["where"], flags=re.IGNORECASE)] if m["where"] else []
    type_filter = re.findall(r"resourceType\s*(?:=\s*'([^']+)'|IN\s*\(([^)]*)\))", m["where"] or "", re.IGNORECASE)
    types = {t for eq, many in type_filter for t in ([eq] if eq else [_unquote(v.strip()) for v in many.split(",")])}
    collectors = {COLLECTORS[t] for t in types if t in COLLECTORS} if types else set(COLLECTORS.values())
    rows = [
        item
        for account_id in account_ids
        for collect in collectors
        for item in collect(account_id)
        if (regions is None or item["awsRegion"] in regions or item["awsRegion"] == "global")
        and all(test(item) for test in conditions)
    ]
    rows.sort(key=lambda r: (r["accountId"], r["awsRegion"], r["resourceType"], r["resourceId"]))
    counting = [f for f in fields if f.upper() == "COUNT(*)"]
    if m["group"]:
        keys = [g.strip() for g in m["group"].split(",")]
        groups: dict[tuple, int] = {}
        for row in rows:
            key = tuple(_get(row, k) for k in keys)
            groups[key] = groups.get(key, 0) + 1
        return [_project(dict(zip(keys, key)), [f for f in fields if f in keys]) | {"COUNT(*)": n}
                for key, n in sorted(groups.items(), key=lambda kv: [str(k) for k in kv[0]])]
    if counting:
        return [{"COUNT(*)": len(rows)}]
    return [_project(row, fields) for row in rows]


def page(expression: str, rows: list[dict], limit: int | None, token: str | None) -> dict:
    """One page as Config returns it: JSON strings, `Limit` <= 100, opaque `NextToken`."""
    limit = MAX_LIMIT if not limit else int(limit)
    if not 0 < limit <= MAX_LIMIT:
        raise SelectError("ValidationException", f"Limit must be between 1 and {MAX_LIMIT}")
    digest = hashlib.sha1(expression.encode()).hexdigest()[:12]
    offset = 0
    if token:
        try:
            tag, value = base64.urlsafe_b64decode(token.encode()).decode().split(":")
            offset = int(value)
        except ValueError as exc:
            raise SelectError("InvalidNextTokenException", "invalid NextToken") from exc
        if tag != digest:
            raise SelectError("InvalidNextTokenException", "NextToken belongs to another expression")
    fields = [f.strip() for f in _QUERY.match(expression)["fields"].split(",")]
    out: dict = {
        "Results": [json.dumps(r) for r in rows[offset : offset + limit]],
        "QueryInfo": {"SelectFields": [{"Name": f} for f in fields]},
    }
    if offset + limit < len(rows):
        out["NextToken"] = base64.urlsafe_b64encode(f"{digest}:{offset + limit}".encode()).decode()
    return out
