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
import uuid
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

Status = Literal["OK", "FAIL", "SKIP"]


class Check(BaseModel):
    name: str
    status: Status
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
        out.append(Check(name=name, status="FAIL", detail=f"{type(exc).__name__}: {exc}"[:500], fix=fix,
                         customer=customer))
    return False


# --- Jira ------------------------------------------------------------------------------------------

def _jira_get(jira, path: str):
    import requests

    response = jira.client.session.get(f"{jira.client.url.rstrip('/')}/rest/api/3/{path}", timeout=30)
    if response.status_code in (401, 403):
        raise Failed(f"GET /rest/api/3/{path}: HTTP {response.status_code} (credentials refused)",
                     "set the Jira connection's login to the bot's e-mail and its password to a current API token "
                     "(id.atlassian.com > Security > API tokens)")
    try:
        response.raise_for_status()
    except requests.HTTPError as exc:
        raise Failed(f"GET /rest/api/3/{path}: {exc}") from exc
    return response.json()


def check_jira_connection(jira, conn_id: str) -> str:
    info = _jira_get(jira, "serverInfo")
    me = _jira_get(jira, "myself")
    if info.get("deploymentType") != "Cloud":
        raise Failed(f"{info.get('baseUrl')} is Jira {info.get('deploymentType')} {info.get('version')}",
                     "point the connection at a Jira Cloud site (REST API v3 with /search/jql)")
    return f"{conn_id}: {info.get('baseUrl')} Jira Cloud {info.get('version')}, REST v3, as {me.get('emailAddress') or me.get('displayName')}"


def check_jira_mapping(jira, customer) -> str:
    """Every configured name against the site's metadata; all missing names in one message."""
    mapping = customer.jira
    problems: list[str] = []
    types = {t["name"] for t in _jira_get(jira, "issuetype")}
    statuses = {s["name"] for s in _jira_get(jira, "status")}
    links = {t["name"] for t in _jira_get(jira, "issueLinkType").get("issueLinkTypes", [])}
    fields = {f["id"]: f for f in _jira_get(jira, "field")}
    problems += [f"issue type {name!r} (jira.issue_types.{role}) not on the site; it has {sorted(types)}"
                 for role, name in mapping.issue_types.items() if name not in types]
    problems += [f"status {name!r} (jira.statuses.{role}) not on the site; it has {sorted(statuses)}"
                 for role, name in mapping.statuses.items() if name not in statuses]
    problems += [f"status {name!r} (jira.transitions_to) not on the site" for name in mapping.transitions_to
                 if name not in statuses]
    problems += [f"link type {name!r} (jira.link_types.{role}) not on the site; it has {sorted(links)}"
                 for role, name in mapping.link_types.items() if name not in links]
    problems += [f"field {fid!r} (jira.fields.{role}) not on the site (see GET /rest/api/3/field)"
                 for role, fid in mapping.fields.items() if fid not in fields]
    sprint = fields.get(mapping.sprint_field)
    if sprint is None or "gh-sprint" not in str((sprint.get("schema") or {}).get("custom", "")):
        problems.append(f"jira.sprint_field {mapping.sprint_field!r} is not the site's Sprint field "
                        f"(Sprint is {[f['id'] for f in fields.values() if f.get('name') == 'Sprint']})")
    sample = next(jira.search(f'project = "{customer.jira_project}" ORDER BY created DESC', page_size=1,
                              fields=("status",)), None)
    detail = "no sample issue in the project"
    if sample is not None:
        transitions = _jira_get(jira, f"issue/{sample.key}/transitions").get("transitions", [])
        targets = sorted({t["to"]["name"] for t in transitions})
        unknown = [t for t in targets if t not in statuses]
        if unknown:
            problems.append(f"{sample.key} transitions to statuses the site does not list: {unknown}")
        detail = f"sample {sample.key} ({sample.status}) can move to {targets}"
    if problems:
        raise Failed("; ".join(problems), f"fix customers[{customer.id}].jira in the configuration to the site's names "
                                          "(or create them in Jira: Settings > Issues)")
    return (f"{len(mapping.issue_types)} issue types, {len(mapping.statuses)} statuses, {len(mapping.link_types)} "
            f"link types, {len(mapping.fields)} fields, Sprint {mapping.sprint_field} (never written); {detail}")


# --- AWS -------------------------------------------------------------------------------------------

def _aws_error(exc) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{exc.operation_name}: {err.get('Code')}: {err.get('Message')}"
    return f"{type(exc).__name__}: {exc}"


def check_aws(aws, customer, state: dict) -> list[tuple[str, Callable[[], str], str]]:
    """The read path the discovery needs, as (name, check, fix) in order; each uses the previous one's facts."""
    def identity():
        try:
            who = aws.client("sts").get_caller_identity()
        except Exception as exc:  # noqa: BLE001
            raise Failed(_aws_error(exc), f"check the {customer.aws_conn_id} connection's credentials/role "
                                          "(AWS_* values or role_arn in its extra)") from exc
        state["account"] = who["Account"]
        return f"{customer.aws_conn_id}: {who['Arn']}"

    def list_accounts():
        if "account" not in state:
            raise Skipped("no AWS identity")
        try:
            page = aws.client("organizations").list_accounts(MaxResults=20)
        except Exception as exc:  # noqa: BLE001
            raise Failed(_aws_error(exc), "run from the management or delegated-admin account with "
                                          "organizations:ListAccounts (deploy/iam/discovery-role.json)") from exc
        members = [a["Id"] for a in page["Accounts"] if a["Id"] != state["account"] and a.get("Status") == "ACTIVE"]
        state["member"] = members[0] if members else None
        return f"{len(page['Accounts'])}{'+' if page.get('NextToken') else ''} accounts in the organisation"

    def assume():
        if not state.get("member"):
            raise Skipped("no member account to try")
        try:
            state["member_access"] = aws.assume_member(state["member"], session_name="itsm-doctor")
        except Exception as exc:  # noqa: BLE001
            raise Failed(_aws_error(exc), f"create role {customer.member_role_name} in every member account trusting "
                                          "the discovery role (deploy/iam/member-read-role-trust.json)") from exc
        return f"{state['member']} via role {customer.member_role_name}"

    def describe():
        if "member_access" not in state:
            raise Skipped("no member role session")
        region = customer.regions[0]
        try:
            page = state["member_access"].client("ec2", region).describe_instances(MaxResults=5)
        except Exception as exc:  # noqa: BLE001
            raise Failed(_aws_error(exc), "attach deploy/iam/member-read-role.json to the member role") from exc
        return f"{state['member']} {region}: DescribeInstances answered ({len(page['Reservations'])} reservations in the first page)"

    def aggregator():
        if "account" not in state:
            raise Skipped("no AWS identity")
        query = "SELECT COUNT(*) WHERE resourceType = 'AWS::EC2::Instance'"
        try:
            rows = list(aws.select_aggregate(query, customer.aggregator_name))
        except Exception as exc:  # noqa: BLE001
            raise Failed(f"aggregator {customer.aggregator_name!r}: {_aws_error(exc)}",
                         f"create a Config aggregator (organisation source, all regions) named {customer.aggregator_name!r} "
                         "in the management or delegated-admin account, or fix customers[].aggregator_name") from exc
        count = next(iter(rows[0].values()), "?") if rows else 0
        return f"{customer.aggregator_name}: COUNT(*) EC2 instances = {count}"

    return [("aws.identity", identity, ""), ("aws.organizations", list_accounts, ""),
            ("aws.assume-member", assume, ""), ("aws.member-describe", describe, ""),
            ("aws.config-aggregator", aggregator, "")]


# --- evidence and Airflow --------------------------------------------------------------------------

def check_evidence(store) -> str:
    probe = store.root / f".itsm-doctor-probe-{uuid.uuid4().hex}"
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        probe.write_text("probe")
        if probe.read_text() != "probe":
            raise Failed(f"{probe}: read back something else")
        probe.unlink()
    except Failed:
        raise
    except Exception as exc:  # noqa: BLE001
        raise Failed(f"{store.root}: {type(exc).__name__}: {exc}",
                     "make runtime.evidence_root writable by the workers (s3:PutObject/GetObject/DeleteObject "
                     "on the evidence bucket: deploy/iam/evidence-bucket-policy.json)") from exc
    return f"{store.root}: write, read, delete of a probe object"


def check_airflow() -> str:
    if not os.environ.get("ITSM_AIRFLOW_URL"):
        raise Skipped("ITSM_AIRFLOW_URL not set")
    from include.itsm.adapters.airflow_api import AirflowApi

    try:
        api = AirflowApi.from_env()
        version = api.get("/api/v2/version")
        errors = api.get("/api/v2/importErrors")
    except Exception as exc:  # noqa: BLE001
        raise Failed(f"{os.environ['ITSM_AIRFLOW_URL']}: {exc}",
                     "check ITSM_AIRFLOW_URL/USER/PASSWORD and that the api-server is up") from exc
    if errors.get("total_entries"):
        files = [e.get("filename") for e in errors.get("import_errors", [])]
        raise Failed(f"{errors['total_entries']} DAG import error(s): {files}",
                     "see the DAG processor log or `airflow dags list-import-errors`")
    return f"Airflow {version.get('version')}: no DAG import errors"


# --- the whole run ---------------------------------------------------------------------------------

def run_doctor(config_path: str | None = None, *, injected: dict | None = None) -> list[Check]:
    """Every check, in order; `injected` ({customer id: {"jira", "aws", "evidence"}}) for tests."""
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
        given = (injected or {}).get(customer.id, {})
        cid = customer.id
        jira_holder: dict = {}

        def jira_conn():
            from include.itsm.adapters.jira import JiraAdapter

            try:
                jira_holder["jira"] = given.get("jira") or JiraAdapter.from_connection(
                    customer.jira_conn_id, execute=False, max_retries=1, max_backoff_seconds=5)
            except Exception as exc:  # noqa: BLE001
                raise Failed(f"connection {customer.jira_conn_id!r}: {exc}",
                             f"define {customer.jira_conn_id} (AIRFLOW_CONN_{customer.jira_conn_id.upper()} or a "
                             "secrets backend): host https://<site>.atlassian.net, login, API token") from exc
            return check_jira_connection(jira_holder["jira"], customer.jira_conn_id)

        def jira_mapping():
            if "jira" not in jira_holder or out[-1].status != "OK":
                raise Skipped("Jira not reachable")
            return check_jira_mapping(jira_holder["jira"], customer)

        _run(out, "jira.connection", jira_conn, cid)
        _run(out, "jira.mapping", jira_mapping, cid)

        aws_holder: dict = {}

        def aws_conn():
            from include.itsm.adapters.aws import AwsAccess, AwsSettings

            if given.get("aws") is not None:
                aws_holder["aws"] = given["aws"]
            else:
                try:
                    conn = AwsSettings.from_connection(customer.aws_conn_id)
                except Exception as exc:  # noqa: BLE001
                    raise Failed(f"connection {customer.aws_conn_id!r}: {exc}",
                                 f"define {customer.aws_conn_id} (read-only role, deploy/iam/discovery-role.json)") from exc
                aws_holder["aws"] = AwsAccess(conn.model_copy(update={"member_role_name": customer.member_role_name}))
            return f"{customer.aws_conn_id} (read-only guard on)"

        if _run(out, "aws.connection", aws_conn, cid):
            state: dict = {}
            for name, fn, fix in check_aws(aws_holder["aws"], customer, state):
                _run(out, name, fn, cid, fix)

        def evidence():
            from include.itsm.adapters.evidence import EvidenceStore

            store = given.get("evidence") or EvidenceStore(settings.evidence_root(customer),
                                                           object_lock=settings.runtime.object_lock,
                                                           conn_id=settings.runtime.evidence_conn_id)
            return check_evidence(store)

        _run(out, "evidence", evidence, cid)
    _run(out, "airflow", check_airflow)
    return out


def render(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        where = f"[{c.customer}] " if c.customer else ""
        lines.append(f"{c.status:<4} {c.name:<22} {where}{c.detail}")
        if c.status == "FAIL" and c.fix:
            lines.append(f"     fix: {c.fix}")
    failed = sum(c.status == "FAIL" for c in checks)
    lines.append(f"{len(checks)} checks: {len(checks) - failed - sum(c.status == 'SKIP' for c in checks)} OK, "
                 f"{failed} FAIL, {sum(c.status == 'SKIP' for c in checks)} SKIP")
    return "\n".join(lines)
