"""Approvers as the active auth manager knows them.

Airflow lets a user answer a Human-in-the-loop task when the auth manager's id of that user is among
the task's `assigned_users`. The simple auth manager's id is the user name; FAB's is its numeric user
id. The policy names people (`policy.change.approvers`), so `itsm approvers sync` (run where the
metadata database is reachable) creates the FAB users the policy names and stores name -> id in the
Variable `itsm_approver_ids`; an approval task reads it when it opens (never at DAG parse time). With
no such Variable (the simple auth manager, the demo) the ids are the names.
"""

from __future__ import annotations

from airflow.providers.standard.operators.hitl import ApprovalOperator

APPROVER_IDS_VARIABLE = "itsm_approver_ids"


def approver_ids() -> dict[str, str]:
    """User name -> auth manager id, as the last `itsm approvers sync` stored it (empty: ids are names)."""
    from airflow.sdk import Variable

    return Variable.get(APPROVER_IDS_VARIABLE, default=None, deserialize_json=True) or {}


def assigned(names: list[str], ids: dict[str, str]) -> list[dict[str, str]]:
    return [{"id": ids.get(name, name), "name": name} for name in names]


def responder_name(user: dict) -> str | None:
    """Who answered, by the name the policy uses: FAB's id is a number, its name the user name."""
    return user.get("name") or user.get("id")


class AssignedApproval(ApprovalOperator):
    """An ApprovalOperator assigned to the policy's people by name, resolved to ids when it opens."""

    def __init__(self, *, approvers: list[str], **kwargs) -> None:
        super().__init__(assigned_users=assigned(approvers, {}) or None, **kwargs)
        self.approver_names = list(approvers)

    def execute(self, context):
        if self.approver_names:
            self.assigned_users = assigned(self.approver_names, approver_ids())
        return super().execute(context)
