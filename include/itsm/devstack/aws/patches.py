"""In-process patches for what moto's API cannot set: fixed member account ids, backdated launches.

Installed only in the devstack server process (never in the product).
"""

from __future__ import annotations

import threading
from datetime import datetime

from moto.backends import get_backend
from moto.organizations import utils as org_utils
from moto.organizations.models import OrganizationsBackend

from include.itsm.devstack.demo import org

_pending = threading.local()  # the id create_account is about to assign, per request thread
_installed = False


def install_account_ids() -> None:
    """`organizations:CreateAccount` gives org.py's accounts their fixed ids (matched by name)."""
    global _installed
    if _installed:
        return
    ids_by_name = {a.name: a.account_id for a in org.ACCOUNTS}
    random_id = org_utils.make_random_account_id
    create_account = OrganizationsBackend.create_account

    def make_account_id() -> str:
        fixed = getattr(_pending, "account_id", None)
        _pending.account_id = None
        return fixed or random_id()

    def create_named_account(self, **kwargs):
        _pending.account_id = ids_by_name.get(kwargs.get("AccountName"))
        try:
            return create_account(self, **kwargs)
        finally:
            _pending.account_id = None

    org_utils.make_random_account_id = make_account_id
    OrganizationsBackend.create_account = create_named_account
    _installed = True


def set_launch_time(account_id: str, region: str, instance_id: str, when: datetime) -> None:
    """Backdate an instance: moto stamps `utcnow()` and no API can change it."""
    get_backend("ec2")[account_id][region].get_instance(instance_id).launch_time = when


def set_role_last_used(account_id: str, role_name: str, when: datetime, region: str) -> None:
    """RoleLastUsed of a role nobody assumed in this process (moto records only live use)."""
    role = get_backend("iam")[account_id]["global"].get_role(role_name)
    role.last_used, role.last_used_region = when, region
