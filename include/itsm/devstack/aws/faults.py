"""Fault injection for the local AWS front (admin API `/_devstack/faults`).

A fault matches the next AWS requests by the caller's service (SigV4 signing name, as in the
call log), operation, account and region, and makes the front answer them with an AWS-shaped
error in the wire protocol the request used, so botocore raises a proper ClientError (and
retries throttling / 5xx codes in its standard mode). `delay_s` sleeps before the answer;
a fault with `delay_s` and no `code` slows the real answer down instead.
"""

from __future__ import annotations

import itertools
import json
import struct
import threading
import uuid
from functools import cache
from http import HTTPStatus
from xml.sax.saxutils import escape

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Service names people write that differ from the signing name the front derives from SigV4.
SIGNING_NAMES = {
    "cloudwatch": "monitoring",
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "ses": "email",
    "sesv2": "email",
}
MAX_DELAY_S = 300


class FaultSpec(BaseModel):
    """What to match (None = any) and how to answer (`POST /_devstack/faults` body)."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = None
    operation: str | None = None
    account_id: str | None = None
    region: str | None = None
    code: str | None = None  # None: no error, only `delay_s` before the real answer
    status: int = Field(default=400, ge=400, le=599)
    message: str | None = None
    count: int | None = Field(default=None, ge=1)  # None: until cleared
    delay_s: float = Field(default=0, ge=0, le=MAX_DELAY_S)

    @model_validator(mode="after")
    def _does_something(self) -> FaultSpec:
        if self.code is None and not self.delay_s:
            raise ValueError("a fault needs a code, a delay_s, or both")
        return self


class Fault(FaultSpec):
    """A stored fault: its id, the requests it may still answer (None = unlimited) and its hits so far."""

    id: str
    remaining: int | None = None
    hits: int = 0

    def matches(self, service: str, operation: str, account_ids: set[str], region: str) -> bool:
        wanted = SIGNING_NAMES.get(self.service, self.service) if self.service else None
        return (
            (wanted is None or wanted == service)
            and (self.operation is None or self.operation == operation)
            and (self.account_id is None or self.account_id in account_ids)
            and (self.region is None or self.region == region)
        )


class FaultTable:
    """Active faults in the order they were added; thread-safe (werkzeug serves threaded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(**spec.model_dump(), id=f"fault-{next(self._ids)}", remaining=spec.count)
            self._faults.append(fault)
            return fault.model_copy()

    def all(self) -> list[Fault]:
        with self._lock:
            return [f.model_copy() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, service: str, operation: str, account_ids: set[str], region: str) -> Fault | None:
        """The first fault matching this request, consumed once (dropped when its count runs out)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, operation, account_ids, region):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault.model_copy()
        return None


@cache
def _model_protocol(signing_name: str) -> str | None:
    """The botocore protocol of a service whose name is its signing name (REST services only need it)."""
    import botocore.session

    try:
        return botocore.session.get_session().get_service_model(signing_name).protocol
    except Exception:  # unknown to botocore under that name
        return None


def wire_protocol(service: str, *, json_target: bool, cbor: bool, query_action: bool) -> str:
    """Which error shape the client expects: s3, json, cbor, ec2, query (XML ErrorResponse)."""
    if service == "s3":
        return "s3"
    if json_target:
        return "json"
    if cbor:
        return "cbor"
    if service == "ec2":
        return "ec2"
    if query_action:
        return "query"
    return "query" if _model_protocol(service) == "rest-xml" else "json"


def error_response(fault: Fault, protocol: str, *, head: bool = False) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of the AWS error for `fault` in `protocol`."""
    request_id = str(uuid.uuid4())
    code = fault.code or "InternalError"
    message = fault.message if fault.message is not None else f"Injected fault {fault.id}: {code}"
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "json":
        headers += [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)]
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "cbor":
        sender = "Sender" if fault.status < 500 else "Receiver"
        headers += [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("x-amzn-query-error", f"{code};{sender}"),
        ]
        body = _cbor_map({"__type": code, "message": message})
    else:
        code_x, message_x = escape(code), escape(message)
        if protocol == "ec2":
            xml = (
                f"<Response><Errors><Error><Code>{code_x}</Code><Message>{message_x}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>"
            )
        elif protocol == "s3":
            headers.append(("x-amz-request-id", request_id))
            xml = (
                f"<Error><Code>{code_x}</Code><Message>{message_x}</Message><RequestId>{request_id}</RequestId></Error>"
            )
        else:
            sender = "Sender" if fault.status < 500 else "Receiver"
            xml = (
                f"<ErrorResponse><Error><Type>{sender}</Type><Code>{code_x}</Code><Message>{message_x}</Message>"
                f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        headers.append(("Content-Type", "text/xml"))
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml.encode()
    if head:  # HEAD answers carry no body (botocore then uses the status as the code)
        body = b""
    headers.append(("Content-Length", str(len(body))))
    return f"{fault.status} {_reason(fault.status)}", headers, body


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I")):
        if length < 256 ** struct.calcsize(fmt):
            return bytes([major << 5 | extra]) + struct.pack(fmt, length)
    raise ValueError("too long for CBOR here")


def _cbor_map(items: dict[str, str]) -> bytes:
    """A CBOR map of text to text: all an rpc-v2-cbor error body needs."""
    out = _cbor_head(5, len(items))
    for key, value in items.items():
        for text in (key, value):
            data = text.encode()
            out += _cbor_head(3, len(data)) + data
    return out
