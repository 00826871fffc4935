"""Config `SelectAggregateResourceConfig` from moto's own state (moto has no EC2 in Config).

Answers the advanced-query SQL that Config documents, exactly or not at all:
`SELECT prop, ... | COUNT(*) [WHERE cond] [GROUP BY prop[, prop[, prop]]] [ORDER BY prop|COUNT(*) [ASC|DESC], ...]`,
conditions joined by AND / OR / NOT with parentheses, `=`, `!=`/`<>`, `<`, `<=`, `>`, `>=`,
`BETWEEN a AND b`, `[NOT] IN (...)`, `LIKE 'abc%'` (suffix wildcards, at least three characters
before them), with `tags.key`, `tags.value` and `tags.tag = 'k=v'`. A condition on an array (the
tags) is true when any element satisfies it, as Config computes it. Everything else is refused
with `InvalidExpressionException` naming the construct: what Config itself does not support
(`DISTINCT`, `FROM`, `HAVING`, `JOIN`, `NULL`, prefix wildcards, ...) and what this stand-in
cannot answer exactly (resource types or properties it does not model, a query whose resourceType
is not restricted to modelled types, aggregates other than COUNT(*), `SELECT *`). Pages as
Config: 25 rows by default, 500 for aggregations, `Limit`/`MaxResults` at most 100, and a
NextToken valid only for the query (and aggregator) that issued it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from moto.backends import get_backend

MAX_LIMIT = 100
DEFAULT_PAGE = 25
DEFAULT_AGGREGATE_PAGE = 500
MAX_EXPRESSION = 4096
MAX_NESTING = 100
MAX_GROUP_BY = 3
INVALID = "InvalidExpressionException"


class SelectError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _refuse(message: str) -> SelectError:
    return SelectError(INVALID, message)


# --- what the stand-in models, read from moto's in-process backends ---------------------------------


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


def _item(account_id: str, region: str, rtype: str, rid: str, name: str | None, configuration: dict, tags, **top):
    item = {
        "resourceId": rid,
        "resourceName": name or rid,
        "resourceType": rtype,
        "accountId": account_id,
        "awsRegion": region,
        "configuration": configuration,
        "tags": _tags(tags),
    }
    return item | {k: v for k, v in top.items() if v is not None}


def _tag_list(ec2, resource_id: str) -> list[dict]:
    return [{"Key": t["key"], "Value": t["value"]} for t in ec2.describe_tags(filters={"resource-id": [resource_id]})]


def _ec2_items(account_id: str) -> Iterator[dict]:
    for region, ec2 in _existing(get_backend("ec2"), account_id):
        arn = f"arn:aws:ec2:{region}:{account_id}"
        for reservation in list(ec2.reservations.values()):
            for inst in reservation.instances:
                if inst.state == "terminated":  # Config drops deleted resources
                    continue
                zone = inst.placement.availability_zone
                yield _item(
                    account_id,
                    region,
                    "AWS::EC2::Instance",
                    inst.id,
                    None,
                    {
                        "instanceId": inst.id,
                        "instanceType": inst.instance_type,
                        "imageId": inst.image_id,
                        "launchTime": _iso(inst.launch_time),
                        "state": {"name": inst.state, "code": inst.state_code},
                        "vpcId": inst.vpc_id,
                        "subnetId": inst.subnet_id,
                        "privateIpAddress": inst.private_ip,
                        "placement": {"availabilityZone": zone},
                    },
                    _tag_list(ec2, inst.id),
                    arn=f"{arn}:instance/{inst.id}",
                    availabilityZone=zone,
                    resourceCreationTime=_iso(inst.launch_time),
                )
        for vpc in list(ec2.vpcs.values()):
            yield _item(
                account_id,
                region,
                "AWS::EC2::VPC",
                vpc.id,
                None,
                {"vpcId": vpc.id, "cidrBlock": vpc.cidr_block, "isDefault": vpc.is_default, "state": vpc.state},
                _tag_list(ec2, vpc.id),
                arn=f"{arn}:vpc/{vpc.id}",
            )
        for by_az in list(ec2.subnets.values()):
            for subnet in list(by_az.values()):
                yield _item(
                    account_id,
                    region,
                    "AWS::EC2::Subnet",
                    subnet.id,
                    None,
                    {
                        "subnetId": subnet.id,
                        "vpcId": subnet.vpc_id,
                        "cidrBlock": subnet.cidr_block,
                        "availabilityZone": subnet.availability_zone,
                    },
                    _tag_list(ec2, subnet.id),
                    arn=f"{arn}:subnet/{subnet.id}",
                    availabilityZone=subnet.availability_zone,
                )
        for by_vpc in list(ec2.groups.values()):
            for group in list(by_vpc.values()):
                yield _item(
                    account_id,
                    region,
                    "AWS::EC2::SecurityGroup",
                    group.id,
                    group.name,
                    {
                        "groupId": group.id,
                        "groupName": group.name,
                        "vpcId": group.vpc_id,
                        "description": group.description,
                    },
                    _tag_list(ec2, group.id),
                    arn=f"{arn}:security-group/{group.id}",
                )


def _s3_items(account_id: str) -> Iterator[dict]:
    for _, s3 in _existing(get_backend("s3"), account_id):
        for bucket in list(s3.buckets.values()):
            if bucket.account_id != account_id:
                continue
            yield _item(
                account_id,
                bucket.region_name,
                "AWS::S3::Bucket",
                bucket.name,
                bucket.name,
                {"name": bucket.name, "creationDate": _iso(bucket.creation_date)},
                s3.tagger.list_tags_for_resource(bucket.arn)["Tags"],
                arn=bucket.arn,
                resourceCreationTime=_iso(bucket.creation_date),
            )


def _rds_items(account_id: str) -> Iterator[dict]:
    for region, rds in _existing(get_backend("rds"), account_id):
        for db in list(rds.databases.values()):
            yield _item(
                account_id,
                region,
                "AWS::RDS::DBInstance",
                db.dbi_resource_id,
                db.db_instance_identifier,
                {
                    "dBInstanceIdentifier": db.db_instance_identifier,
                    "engine": db.engine,
                    "dBInstanceClass": db.db_instance_class,
                    "backupRetentionPeriod": db.backup_retention_period,
                    "allocatedStorage": db.allocated_storage,
                    "dBInstanceStatus": db.status,
                },
                db.tags,
                arn=db.db_instance_arn,
            )


def _iam_items(account_id: str) -> Iterator[dict]:
    for _, iam in _existing(get_backend("iam"), account_id):
        for role in list(iam.roles.values()):
            yield _item(
                account_id,
                "global",
                "AWS::IAM::Role",
                role.id,
                role.name,
                {"roleName": role.name, "arn": role.arn, "path": role.path, "createDate": _iso(role.create_date)},
                role.tags,
                arn=role.arn,
                resourceCreationTime=_iso(role.create_date),
            )


COLLECTORS: dict[str, Callable[[str], Iterator[dict]]] = {
    "AWS::EC2::Instance": _ec2_items,
    "AWS::EC2::VPC": _ec2_items,
    "AWS::EC2::Subnet": _ec2_items,
    "AWS::EC2::SecurityGroup": _ec2_items,
    "AWS::S3::Bucket": _s3_items,
    "AWS::RDS::DBInstance": _rds_items,
    "AWS::IAM::Role": _iam_items,
}
_COMMON = ("resourceId", "resourceName", "resourceType", "accountId", "awsRegion", "arn", "configuration", "tags")
# The properties each modelled type carries (configuration.* as dotted paths); a query naming anything
# else is refused, since Config would answer from data the stand-in does not have.
PROPERTIES: dict[str, frozenset[str]] = {
    rtype: frozenset(_COMMON + extra + tuple(f"configuration.{c}" for c in configuration))
    for rtype, extra, configuration in (
        (
            "AWS::EC2::Instance",
            ("availabilityZone", "resourceCreationTime"),
            (
                "instanceId",
                "instanceType",
                "imageId",
                "launchTime",
                "state.name",
                "state.code",
                "vpcId",
                "subnetId",
                "privateIpAddress",
                "placement.availabilityZone",
            ),
        ),
        ("AWS::EC2::VPC", (), ("vpcId", "cidrBlock", "isDefault", "state")),
        ("AWS::EC2::Subnet", ("availabilityZone",), ("subnetId", "vpcId", "cidrBlock", "availabilityZone")),
        ("AWS::EC2::SecurityGroup", (), ("groupId", "groupName", "vpcId", "description")),
        ("AWS::S3::Bucket", ("resourceCreationTime",), ("name", "creationDate")),
        (
            "AWS::RDS::DBInstance",
            (),
            (
                "dBInstanceIdentifier",
                "engine",
                "dBInstanceClass",
                "backupRetentionPeriod",
                "allocatedStorage",
                "dBInstanceStatus",
            ),
        ),
        ("AWS::IAM::Role", ("resourceCreationTime",), ("roleName", "arn", "path", "createDate")),
    )
}
TAG_PROPERTIES = ("tags.key", "tags.value", "tags.tag")


# --- the query language --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w.])|(?P<op><=|>=|<>|!=|[=<>(),*;])"
    r"|(?P<word>[A-Za-z_][\w.:-]*))",
)
_KEYWORDS = {"SELECT", "WHERE", "GROUP", "BY", "ORDER", "ASC", "DESC", "AND", "OR", "NOT", "IN", "BETWEEN", "LIKE"}
_UNSUPPORTED = {
    "ALL",
    "AS",
    "DISTINCT",
    "FROM",
    "HAVING",
    "JOIN",
    "UNION",
    "NULL",
    "IS",
    "LIMIT",
    "OFFSET",
    "EXISTS",
}
_AGGREGATES = {"COUNT", "SUM", "AVG", "MIN", "MAX"}
_TIME = re.compile(r"^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)?(?:Z|[+-]\d\d:?\d\d)?$")
COUNT = "COUNT(*)"


@dataclass(frozen=True)
class Tok:
    kind: str  # str, num, op, word
    text: str
    pos: int


def _tokens(expression: str) -> list[Tok]:
    out, pos = [], 0
    while pos < len(expression):
        if expression[pos:].strip() == "":
            break
        m = _TOKEN.match(expression, pos)
        if not m or m.end() == pos:
            raise _refuse(f"Invalid expression: unexpected character {expression[pos:].strip()[:1]!r} at {pos}.")
        kind = m.lastgroup
        out.append(Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


@dataclass(frozen=True)
class Cond:
    """A comparison of one property with literals; `test(value)` is applied to each of its values.
    `equals` holds the literals of a positive `=` / `IN` (what narrows resourceType), else None."""

    prop: str
    test: Callable[[object], bool]
    equals: tuple | None = None


@dataclass(frozen=True)
class Node:
    op: str  # AND, OR, NOT
    children: tuple


@dataclass(frozen=True)
class Query:
    select: tuple[str, ...]
    where: Cond | Node | None
    group_by: tuple[str, ...]
    order_by: tuple[tuple[str, bool], ...]  # (property or COUNT(*), descending)
    types: frozenset[str]

    @property
    def aggregate(self) -> bool:
        return COUNT in self.select or bool(self.group_by)


def _literal_value(tok: Tok) -> object:
    if tok.kind == "str":
        return tok.text[1:-1].replace("''", "'")
    if tok.kind == "num":
        return float(tok.text) if "." in tok.text else int(tok.text)
    if tok.kind == "word" and tok.text.lower() in ("true", "false"):
        return tok.text.lower() == "true"
    raise _refuse(f"Invalid expression: expected a literal at {tok.pos}, got {tok.text!r}.")


def _as_time(value: object) -> datetime | None:
    if isinstance(value, str) and _TIME.match(value):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _comparable(value: object, literal: object) -> tuple[object, object] | None:
    """The pair to compare, or None when the value and the literal are of kinds that never compare."""
    if isinstance(value, bool) or isinstance(literal, bool):
        if isinstance(literal, str) and literal.lower() in ("true", "false"):
            literal = literal.lower() == "true"
        return (value, literal) if isinstance(value, bool) and isinstance(literal, bool) else None
    if isinstance(value, (int, float)) and isinstance(literal, (int, float)):
        return value, literal
    if isinstance(value, (int, float)) and isinstance(literal, str):
        try:
            return value, float(literal)
        except ValueError:
            return None
    if isinstance(value, str) and isinstance(literal, (int, float)):
        try:
            return float(value), literal
        except ValueError:
            return None
    if isinstance(value, str) and isinstance(literal, str):
        times = _as_time(value), _as_time(literal)
        return times if None not in times else (value, literal)
    return None


_OPS: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(op: str, literal: object) -> Callable[[object], bool]:
    compare = _OPS[op]

    def test(value: object) -> bool:
        pair = _comparable(value, literal)
        return pair is not None and compare(*pair)

    return test


def _like(pattern: str, at: int) -> Callable[[object], bool]:
    wild = re.search(r"[%_]", pattern)
    if wild is None:
        return _compare("=", pattern)
    head, tail = pattern[: wild.start()], pattern[wild.start() :]
    if set(tail) - {"%", "_"}:
        raise _refuse(f"Invalid expression: LIKE supports suffix wildcards only ('{pattern}' at {at}).")
    if len(head) < 3:
        raise _refuse(f"Invalid expression: a LIKE wildcard needs at least three characters before it ('{pattern}').")
    fixed = tail.count("_")
    exact = "%" not in tail

    def test(value: object) -> bool:
        if not isinstance(value, str) or not value.startswith(head):
            return False
        rest = len(value) - len(head)
        return rest == fixed if exact else rest >= fixed

    return test


class _Parser:
    def __init__(self, expression: str) -> None:
        self.toks = _tokens(expression)
        self.pos = 0
        self.depth = 0

    def peek(self) -> Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def at(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.upper() in words

    def at_op(self, op: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "op" and tok.text == op

    def take(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise _refuse("Invalid expression: the query ended unexpectedly.")
        self.pos += 1
        return tok

    def expect_word(self, word: str) -> None:
        tok = self.take()
        if tok.kind != "word" or tok.text.upper() != word:
            raise _refuse(f"Invalid expression: expected {word} at {tok.pos}, got {tok.text!r}.")

    def expect_op(self, op: str) -> None:
        tok = self.take()
        if tok.kind != "op" or tok.text != op:
            raise _refuse(f"Invalid expression: expected '{op}' at {tok.pos}, got {tok.text!r}.")

    def prop(self) -> str:
        tok = self.take()
        upper = tok.text.upper()
        if tok.kind == "word" and upper in _UNSUPPORTED:
            raise _refuse(f"Invalid expression: Config advanced queries do not support {upper} (at {tok.pos}).")
        if tok.kind != "word" or upper in _KEYWORDS or tok.text.lower() in ("true", "false"):
            raise _refuse(f"Invalid expression: expected a property at {tok.pos}, got {tok.text!r}.")
        if upper in _AGGREGATES and self.at_op("("):
            return self.aggregate(tok)
        return tok.text

    def aggregate(self, name: Tok) -> str:
        self.expect_op("(")
        arg = self.take()
        self.expect_op(")")
        if name.text.upper() != "COUNT" or arg.text != "*":
            raise _refuse(
                f"Invalid expression: the local AWS answers COUNT(*) only, not {name.text}({arg.text}) (at {name.pos})."
            )
        return COUNT

    def parse(self) -> tuple[list[str], Cond | Node | None, list[str], list[tuple[str, bool]]]:
        self.expect_word("SELECT")
        if self.at_op("*"):
            raise _refuse(
                "Invalid expression: the local AWS cannot answer SELECT * exactly (Config returns properties it does"
                " not model, such as configurationItemCaptureTime and version); name the properties instead."
            )
        select = [self.prop()]
        while self.at_op(","):
            self.take()
            select.append(self.prop())
        where = group = order = None
        if self.at("WHERE"):
            self.take()
            where = self.or_expr()
        if self.at("GROUP"):
            self.take()
            self.expect_word("BY")
            group = self.prop_list()
        if self.at("ORDER"):
            self.take()
            self.expect_word("BY")
            order = []
            while True:
                prop = self.prop()
                desc = False
                if self.at("ASC", "DESC"):
                    desc = self.take().text.upper() == "DESC"
                order.append((prop, desc))
                if not self.at_op(","):
                    break
                self.take()
        if self.at_op(";"):
            self.take()
        tok = self.peek()
        if tok is not None:
            upper = tok.text.upper()
            if upper in _UNSUPPORTED:
                raise _refuse(f"Invalid expression: Config advanced queries do not support {upper} (at {tok.pos}).")
            raise _refuse(f"Invalid expression: unexpected {tok.text!r} at {tok.pos}.")
        return select, where, group or [], order or []

    def prop_list(self) -> list[str]:
        out = [self.prop()]
        while self.at_op(","):
            self.take()
            out.append(self.prop())
        return out

    def or_expr(self) -> Cond | Node:
        parts = [self.and_expr()]
        while self.at("OR"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Node("OR", tuple(parts))

    def and_expr(self) -> Cond | Node:
        parts = [self.unary()]
        while self.at("AND"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else Node("AND", tuple(parts))

    def unary(self) -> Cond | Node:
        if not (self.at("NOT") or self.at_op("(")):
            return self.predicate()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _refuse(f"Invalid expression: conditions nest more than {MAX_NESTING} levels deep.")
        if self.take().kind == "word":  # NOT
            node = Node("NOT", (self.unary(),))
        else:
            node = self.or_expr()
            self.expect_op(")")
        self.depth -= 1
        return node

    def predicate(self) -> Cond:
        start = self.peek()
        prop = self.prop()
        if prop == COUNT:
            raise _refuse("Invalid expression: aggregates cannot be used in WHERE (Config has no HAVING either).")
        negate, equals = False, None
        if self.at("NOT"):
            self.take()
            negate = True
            if not self.at("IN", "BETWEEN", "LIKE"):
                raise _refuse(f"Invalid expression: expected IN, BETWEEN or LIKE after NOT (at {start.pos}).")
        if self.at("IS"):
            raise _refuse("Invalid expression: Config advanced queries do not support NULL value queries.")
        if self.at("IN"):
            self.take()
            self.expect_op("(")
            values = [_literal_value(self.take())]
            while self.at_op(","):
                self.take()
                values.append(_literal_value(self.take()))
            self.expect_op(")")
            tests = [_compare("=", v) for v in values]
            test = lambda v: any(t(v) for t in tests)  # noqa: E731
            equals = tuple(values)
        elif self.at("BETWEEN"):
            self.take()
            low = _literal_value(self.take())
            self.expect_word("AND")
            high = _literal_value(self.take())
            above, below = _compare(">=", low), _compare("<=", high)
            test = lambda v: above(v) and below(v)  # noqa: E731
        elif self.at("LIKE"):
            self.take()
            tok = self.take()
            if tok.kind != "str":
                raise _refuse(f"Invalid expression: LIKE takes a quoted pattern (at {tok.pos}).")
            test = _like(_literal_value(tok), tok.pos)
        else:
            tok = self.take()
            if tok.kind != "op" or tok.text not in _OPS:
                raise _refuse(f"Invalid expression: expected a comparison after {prop} at {tok.pos}.")
            literal = _literal_value(self.take())
            test = _compare(tok.text, literal)
            equals = (literal,) if tok.text == "=" else None
        if negate:
            positive = test
            test = lambda v: not positive(v)  # noqa: E731
            equals = None
        return Cond(prop, test, equals)


# --- checking a parsed query against what the stand-in can answer --------------------------------


def _types_of(node: Cond | Node | None) -> frozenset[str] | None:
    """The resource types `node` can be true for, from its positive resourceType = / IN conditions
    (None: not restricted, e.g. a resourceType LIKE, NOT or != could match types the stand-in lacks)."""
    if node is None:
        return None
    if isinstance(node, Cond):
        if node.prop != "resourceType" or node.equals is None:
            return None
        return frozenset(str(v) for v in node.equals)
    if node.op == "NOT":
        return None
    scopes = [_types_of(c) for c in node.children]
    if node.op == "AND":
        narrowed = [s for s in scopes if s is not None]
        return frozenset.intersection(*narrowed) if narrowed else None
    return None if any(s is None for s in scopes) else frozenset.union(*scopes)


def _props(node: Cond | Node | None) -> Iterator[str]:
    if isinstance(node, Cond):
        yield node.prop
    elif isinstance(node, Node):
        for child in node.children:
            yield from _props(child)


def parse_query(expression: str) -> Query:
    """The query, or InvalidExpressionException saying what Config or this stand-in cannot answer."""
    if len(expression) > MAX_EXPRESSION:
        raise SelectError("ValidationException", f"Expression must be at most {MAX_EXPRESSION} characters.")
    select, where, group, order = _Parser(expression).parse()
    types = _types_of(where)
    if types is None:
        raise _refuse(
            "Invalid expression: the local AWS answers only queries whose WHERE restricts resourceType to the types"
            f" it models ({', '.join(sorted(COLLECTORS))}), e.g. WHERE resourceType = 'AWS::EC2::Instance'."
        )
    unmodelled = sorted(types - set(COLLECTORS))
    if unmodelled:
        raise _refuse(f"Invalid expression: the local AWS does not model {', '.join(unmodelled)}.")
    known = set().union(*(PROPERTIES[t] for t in types)) if types else set()
    known |= {".".join(p.split(".")[:n]) for p in known for n in range(1, p.count(".") + 1)}
    for prop in [*select, *group, *(p for p, _ in order)]:
        if prop != COUNT and prop not in known:
            raise _refuse(f"Invalid expression: the local AWS does not model property {prop} for {sorted(types)}.")
    for prop in _props(where):
        if prop not in known and prop not in TAG_PROPERTIES:
            raise _refuse(f"Invalid expression: the local AWS does not model property {prop} for {sorted(types)}.")
    if len(group) > MAX_GROUP_BY:
        raise _refuse(f"Invalid expression: GROUP BY takes at most {MAX_GROUP_BY} properties.")
    if any(p == "tags" or p.startswith("tags.") for p in group):
        raise _refuse("Invalid expression: nested structures such as tags cannot be grouped by.")
    if COUNT in select or group:
        stray = [p for p in select if p != COUNT and p not in group]
        if stray:
            raise _refuse(f"Invalid expression: {', '.join(stray)} must appear in GROUP BY or in an aggregate.")
    by_count = [p for p, _ in order if p == COUNT]
    if by_count and len(group) != 1:
        raise _refuse("Invalid expression: GROUP BY with an ORDER BY on an aggregate may contain only one property.")
    missing = [p for p, _ in order if p not in select]
    if missing:
        raise _refuse(f"Invalid expression: ORDER BY sorts by output properties; {', '.join(missing)} is not selected.")
    return Query(tuple(select), where, tuple(group), tuple(order), types)


# --- evaluation ----------------------------------------------------------------------------------


def _get(item: dict, path: str):
    value = item
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _values(item: dict, prop: str) -> list[object]:
    """Every value a condition on `prop` is tested against (tags: one per tag)."""
    if prop in ("tags.key", "tags.value"):
        return [t[prop.split(".")[1]] for t in item["tags"]]
    if prop == "tags.tag":
        return [f"{t['key']}={t['value']}" for t in item["tags"]]
    value = _get(item, prop)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches(node: Cond | Node | None, item: dict) -> bool:
    if node is None:
        return True
    if isinstance(node, Cond):
        return any(node.test(v) for v in _values(item, node.prop))
    if node.op == "NOT":
        return not _matches(node.children[0], item)
    found = (_matches(c, item) for c in node.children)
    return all(found) if node.op == "AND" else any(found)


def _nest(pairs: list[tuple[str, object]]) -> dict:
    """Dotted properties as Config nests them in a result row."""
    out: dict = {}
    for path, value in pairs:
        if value is None:
            continue
        parts = path.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _sort_key(value: object) -> tuple:
    if value is None:
        return (1, 0, "")
    if isinstance(value, bool):
        return (0, 0, int(value))
    if isinstance(value, (int, float)):
        return (0, 1, value)
    return (0, 2, str(value))


def run_query(query: Query, account_ids: list[str], regions: set[str] | None) -> list[dict]:
    """Evaluate a parsed query over the given accounts (regions None: all); rows in a stable order."""
    collectors = {COLLECTORS[t] for t in query.types}
    rows = [
        item
        for account_id in account_ids
        for collect in collectors
        for item in collect(account_id)
        if item["resourceType"] in query.types
        and (regions is None or item["awsRegion"] in regions or item["awsRegion"] == "global")
        and _matches(query.where, item)
    ]
    rows.sort(key=lambda r: (r["accountId"], r["awsRegion"], r["resourceType"], r["resourceId"]))
    if query.aggregate:
        groups: dict[tuple, int] = {(): len(rows)} if not query.group_by else {}
        for row in rows if query.group_by else []:
            key = tuple(_get(row, p) for p in query.group_by)
            groups[key] = groups.get(key, 0) + 1
        out = []
        for key, n in sorted(groups.items(), key=lambda kv: [_sort_key(k) for k in kv[0]]):
            values = dict(zip(query.group_by, key))
            out.append(_nest([(p, n if p == COUNT else values[p]) for p in query.select]))
    else:
        out = [_nest([(p, _get(row, p)) for p in query.select]) for row in rows]
    for prop, desc in reversed(query.order_by):
        out.sort(key=lambda r, p=prop: _sort_key(r.get(COUNT) if p == COUNT else _get(r, p)), reverse=desc)
    return out


def check_limits(limit: object, max_results: object) -> None:
    """`Limit` and `MaxResults` as Config's model validates them (0..100; 0 or absent: the default)."""
    for name, value in (("limit", limit), ("maxResults", max_results)):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise SelectError("ValidationException", f"'{name}' must be an integer")
        if not 0 <= value <= MAX_LIMIT:
            bound = f"less than or equal to {MAX_LIMIT}" if value > 0 else "greater than or equal to 0"
            raise SelectError(
                "ValidationException",
                f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint:"
                f" Member must have value {bound}",
            )


def page_size(query: Query, limit: int | None, max_results: int | None) -> int:
    """Rows per page as Config sizes them: Limit or MaxResults; else 25, or 500 for aggregations."""
    return limit or max_results or (DEFAULT_AGGREGATE_PAGE if query.aggregate else DEFAULT_PAGE)


def token_digest(expression: str, scope: str) -> str:
    """What a NextToken is tied to: the expression and the aggregator (scope) it was issued for."""
    return hashlib.sha1(f"{scope}\n{expression}".encode()).hexdigest()[:16]


def token_offset(token: str | None, digest: str) -> int:
    """The row offset a NextToken stands for; a token of another query or aggregator is refused."""
    if not token:
        return 0
    try:
        tag, value = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        offset = int(value)
    except ValueError as exc:
        raise SelectError("InvalidNextTokenException", "The nextToken provided is invalid") from exc
    if tag != digest or offset < 0:
        raise SelectError("InvalidNextTokenException", "The nextToken provided is invalid")
    return offset


def page(query: Query, rows: list[dict], size: int, offset: int, digest: str) -> dict:
    """One page as Config returns it: rows as JSON strings, QueryInfo, and a NextToken while rows remain."""
    if any(p == COUNT for p, _ in query.order_by) and len(rows) > size:
        raise _refuse(
            f"Invalid expression: Config does not page aggregate queries ordered by an aggregate, and this one has"
            f" {len(rows)} rows for a page of {size}."
        )
    out: dict = {
        "Results": [json.dumps(r) for r in rows[offset : offset + size]],
        "QueryInfo": {"SelectFields": [{"Name": f} for f in query.select]},
    }
    if offset + size < len(rows):
        out["NextToken"] = base64.urlsafe_b64encode(f"{digest}:{offset + size}".encode()).decode()
    return out
