"""The thin WSGI front before moto: call log, the read APIs moto lacks, everything else forwarded."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import parse_qs

from moto.backends import get_backend
from moto.iam.models import get_account_id_from, iam_backends
from moto.utilities.utils import PARTITION_NAMES
from pydantic import ValidationError

from include.itsm.devstack.aws import config_select
from include.itsm.devstack.aws.events import READ_PREFIXES, CallLog, EventStore, TrailEvent, TrailLookupError
from include.itsm.devstack.aws.faults import Fault, FaultSpec, FaultTable, error_response, wire_protocol

CONFIG_SELECT = "StarlingDoveService.SelectAggregateResourceConfig"
CLOUDTRAIL_LOOKUP = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
CE_GET_COST = "AWSInsightsIndexService.GetCostAndUsage"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")
_CBOR_PATH = re.compile(r"^/service/[^/]+/operation/(\w+)$")
_S3_SUBRESOURCES = ("versioning", "lifecycle", "tagging", "policy", "acl", "encryption", "location", "cors", "logging")


class Caller:
    """Who sent a request, derived from its SigV4 credential scope (header or presigned query)."""

    def __init__(self, environ: dict) -> None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        scope = environ.get("HTTP_AUTHORIZATION", "")
        m = _CREDENTIAL.search(scope)
        if m:
            self.access_key, self.region, self.service = m.groups()
        elif "X-Amz-Credential" in query:
            parts = query["X-Amz-Credential"][0].split("/")
            self.access_key, self.region, self.service = parts[0], parts[2], parts[3]
        else:
            self.access_key, self.region, self.service = None, "", "moto_api"
        self.account_id = get_account_id_from(self.access_key) if self.access_key else ""
        self.role_arn = _assumed_role_of(self.account_id, self.access_key) if self.access_key else None


def _assumed_role_of(account_id: str, access_key: str) -> str | None:
    """The role whose AssumeRole handed out `access_key` (None: a user's or the static keys): moto
    accepts any role, so this is how a test sees which role a call really ran as."""
    for partition in PARTITION_NAMES:
        key = iam_backends[account_id][partition].access_keys.get(access_key)
        if key is not None:
            return getattr(key, "role_arn", None)
    return None


def _operation(environ: dict, service: str, body: bytes) -> str:
    """The API operation name as far as the wire tells it (json target, cbor path, query Action, S3 REST)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
    if m := _CBOR_PATH.match(path):
        return m.group(1)
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if "Action" in query:
        return query["Action"][0]
    if body and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode(errors="replace")).get("Action")
        if action:
            return action[0]
    if service == "s3":
        return _s3_operation(method, path, query)
    return f"{method} {path}"


def _s3_operation(method: str, path: str, query: dict) -> str:
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head", "POST": "Post"}[method]
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "ListBuckets"
    if len(parts) == 1:
        for sub in _S3_SUBRESOURCES:
            if sub in query:
                return f"{verb}Bucket{sub.capitalize()}"
        return {"GET": "ListObjectsV2" if "list-type" in query else "ListObjects", "PUT": "CreateBucket"}.get(
            method, f"{verb}Bucket"
        )
    return f"{verb}Object"


def _is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


def _form(environ: dict, body: bytes) -> dict[str, list[str]]:
    """Query-protocol parameters: the query string plus a form-encoded body."""
    params = parse_qs(environ.get("QUERY_STRING", ""))
    if body and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        params |= parse_qs(body.decode(errors="replace"))
    return params


def _drain(environ: dict) -> None:
    """Read an unread request body (S3's) so a keep-alive connection stays in step."""
    stream, length = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        while stream.read(65536):
            pass


class AwsFront:
    """WSGI app in front of moto's DomainDispatcherApplication on the same endpoint."""

    def __init__(self, moto_app, *, ce_results: dict[str, dict] | None = None) -> None:
        self.moto_app = moto_app
        self.calls = CallLog()
        self.events = EventStore()
        self.faults = FaultTable()
        self._select_rows: dict[tuple, list[dict]] = {}  # first page's rows, read by its NextToken pages
        self._select_lock = threading.Lock()
        self.ready = False
        self.ce_results = ce_results or {}  # granularity -> result, handed to moto per request body

    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_devstack/"):
            return self._admin(environ, start_response)
        caller = Caller(environ)
        body = b""
        if caller.service not in ("s3", "moto_api"):  # S3 bodies may be streamed: leave them untouched
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
        operation = _operation(environ, caller.service, body)
        target = environ.get("HTTP_X_AMZ_TARGET")
        fault = self._take_fault(environ, caller, operation, body)
        if fault is not None:
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.code is not None:
                return self._answer_fault(environ, start_response, caller, operation, body, fault)
        status_box: list[int] = []

        def recording_start(status: str, headers, exc_info=None):
            status_box.append(int(status.split()[0]))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        if target in (CONFIG_SELECT, CLOUDTRAIL_LOOKUP):
            request = _json_request(body)
            if request is None:
                result = 400, {"__type": "SerializationException", "message": "The request body is not a JSON object"}
            elif target == CONFIG_SELECT:
                result = self._config_select(caller, request)
            else:
                result = self._lookup_events(caller, request)
        else:
            if target == CE_GET_COST:
                self._prime_cost_explorer(caller, body)
            chunks = self.moto_app(environ, recording_start)
            if caller.service != "moto_api" and not _is_read(operation):
                chunks = list(chunks)
                self._record_write(caller, operation, body, status_box[0], b"".join(chunks))
            self._log(caller, operation, status_box[0] if status_box else 500)
            return chunks
        status, payload = result
        self._log(caller, operation, status)
        return _json(recording_start, status, payload)

    def _take_fault(self, environ: dict, caller: Caller, operation: str, body: bytes) -> Fault | None:
        """The fault for this request, if any; AssumeRole also matches the account of the role it enters."""
        if caller.service == "moto_api":
            return None
        accounts = {caller.account_id}
        if caller.service == "sts" and operation == "AssumeRole":
            arn = _form(environ, body).get("RoleArn", [""])[0].split(":")
            if len(arn) > 4:
                accounts.add(arn[4])
        return self.faults.take(caller.service, operation, accounts, caller.region)

    def _answer_fault(
        self, environ: dict, start_response, caller: Caller, operation: str, body: bytes, fault: Fault
    ) -> list[bytes]:
        if caller.service == "s3":
            _drain(environ)
        protocol = wire_protocol(
            caller.service,
            json_target=bool(environ.get("HTTP_X_AMZ_TARGET")),
            cbor=bool(_CBOR_PATH.match(environ.get("PATH_INFO", ""))),
            query_action="Action" in _form(environ, body),
        )
        status, headers, payload = error_response(fault, protocol, head=environ["REQUEST_METHOD"] == "HEAD")
        if not _is_read(operation):
            self._record_write(caller, operation, body, fault.status, payload)
        self._log(caller, operation, fault.status)
        start_response(status, headers)
        return [payload]

    def _log(self, caller: Caller, operation: str, status: int) -> None:
        if caller.service == "moto_api":
            return
        self.calls.add(
            service=caller.service,
            operation=operation,
            account_id=caller.account_id,
            region=caller.region,
            status=status,
            access_key_id=caller.access_key,
            role_arn=caller.role_arn,
        )

    def _admin(self, environ: dict, start_response) -> Iterable[bytes]:
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if path == "/_devstack/health":
            return _json(start_response, 200 if self.ready else 503, {"ready": self.ready})
        if path == "/_devstack/calls" and method == "GET":
            return _json(start_response, 200, [c.model_dump(mode="json") for c in self.calls.all()])
        if path == "/_devstack/calls" and method == "DELETE":
            self.calls.clear()
            return _json(start_response, 204, None)
        if path == "/_devstack/faults" and method == "GET":
            return _json(start_response, 200, [f.model_dump(mode="json") for f in self.faults.all()])
        if path == "/_devstack/faults" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                spec = FaultSpec.model_validate_json(environ["wsgi.input"].read(length) if length else b"{}")
            except ValidationError as exc:
                return _json(start_response, 400, {"error": "invalid fault", "detail": json.loads(exc.json())})
            return _json(start_response, 201, self.faults.add(spec).model_dump(mode="json"))
        if path == "/_devstack/faults" and method == "DELETE":
            self.faults.clear()
            return _json(start_response, 204, None)
        return _json(start_response, 404, {"error": f"no admin endpoint {method} {path}"})

    def _config_select(self, caller: Caller, request: dict) -> tuple[int, dict]:
        config = get_backend("config")[caller.account_id][caller.region]
        name = request.get("ConfigurationAggregatorName")
        aggregator = config.config_aggregators.get(name) if isinstance(name, str) else None
        if aggregator is None:
            return 400, {
                "__type": "NoSuchConfigurationAggregatorException",
                "message": "The configuration aggregator does not exist",
            }
        accounts, regions = self._aggregator_scope(caller.account_id, aggregator)
        expression, token = request.get("Expression"), request.get("NextToken")
        try:
            if not isinstance(expression, str) or not expression.strip():
                raise config_select.SelectError("ValidationException", "Expression must be a non-empty string")
            config_select.check_limits(request.get("Limit"), request.get("MaxResults"))
            query = config_select.parse_query(expression)
            size = config_select.page_size(query, request.get("Limit"), request.get("MaxResults"))
            digest = config_select.token_digest(
                expression, f"{caller.account_id}/{aggregator.configuration_aggregator_name}"
            )
            offset = config_select.token_offset(token, digest)
            # Config pages one evaluation of the query; evaluating it again for every page made an
            # org-wide read of N rows cost O(N^2 / 100) here (bench/bench_discovery.py: 74 s for 10,000).
            key = (digest, tuple(accounts), frozenset(regions) if regions is not None else None)
            with self._select_lock:
                rows = self._select_rows.get(key) if token else None
            if rows is None:
                rows = config_select.run_query(query, accounts, regions)
                with self._select_lock:
                    if len(self._select_rows) >= 16:
                        self._select_rows.pop(next(iter(self._select_rows)))
                    self._select_rows[key] = rows
            return 200, config_select.page(query, rows, size, offset, digest)
        except config_select.SelectError as exc:
            return 400, {"__type": exc.code, "message": str(exc)}

    @staticmethod
    def _aggregator_scope(account_id: str, aggregator) -> tuple[list[str], set[str] | None]:
        """An org aggregator sees the organisation's accounts (management included); else its listed ones."""
        source = aggregator.organization_aggregation_source
        if source:
            orgs = get_backend("organizations")[account_id]["global"]
            if orgs.org is None:
                return [], set()
            accounts = list(dict.fromkeys([orgs.org.master_account_id, *(a.id for a in orgs.accounts)]))
            regions = None if source.all_aws_regions else set(source.aws_regions or [])
            return accounts, regions
        accounts, regions = [], set()
        for src in aggregator.account_aggregation_sources or []:
            accounts += src.account_ids
            if src.all_aws_regions:
                regions = None
            elif regions is not None:
                regions |= set(src.aws_regions or [])
        return accounts, regions

    def _lookup_events(self, caller: Caller, request: dict) -> tuple[int, dict]:
        try:
            return 200, self.events.lookup(caller.account_id, caller.region, request)
        except TrailLookupError as exc:
            return 400, {"__type": exc.code, "message": str(exc)}

    def _prime_cost_explorer(self, caller: Caller, body: bytes) -> None:
        """Moto hands queued CE results out by arrival order; answer by granularity instead."""
        result = self.ce_results.get(json.loads(body or b"{}").get("Granularity", "MONTHLY"))
        if result is not None:
            get_backend("ce")[caller.account_id]["global"].cost_usage_results.setdefault(body.decode(), result)

    def _record_write(self, caller: Caller, operation: str, body: bytes, status: int, response: bytes) -> None:
        params = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()} if body else {}
        if body and body.lstrip().startswith(b"{"):
            params = json.loads(body)
        resources = [
            ("AWS::EC2::Instance", v)
            for k, v in params.items()
            if isinstance(v, str) and re.fullmatch(r"InstanceId(\.\d+)?", k)
        ]
        error_code = error_message = None
        if status >= 400:
            text = response.decode(errors="replace")
            code = re.search(r"<Code>([^<]+)</Code>|\"__type\"\s*:\s*\"(?:[^#\"]*#)?([^\"]+)\"", text)
            message = re.search(r"<Message>([^<]*)</Message>|\"[mM]essage\"\s*:\s*\"([^\"]*)\"", text)
            error_code = (code.group(1) or code.group(2)) if code else str(status)
            error_message = (message.group(1) or message.group(2)) if message else ""
        self.events.add(
            TrailEvent(
                account_id=caller.account_id,
                region=caller.region,
                event_name=operation,
                event_source=f"{caller.service}.amazonaws.com",
                event_time=datetime.now(UTC),
                access_key_id=caller.access_key,
                resources=resources,
                request_parameters={k: v for k, v in params.items() if k not in ("Action", "Version")},
                error_code=error_code,
                error_message=error_message,
            )
        )


def _json_request(body: bytes) -> dict | None:
    """An AWS JSON-protocol request body as a dict (empty body: {}), or None when it is not a JSON object."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:  # not UTF-8, or not JSON
        return None
    return request if isinstance(request, dict) else None


def _json(start_response, status: int, payload) -> list[bytes]:
    reason = HTTPStatus(status).phrase
    data = b"" if payload is None else json.dumps(payload).encode()
    start_response(
        f"{status} {reason}", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))]
    )
    return [data]
