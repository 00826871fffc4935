"""`itsm approvers sync [--role Op] [--email-domain D] [--passwords FILE] [--json]`: the approvers of
the policy as users of Airflow's FAB auth manager, and the name -> id map the gates assign by.

Run it where the metadata database is reachable (the scheduler's image, a compose one-shot service,
a Helm job), after `airflow db migrate` and again whenever `policy.change.approvers` changes. A user
that exists is kept as it is (its password and roles are its owner's); a missing one is created
with `--role` and the password `--passwords` gives it (a JSON object user -> password), else a
random one nobody knows (set it with `airflow users reset-password`, or sign in through the
deployment's SSO). Under the simple auth manager ids are user names: nothing to sync.
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path

from include.itsm.commands.exit_codes import CommandError, ExitCode

FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("approvers", help="the policy's approvers as Airflow (FAB) users")
    sub = parser.add_subparsers(dest="approvers_command", required=True, metavar="ACTION")
    sync = sub.add_parser("sync", help="create missing approver users and store the ids the gates assign")
    sync.add_argument("--role", default="Op", help="FAB role of users created (default: Op)")
    sync.add_argument("--email-domain", default="example.invalid", help="e-mail domain of users created")
    sync.add_argument("--passwords", type=Path, help="JSON object user -> password for users created")
    sync.add_argument("--json", action="store_true", help="print the result as JSON")
    sync.set_defaults(func=_sync)


def _passwords(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        passwords = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(ExitCode.USAGE, f"--passwords {path}: not a readable JSON object ({exc})") from exc
    if not isinstance(passwords, dict) or not all(isinstance(v, str) for v in passwords.values()):
        raise CommandError(ExitCode.USAGE, f"--passwords {path}: must be a JSON object user -> password")
    return passwords


def _sync(args: argparse.Namespace) -> int:
    from airflow.configuration import conf

    from include.itsm.config import settings

    names = settings().policy.change.approvers.everyone()
    passwords = _passwords(args.passwords)
    if conf.get("core", "auth_manager") != FAB_AUTH_MANAGER:
        result = {"auth_manager": "simple", "created": [], "ids": {name: name for name in names}}
    else:
        result = _sync_fab(names, args.role, args.email_domain, passwords)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name in names:
            print(f"{name:<20} id {result['ids'][name]:<6} {'created' if name in result['created'] else 'exists'}")
        if result["auth_manager"] == "simple":
            print("simple auth manager: gates assign by user name; nothing stored")
    return ExitCode.OK


def _sync_fab(names: list[str], role_name: str, domain: str, passwords: dict[str, str]) -> dict:
    from airflow.models.variable import Variable
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    from include.itsm.airflow.approvers import APPROVER_IDS_VARIABLE

    created, ids = [], {}
    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        role = security.find_role(role_name)
        if role is None:
            known = sorted(r.name for r in security.get_all_roles())
            raise CommandError(ExitCode.USAGE, f"--role {role_name!r} is not a FAB role; one of {known}")
        for name in names:
            user = security.find_user(username=name)
            if user is None:
                password = passwords.get(name) or secrets.token_urlsafe(24)
                user = security.add_user(name, name, "approver", f"{name}@{domain}", role, password)
                if not user:
                    raise CommandError(ExitCode.FAILED, f"FAB refused to create the approver {name!r}")
                created.append(name)
            ids[name] = str(user.id)
    Variable.set(APPROVER_IDS_VARIABLE, ids, serialize_json=True, description="itsm approvers sync: name -> FAB id")
    return {"auth_manager": "fab", "created": created, "ids": ids}
