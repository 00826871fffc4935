"""The closed vocabularies every layer speaks, as StrEnums (members compare equal to their strings, so
artifacts written before stay readable and JSON carries the plain values).

The ticket vocabularies are the seed's (docs/architecture.md, "Interfaces that must stay stable"):
exactly these values, bare, in triage output, artifacts and labels.
"""

from __future__ import annotations

from enum import StrEnum


class Service(StrEnum):
    COMPUTE = "compute"
    STORAGE = "storage"
    NETWORK = "network"
    IDENTITY = "identity"
    DATABASE = "database"


class Environment(StrEnum):
    PROD = "prod"
    STAGING = "staging"
    DEV = "dev"
    DR = "dr"


class Tier(StrEnum):
    """The business impact tier (never tier-1/2/3)."""

    CRITICAL = "critical"
    IMPORTANT = "important"
    BEST_EFFORT = "best-effort"


class TicketType(StrEnum):
    INCIDENT = "incident"
    PROBLEM = "problem"
    CHANGE = "change"
    SERVICE_REQUEST = "service_request"


class ChangeType(StrEnum):
    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


class Level(StrEnum):
    """Impact and urgency."""

    HIGH = "high"
    LOW = "low"


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Rca(StrEnum):
    CODE_DEFECT = "code-defect"
    CONFIG_DRIFT = "config-drift"
    INFRA_FAILURE = "infra-failure"
    HUMAN_ERROR = "human-error"
    THIRD_PARTY = "3rd-party"


class Mode(StrEnum):
    """A run previews (computes, writes evidence, sends nothing) or executes (writes after its gates)."""

    PREVIEW = "preview"
    EXECUTE = "execute"


class GateOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMEOUT = "timeout"


class Verdict(StrEnum):
    """Cross-validation: the sources agree, disagree beyond tolerance, or could not be judged."""

    PASS = "pass"
    FAIL = "fail"
    REFUSED = "refused"


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class Compliance(StrEnum):
    """AWS Config rule compliance types."""

    COMPLIANT = "COMPLIANT"
    NON_COMPLIANT = "NON_COMPLIANT"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class ScopeBasis(StrEnum):
    """What a ticket's discovery scope was derived from."""

    RESOURCES = "resources"
    ACCOUNTS = "accounts"
    ORGANISATION = "organisation"
    NONE = "none"


class StoryState(StrEnum):
    DRAFTED = "drafted"
    CREATED = "created"
    ON_BOARD = "on board"


class ReviewState(StrEnum):
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"


class CheckStatus(StrEnum):
    OK = "OK"
    FAIL = "FAIL"
    SKIP = "SKIP"
