"""`itsm doctor`: is this deployment able to run? One check per line, with the fix for each failure.

Checks, per customer where it applies: the configuration; the Jira connection (reachable,
credentials, Cloud REST v3: `/rest/api/3/serverInfo`, `/myself`); the Jira mapping against the
site's own metadata (issue types, statuses, link types, fields, a sample issue's transitions);
AWS read permissions (STS identity, Organizations ListAccounts, AssumeRole into one member,
DescribeInstances there); the Config aggregator (a COUNT query); the evidence store (write, read,
delete of a probe object); Airflow (API reachable, DAGs without import errors) when
ITSM_AIRFLOW_URL/USER/PASSWORD are set. Only calls the product itself makes are used, so the
least-privilege IAM policies in deploy/iam/ are enough for the doctor too.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from pydantic import BaseModel

from include.itsm.adapters.jira import JiraAuthError
from include.itsm.core.vocab import CheckStatus
from include.itsm.ports import AwsError, AwsReads, Evidence, Jira
from include.itsm.wiring import Connections, airflow_api_from_env


class Check(BaseModel):
    name: str
    status: CheckStatus
    detail: str = ""
    fix: str = ""
    customer: str | None = None


class Failed(Exception):
    def __init__(self, detail: str, fix: str = "") -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


class Skipped(Exception):
    pass


def _run(out: list[Check], name: str, fn: Callable[[], str], customer: str | None = None, fix: str = "") -> bool:
    try:
        out.append(Check(name=name, status="OK", detail=fn() or "", customer=customer))
        return True
    except Skipped as exc:
        out.append(Check(name=name, status="SKIP", detail=str(exc), customer=customer))
    except Failed as exc:
        out.append(Check(name=name, status="FAIL", detail=exc.detail, fix=exc.fix or fix, customer=customer))
    except Exception as exc:  # noqa: BLE001 - every failure is a line of the report, never a crash
        out.append(
            Check(name=name, status="FAIL", detail=f"{type(exc).__name__}: {exc}"[:500], fix=fix, customer=customer)
        )
    return False


# --- Jira ------------------------------------------------------------------------------------------


def _jira_get(jira: Jira, path: str):
    try:
        return jira.site(path)
    except JiraAuthError as exc:
        raise Failed(
            str(exc),
            "set the Jira connection's login to the bot's e-mail and its password to a current API token "
            "(id.atlassian.com > Security > API tokens)",
        ) from exc


def check_jira_connection(jira, conn_id: str) -> str:
    info = _jira_get(jira, "serverInfo")
    me = _jira_get(jira, "myself")
    if info.get("deploymentType") != "Cloud":
        raise Failed(
            f"{info.get('baseUrl')} is Jira {info.get('deploymentType')} {info.get('version')}",
            "point the connection at a Jira Cloud site (REST API v3 with /search/jql)",
        )
    return f"{conn_id}: {info.get('baseUrl')} Jira Cloud {info.get('version')}, REST v3, as {me.get('emailAddress') or me.get('displayName')}"


def check_jira_mapping(jira, customer) -> str:
    """Every configured name against the site's metadata; all missing names in one message."""
    mapping = customer.jira
    problems: list[str] = []
    types = {t["name"] for t in _jira_get(jira, "issuetype")}
    statuses = {s["name"] for s in _jira_get(jira, "status")}
    links = {t["name"] for t in _jira_get(jira, "issueLinkType").get("issueLinkTypes", [])}
    fields = {f["id"]: f for f in _jira_get(jira, "field")}
    problems += [
        f"issue type {name!r} (jira.issue_types.{role}) not on the site; it has {sorted(types)}"
        for role, name in mapping.issue_types.items()
        if name not in types
    ]
    problems += [
        f"status {name!r} (jira.statuses.{role}) not on the site; it has {sorted(statuses)}"
        for role, name in mapping.statuses.items()
        if name not in statuses
    ]
    problems += [
        f"status {name!r} (jira.transitions_to) not on the site"
        for name in mapping.transitions_to
        if name not in statuses
    ]
    problems += [
        f"link type {name!r} (jira.link_types.{role}) not on the site; it has {sorted(links)}"
        for role, name in mapping.link_types.items()
        if name not in links
    ]
    problems += [
        f"field {fid!r} (jira.fields.{role}) not on the site (see GET /rest/api/3/field)"
        for role, fid in mapping.fields.items()
        if fid not in fields
    ]
    sprint = fields.get(mapping.sprint_field)
    if sprint is None or "gh-sprint" not in str((sprint.get("schema") or {}).get("custom", "")):
        problems.append(
            f"jira.sprint_field {mapping.sprint_field!r} is not the site's Sprint field "
            f"(Sprint is {[f['id'] for f in fields.values() if f.get('name') == 'Sprint']})"
        )
    sample = next(
        jira.search(f'project = "{customer.jira_project}" ORDER BY created DESC', page_size=1, fields=("status",)), None
    )
    detail = "no sample issue in the project"
    if sample is not None:
        transitions = _jira_get(jira, f"issue/{sample.key}/transitions").get("transitions", [])
        targets = sorted({t["to"]["name"] for t in transitions})
        unknown = [t for t in targets if t not in statuses]
        if unknown:
            problems.append(f"{sample.key} transitions to statuses the site does not list: {unknown}")
        detail = f"sample {sample.key} ({sample.status}) can move to {targets}"
    if problems:
        raise Failed(
            "; ".join(problems),
            f"fix customers[{customer.id}].jira in the configuration to the site's names "
            "(or create them in Jira: Settings > Issues)",
        )
    return (
        f"{len(mapping.issue_types)} issue types, {len(mapping.statuses)} statuses, {len(mapping.link_types)} "
        f"link types, {len(mapping.fields)} fields, Sprint {mapping.sprint_field} (never written); {detail}"
    )


# --- AWS -------------------------------------------------------------------------------------------


def check_aws(aws: AwsReads, customer, state: dict) -> list[tuple[str, Callable[[], str], str]]:
    """The read path the discovery needs, as (name, check, fix) in order; each uses the previous one's
    facts. The identity checks name the principal and the member role AWS really used."""

    def identity():
        try:
            who = aws.identity()
        except AwsError as exc:
            raise Failed(
                str(exc),
                f"check the {customer.aws_conn_id} connection's credentials/role "
                "(AWS_* values or role_arn in its extra)",
            ) from exc
        state["account"] = who.account_id
        return f"{customer.aws_conn_id}: {who.arn}" + (f" (assumed role {who.role})" if who.role else "")

    def list_accounts():
        if "account" not in state:
            raise Skipped("no AWS identity")
        try:
            accounts = aws.accounts()
        except AwsError as exc:
            raise Failed(
                str(exc),
                "run from the management or delegated-admin account with "
                "organizations:ListAccounts (deploy/iam/discovery-role.json)",
            ) from exc
        members = [a.account_id for a in accounts if a.account_id != state["account"] and a.status == "ACTIVE"]
        state["member"] = members[0] if members else None
        return f"{len(accounts)} accounts in the organisation"

    def assume():
        if not state.get("member"):
            raise Skipped("no member account to try")
        try:
            who = aws.identity(state["member"])
        except AwsError as exc:
            raise Failed(
                str(exc),
                f"create role {aws.member_role_name} in every member account trusting the discovery role "
                "(deploy/iam/member-read-role-trust.json), or name the member role in the connection extra "
                "(member_role_name) or the customer configuration",
            ) from exc
        state["member_ok"] = True
        return f"{state['member']} via role {who.role or aws.member_role_name} ({who.arn})"

    def describe():
        if not state.get("member_ok"):
            raise Skipped("no member role session")
        region = customer.regions[0]
        try:
            found = aws.instances(state["member"], region)
        except AwsError as exc:
            raise Failed(str(exc), "attach deploy/iam/member-read-role.json to the member role") from exc
        return f"{state['member']} {region}: DescribeInstances answered ({len(found)} instances)"

    def aggregator():
        if "account" not in state:
            raise Skipped("no AWS identity")
        query = "SELECT COUNT(*) WHERE resourceType = 'AWS::EC2::Instance'"
        try:
            rows = list(aws.select_aggregate(query, customer.aggregator_name))
        except AwsError as exc:
            raise Failed(
                f"aggregator {customer.aggregator_name!r}: {exc}",
                f"create a Config aggregator (organisation source, all regions) named {customer.aggregator_name!r} "
                "in the management or delegated-admin account, or fix customers[].aggregator_name",
            ) from exc
        count = next(iter(rows[0].values()), "?") if rows else 0
        return f"{customer.aggregator_name}: COUNT(*) EC2 instances = {count}"

    return [
        ("aws.identity", identity, ""),
        ("aws.organizations", list_accounts, ""),
        ("aws.assume-member", assume, ""),
        ("aws.member-describe", describe, ""),
        ("aws.config-aggregator", aggregator, ""),
    ]


# --- evidence and Airflow --------------------------------------------------------------------------


def check_evidence(store: Evidence, root: str) -> str:
    try:
        return store.probe()
    except Exception as exc:  # noqa: BLE001 - any storage failure is the finding
        raise Failed(
            f"{root}: {type(exc).__name__}: {exc}",
            "make runtime.evidence_root writable by the workers (s3:PutObject/GetObject/DeleteObject "
            "on the evidence bucket: deploy/iam/evidence-bucket-policy.json)",
        ) from exc


def check_audit(store, settings) -> str:
    """The audit log can be appended and verified: an HMAC key of usable length, an anchor store."""
    try:
        key = store.audit_secret()
        anchors = store.anchor_store()
    except Exception as exc:  # noqa: BLE001 - a missing key or anchor store is the finding
        raise Failed(
            str(exc),
            f"define the connection {settings.runtime.audit_conn_id} with a password of 32+ characters "
            "(openssl rand -hex 32) and runtime.audit_anchor_root outside the evidence root",
        ) from exc
    return f"HMAC key from {settings.runtime.audit_conn_id} ({len(key)} bytes); anchors at {anchors.root}"


def check_airflow() -> str:
    if not os.environ.get("ITSM_AIRFLOW_URL"):
        raise Skipped("ITSM_AIRFLOW_URL not set")
    try:
        api = airflow_api_from_env()
        version = api.get("/version")
        errors = api.get("/importErrors")
    except Exception as exc:  # noqa: BLE001
        raise Failed(
            f"{os.environ['ITSM_AIRFLOW_URL']}: {exc}",
            "check ITSM_AIRFLOW_URL/USER/PASSWORD and that the api-server is up",
        ) from exc
    if errors.get("total_entries"):
        files = [e.get("filename") for e in errors.get("import_errors", [])]
        raise Failed(
            f"{errors['total_entries']} DAG import error(s): {files}",
            "see the DAG processor log or `airflow dags list-import-errors`",
        )
    return f"Airflow {version.get('version')}: no DAG import errors"


# --- the whole run ---------------------------------------------------------------------------------


def run_doctor(config_path: str | None = None, *, given: dict | None = None) -> list[Check]:
    """Every check, in order; `given` ({customer id: {"jira", "aws", "evidence"}}) for tests."""
    from include.itsm.config import load_settings

    out: list[Check] = []
    holder: dict = {}

    def config():
        holder["settings"] = s = load_settings(config_path)
        return f"{len(s.customers)} customer(s): {', '.join(c.id for c in s.customers)}"

    if not _run(out, "config", config, fix="fix the named key in the configuration file (ITSM_CONFIG)"):
        return out
    settings = holder["settings"]
    for customer in settings.customers:
        _check_customer(out, settings, customer, (given or {}).get(customer.id, {}))
    _run(out, "airflow", check_airflow)
    return out


def _check_customer(out: list[Check], settings, customer, given: dict) -> None:
    """One customer's connection, mapping, AWS and evidence checks (appended to `out`); `given` adapters
    (tests) replace the connection-built ones."""
    cid = customer.id
    connections = Connections(settings, customer, execute=False, **given)

    def jira_conn():
        try:
            jira = connections.jira
        except Exception as exc:  # noqa: BLE001 - a missing or malformed connection is the finding
            raise Failed(
                f"connection {customer.jira_conn_id!r}: {exc}",
                f"define {customer.jira_conn_id} (AIRFLOW_CONN_{customer.jira_conn_id.upper()} or a "
                "secrets backend): host https://<site>.atlassian.net, login, API token",
            ) from exc
        return check_jira_connection(jira, customer.jira_conn_id)

    def jira_mapping():
        if out[-1].status != "OK":
            raise Skipped("Jira not reachable")
        return check_jira_mapping(connections.jira, customer)

    _run(out, "jira.connection", jira_conn, cid)
    _run(out, "jira.mapping", jira_mapping, cid)

    def aws_conn():
        try:
            aws = connections.aws
        except Exception as exc:  # noqa: BLE001 - a missing or malformed connection is the finding
            raise Failed(
                f"connection {customer.aws_conn_id!r}: {exc}",
                f"define {customer.aws_conn_id} (read-only role, deploy/iam/discovery-role.json)",
            ) from exc
        return f"{customer.aws_conn_id} (read-only allow-list guard on; member role {aws.member_role_name})"

    if _run(out, "aws.connection", aws_conn, cid):
        state: dict = {}
        for name, fn, fix in check_aws(connections.aws, customer, state):
            _run(out, name, fn, cid, fix)

    _run(out, "evidence", lambda: check_evidence(connections.evidence, settings.evidence_root(customer)), cid)
    _run(out, "audit", lambda: check_audit(connections.evidence, settings), cid)


def render(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        where = f"[{c.customer}] " if c.customer else ""
        lines.append(f"{c.status:<4} {c.name:<22} {where}{c.detail}")
        if c.status == "FAIL" and c.fix:
            lines.append(f"     fix: {c.fix}")
    failed = sum(c.status == "FAIL" for c in checks)
    lines.append(
        f"{len(checks)} checks: {len(checks) - failed - sum(c.status == 'SKIP' for c in checks)} OK, "
        f"{failed} FAIL, {sum(c.status == 'SKIP' for c in checks)} SKIP"
    )
    return "\n".join(lines)
