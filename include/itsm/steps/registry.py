"""Which service module runs each lifecycle step: one explicit table, so a reader (or a tool)
can follow `service("decide").run(...)` straight into `include/itsm/steps/decide/service.py`.

Imported by task callables and the CLI at run time, never by DAG files at parse time (each
service pulls in its step's domain and adapters).
"""

from __future__ import annotations

from typing import Protocol

from include.itsm.context import RunContext
from include.itsm.steps import GateBrief, GateDecision
from include.itsm.steps.classify import service as classify
from include.itsm.steps.cross_validate import service as cross_validate
from include.itsm.steps.decide import service as decide
from include.itsm.steps.discover import service as discover
from include.itsm.steps.govern import service as govern
from include.itsm.steps.implement import service as implement
from include.itsm.steps.intake import service as intake
from include.itsm.steps.operate import service as operate
from include.itsm.steps.pir import service as pir


class StepService(Protocol):
    """The contract of `include.itsm.steps` (run, then per gate brief and apply)."""

    def run(self, ctx: RunContext, key: str) -> dict: ...


class GatedStepService(StepService, Protocol):
    def brief(self, ctx: RunContext, key: str, gate: str) -> GateBrief: ...

    def apply(self, ctx: RunContext, key: str, gate: str, decisions: dict[str, GateDecision]) -> dict: ...


SERVICES = {
    "intake": intake,
    "discover": discover,
    "classify": classify,
    "cross-validate": cross_validate,
    "decide": decide,
    "implement": implement,
    "operate": operate,
    "govern": govern,
    "pir": pir,
}


def service(step: str) -> GatedStepService:
    """The service module of `step` (a lifecycle step name, e.g. "cross-validate")."""
    try:
        return SERVICES[step]
    except KeyError:
        raise ValueError(f"{step!r} is not a lifecycle step ({', '.join(SERVICES)})") from None
