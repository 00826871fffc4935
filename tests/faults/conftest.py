"""Fault-suite fixtures: a private board with a small open batch, contexts wired to it, a TCP proxy
that can make a service vanish mid-run, and full board snapshots for idempotency checks."""

from __future__ import annotations

import itertools
import socket
import threading
from pathlib import Path

import pytest
import yaml

from include.itsm.adapters.aws import AwsAccess, AwsSettings
from include.itsm.adapters.aws_reads import AwsReads
from include.itsm.adapters.evidence import EvidenceStore
from include.itsm.adapters.jira import JiraAdapter
from include.itsm.config import Settings
from include.itsm.context import RunContext
from include.itsm.core import adf
from include.itsm.devstack.demo import org
from include.itsm.wiring import run_context

REPO_ROOT = Path(__file__).resolve().parents[2]
_runs = itertools.count(1)


class TcpProxy:
    """A localhost TCP forwarder: `stop()` makes the target vanish (connection refused), `start()` brings it back
    on the same port."""

    def __init__(self, target_url: str) -> None:
        host_port = target_url.split("://", 1)[1].rstrip("/")
        host, port = host_port.rsplit(":", 1)
        self.target = (host, int(port))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self._listener:
            self._listener.close()
            self._listener = None
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass
        self._conns.clear()


def fault_settings(directory: Path, aggregator: str = org.AGGREGATOR_NAME) -> Settings:
    """config/itsm.yaml (real policy) with a private evidence root and manifest, and `aggregator`."""
    config = yaml.safe_load((REPO_ROOT / "config" / "itsm.yaml").read_text())
    config["runtime"].update(
        {
            "evidence_root": f"file://{directory / 'evidence'}",
            "audit_anchor_root": f"file://{directory / 'audit-anchors'}",
            "manifest_path": str(directory / "manifest.json"),
            "sweep_batch_size": 3,
        }
    )
    for customer in config["customers"]:
        customer["aggregator_name"] = aggregator
    return Settings.model_validate(config)


def jira_adapter(url: str, board, *, execute: bool, timeout: float = 5, **kwargs) -> JiraAdapter:
    """Fast backoff (tests), the product's bounded retry policy otherwise."""
    options = {"max_retries": 2, "backoff_factor": 0.05, "max_backoff_seconds": 5} | kwargs
    return JiraAdapter.from_credentials(url, board.user, board.token, execute=execute, timeout=timeout, **options)


def aws_access(endpoint_url: str, local_aws, access_key: str = "testing") -> AwsAccess:
    return AwsAccess(
        AwsSettings(
            region_name=local_aws.region,
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=local_aws.secret_access_key,
        )
    )


def make_ctx(
    settings: Settings, *, jira: JiraAdapter, aws: AwsAccess, execute: bool = False, actor: str = "user:sre-engineer"
) -> RunContext:
    return run_context(
        settings,
        f"fault-run-{next(_runs):03d}",
        execute=execute,
        actor=actor,
        jira=jira,
        aws=AwsReads(aws),
        evidence=EvidenceStore.from_settings(settings),
    )


TICKET_TEXTS = [
    ("Stop idle EC2 instances overnight in {a}", "Please schedule the EC2 instances in account {a} to stop at night."),
    ("CPU high on web servers in {a}", "Alarm fired for EC2 instances in {a}; investigate."),
    ("Request: list S3 buckets in {a}", "We need the S3 buckets of account {a} reviewed for lifecycle rules."),
]


def seed_batch(store, count: int, project: str = "OPS") -> list[str]:
    """`count` open tickets naming demo accounts (so discovery has real scope)."""
    keys = []
    accounts = [a for a in org.ACCOUNTS if a.instances][:count] or org.ACCOUNTS
    for i in range(count):
        account = accounts[i % len(accounts)]
        summary, body = TICKET_TEXTS[i % len(TICKET_TEXTS)]
        keys.append(
            store.seed_issue(
                project=project,
                issue_type="Service Request",
                summary=summary.format(a=account.account_id),
                description_adf=adf.from_text(body.format(a=account.account_id)),
            )
        )
    return keys


@pytest.fixture
def private_board(tmp_path):
    """A board of this test's own (fault tests change what it answers; no one else's tickets)."""
    from tests.conftest import own_board

    with own_board(tmp_path) as handle:
        yield handle


def board_snapshot(store) -> dict:
    """Everything the board holds: every issue's fields, labels, description, changelog, comments, links,
    subtasks and attachments, and every Confluence page."""
    issues = {}
    for issue in store.all_issues():
        issues[issue["key"]] = {
            "fields": issue,
            "changelog": store.changes(issue["id"]),
            "comments": store.comments(issue["id"]),
            "attachments": store.attachments(issue["id"]),
            "links": store.links_of(issue["key"]),
            "subtasks": store.subtask_keys(issue["key"]),
        }
    pages = [dict(r) for r in store._q("SELECT * FROM page ORDER BY id")]
    return {"issues": issues, "pages": pages}
