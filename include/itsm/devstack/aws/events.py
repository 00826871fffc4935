"""The front's call log and the CloudTrail event store (moto has no LookupEvents)."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field

READ_PREFIXES = ("Describe", "List", "Get", "Select", "Search", "Lookup", "Head", "AssumeRole")
LOOKUP_MAX_RESULTS = 50  # CloudTrail's page size cap


class CallRecord(BaseModel):
    """One AWS call seen by the front (admin API `GET /_devstack/calls`)."""

    seq: int
    ts: datetime
    service: str
    operation: str
    account_id: str
    region: str
    status: int
    access_key_id: str | None = None
    role_arn: str | None = None  # the assumed role whose credentials signed the call (None: long-term keys)


class CallLog:
    """Every AWS call in arrival order; thread-safe because werkzeug serves threaded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CallRecord] = []
        self._seq = itertools.count(1)

    def add(self, **fields) -> None:
        with self._lock:
            self._records.append(CallRecord(seq=next(self._seq), ts=datetime.now(UTC), **fields))

    def all(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class TrailEvent(BaseModel):
    """A CloudTrail management event as LookupEvents returns it."""

    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    account_id: str
    region: str
    event_name: str
    event_source: str
    event_time: datetime
    username: str = "devstack"
    access_key_id: str | None = None
    resources: list[tuple[str, str]] = []  # (resource type, resource name)
    request_parameters: dict = {}
    error_code: str | None = None
    error_message: str | None = None

    def to_api(self) -> dict:
        detail = {
            "eventVersion": "1.09",
            "eventTime": self.event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": self.event_source,
            "eventName": self.event_name,
            "awsRegion": self.region,
            "recipientAccountId": self.account_id,
            "userIdentity": {"type": "AssumedRole", "accountId": self.account_id, "principalId": self.username},
            "requestParameters": self.request_parameters,
            "eventID": self.event_id,
            "readOnly": False,
            "eventType": "AwsApiCall",
        }
        if self.error_code:
            detail |= {"errorCode": self.error_code, "errorMessage": self.error_message}
        event = {
            "EventId": self.event_id,
            "EventName": self.event_name,
            "ReadOnly": "false",
            "EventTime": self.event_time.timestamp(),
            "EventSource": self.event_source,
            "Username": self.username,
            "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in self.resources],
            "CloudTrailEvent": json.dumps(detail),
        }
        if self.access_key_id:
            event["AccessKeyId"] = self.access_key_id
        return event


class TrailLookupError(ValueError):
    """A LookupEvents request AWS would reject (becomes InvalidLookupAttributesException etc.)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EventStore:
    """CloudTrail history per account and region: seeded events plus the writes the front saw."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[TrailEvent] = []

    def add(self, event: TrailEvent) -> None:
        with self._lock:
            self._events.append(event)

    def lookup(self, account_id: str, region: str, request: dict) -> dict:
        """LookupEvents: newest first, one LookupAttribute, MaxResults <= 50, NextToken paging."""
        attrs = request.get("LookupAttributes") or []
        if len(attrs) > 1:
            raise TrailLookupError("InvalidLookupAttributesException", "only one lookup attribute is allowed")
        limit = int(request.get("MaxResults") or LOOKUP_MAX_RESULTS)
        if not 1 <= limit <= LOOKUP_MAX_RESULTS:
            raise TrailLookupError("InvalidMaxResultsException", f"MaxResults must be 1..{LOOKUP_MAX_RESULTS}")
        start = _ts(request.get("StartTime"))
        end = _ts(request.get("EndTime"))
        if start and end and start > end:
            raise TrailLookupError("InvalidTimeRangeException", "StartTime is after EndTime")
        with self._lock:
            found = [e for e in self._events if e.account_id == account_id and e.region == region]
        found = [e for e in found if (not start or e.event_time >= start) and (not end or e.event_time <= end)]
        for attr in attrs:
            key, value = attr["AttributeKey"], attr["AttributeValue"]
            match = {
                "EventName": lambda e, value=value: e.event_name == value,
                "ResourceName": lambda e, value=value: any(n == value for _, n in e.resources),
                "ResourceType": lambda e, value=value: any(t == value for t, _ in e.resources),
                "EventSource": lambda e, value=value: e.event_source == value,
                "EventId": lambda e, value=value: e.event_id == value,
                "Username": lambda e, value=value: e.username == value,
                "AccessKeyId": lambda e, value=value: e.access_key_id == value,
                "ReadOnly": lambda e, value=value: value == "false",
            }.get(key)
            if match is None:
                raise TrailLookupError("InvalidLookupAttributesException", f"unknown AttributeKey {key}")
            found = [e for e in found if match(e)]
        found.sort(key=lambda e: (e.event_time, e.event_id), reverse=True)
        offset = _decode_token(request.get("NextToken"))
        page = found[offset : offset + limit]
        out: dict = {"Events": [e.to_api() for e in page]}
        if offset + limit < len(found):
            out["NextToken"] = base64.urlsafe_b64encode(f"ct:{offset + limit}".encode()).decode()
        return out


def _ts(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        prefix, offset = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if prefix == "ct":
            return int(offset)
    except ValueError:
        pass
    raise TrailLookupError("InvalidNextTokenException", "invalid NextToken")
