"""The exit codes of every `itsm` command: one table (README, "The `itsm` command"), one place.

Commands return an `ExitCode`, or raise; `itsm`'s entry point (`include/itsm/cli.py`) turns an
exception into its code with `exit_code_for` and prints one message on stderr, never a traceback
for a user error. Only an exception this table does not know (a bug) keeps its traceback.
"""

from __future__ import annotations

import re
from enum import IntEnum


class ExitCode(IntEnum):
    """`itsm`'s exit codes; each member's docstring says when it is used."""

    def __new__(cls, value: int, doc: str) -> ExitCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.__doc__ = doc
        return member

    OK = 0, "Done: every item succeeded (an audit chain verified intact, every line processed)."
    FAILED = (
        1,
        (
            "The command ran but some items failed: input lines with an `error`, a failed step or ticket, a broken "
            "audit chain, a failed doctor check. The output names each failed item."
        ),
    )
    USAGE = (
        2,
        (
            "Usage or input error, nothing was done: a bad argument or ticket key, a missing or unreadable input "
            "file, the same file as input and output, a step run before the one it needs, a name that does not exist."
        ),
    )
    CONFIG = (
        3,
        (
            "Configuration error: a bad or missing configuration file or key, an unknown customer, an undefined "
            "Airflow connection, no audit key."
        ),
    )
    UNAVAILABLE = (
        4,
        (
            "An outside system (Jira, AWS, Airflow, the evidence or anchor store) could not be reached or kept "
            "failing after the bounded retries. Safe to re-run later."
        ),
    )
    REFUSED = (
        5,
        (
            "Refused by policy or permission: HTTP 401/403, a change policy refusal, a conflict with the current "
            "state (HTTP 409), an audit chain that no longer matches its anchor (nothing appended)."
        ),
    )
    INTERRUPTED = 130, "Interrupted (Ctrl-C): nothing half-written is left in place of an earlier output."


class CommandError(Exception):
    """Raised by a command to stop with `code` and a message (printed as `itsm <command>: <message>`)."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


_HTTP_IN_TEXT = re.compile(r"\bHTTP (\d{3})\b")


def for_http_status(status: int) -> ExitCode:
    """The exit code of an outside system's HTTP answer (4xx/5xx)."""
    if status in (401, 403, 409):
        return ExitCode.REFUSED
    if status in (400, 404, 422):
        return ExitCode.USAGE
    return ExitCode.UNAVAILABLE


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an adapter error: its `status`, its cause's response, or `HTTP nnn` in its text."""
    seen: BaseException | None = exc
    while seen is not None:
        status = getattr(seen, "status", None) or getattr(getattr(seen, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
        seen = seen.__cause__
    found = _HTTP_IN_TEXT.search(str(exc))
    return int(found.group(1)) if found else None


DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
NO_CREDENTIALS = ("NoCredentialsError", "PartialCredentialsError")


def _aws(exc: BaseException) -> ExitCode:
    """An AWS failure: the adapters' AwsError, or a botocore error that escaped (the evidence store's S3)."""
    code = getattr(exc, "code", None) or (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")
    if type(exc).__name__ in NO_CREDENTIALS or code in NO_CREDENTIALS:
        return ExitCode.CONFIG
    return ExitCode.REFUSED if code in DENIED else ExitCode.UNAVAILABLE


def exit_code_for(exc: BaseException) -> ExitCode | None:
    """The code of an exception that ends a command; None for one that is a bug (keeps its traceback)."""
    if isinstance(exc, CommandError):
        return exc.code
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if not isinstance(exc, Exception):
        return None  # SystemExit and the like go their own way
    from include.itsm.adapters.evidence import AuditChainError
    from include.itsm.config import ConfigError
    from include.itsm.ports import AirflowError, AwsError, EvidenceError
    from include.itsm.steps.implement.domain import ChangeRefused

    if isinstance(exc, ConfigError):
        return ExitCode.CONFIG
    if isinstance(exc, AuditChainError | ChangeRefused):
        return ExitCode.REFUSED
    if isinstance(exc, EvidenceError):
        return ExitCode.USAGE
    module = type(exc).__module__
    if isinstance(exc, AwsError) or module.startswith("botocore"):
        return _aws(exc)
    if module.startswith("airflow") and type(exc).__name__ == "AirflowNotFoundException":
        return ExitCode.CONFIG  # an Airflow connection that is not defined
    if isinstance(exc, AirflowError) or module.startswith(
        ("include.itsm.adapters", "requests", "urllib3", "atlassian")
    ):
        status = _http_status(exc)
        return for_http_status(status) if status else ExitCode.UNAVAILABLE
    if isinstance(exc, PermissionError) and exc.errno is None:
        return ExitCode.REFUSED  # a policy refusal (apply without approval, separation of duties)
    if isinstance(exc, ConnectionError | TimeoutError):
        return ExitCode.UNAVAILABLE
    if isinstance(exc, OSError | ValueError):
        return ExitCode.USAGE  # a file that cannot be read, a value the command refuses
    return None
