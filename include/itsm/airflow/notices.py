"""Telling approvers that a gate waits for them: one Airflow notifier per customer's channel.

A gate calls its notifiers each time it asks (when it opens, and again after a refused answer).
The notice names the ticket, the gate, who may answer and the link to the gate's form. Channels
(configuration, `customers[].notices`): `outbox` appends the notice as one JSON line to a local
file (the demo's); `email` sends it through Airflow's SmtpNotifier to each approver's address;
`webhook` posts it as JSON through Airflow's HttpNotifier (a chat incoming webhook). A notice that
cannot be sent is logged and never fails the gate: the gate is open either way, and `itsm status`
shows it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import BaseModel

from airflow.sdk import BaseNotifier
from include.itsm.config import GateNotices, NoticeChannel


class GateNotice(BaseModel):
    """What approvers are told when a gate asks them."""

    ticket: str
    gate: str
    customer: str | None
    approvers: list[str]
    subject: str  # the gate's question (the step's brief)
    link: str  # the gate's form in the Airflow UI
    sent_at: datetime

    def text(self) -> str:
        return (
            f"{self.ticket}: gate {self.gate} waits for your answer ({', '.join(self.approvers)}).\n"
            f"{self.subject}\nAnswer: {self.link}\n"
            f"or: itsm approve {self.ticket} --gate {self.gate} [--reject --reason TEXT]"
        )


class GateNotifier(BaseNotifier):
    """Sends a GateNotice through the customer's channel when the gate task asks."""

    def __init__(self, notices: GateNotices, customer_id: str | None = None) -> None:
        super().__init__()
        self.notices, self.customer_id = notices, customer_id

    def notice(self, context) -> GateNotice:
        task = context["task"]
        try:
            link = task.generate_link_to_ui_from_context(context=context)
        except ValueError:  # no api.base_url configured: the CLI still works
            link = "(set [api] base_url for a link)"
        return GateNotice(
            ticket=task.ticket_key,
            gate=task.gate,
            customer=self.customer_id,
            approvers=list(task.approver_names),
            subject=task.subject,
            link=link,
            sent_at=datetime.now(UTC),
        )

    def notify(self, context) -> None:
        try:
            self._send(self.notice(context), context)
        except Exception as exc:  # noqa: BLE001 - a lost notice never fails the gate (see the module docstring)
            self.log.warning("gate notice not sent (%s): %s", self.notices.channel, exc)

    def _send(self, notice: GateNotice, context) -> None:
        channel = self.notices.channel
        if channel == NoticeChannel.OUTBOX:
            path = self.notices.outbox_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as outbox:
                outbox.write(notice.model_dump_json() + "\n")
        elif channel == NoticeChannel.EMAIL:
            from airflow.providers.smtp.notifications.smtp import SmtpNotifier

            to = [self.notices.address_of(name) for name in notice.approvers]
            SmtpNotifier(
                to=to,
                subject=f"{notice.ticket}: gate {notice.gate} waits for you",
                html_content=notice.text().replace("\n", "<br>"),
                smtp_conn_id=self.notices.conn_id,
            ).notify(context)
        elif channel == NoticeChannel.WEBHOOK:
            from airflow.providers.http.notifications.http import HttpNotifier

            HttpNotifier(
                http_conn_id=self.notices.conn_id,
                endpoint=self.notices.endpoint,
                json={"text": notice.text(), "notice": json.loads(notice.model_dump_json())},
            ).notify(context)


def gate_notifiers(notices: GateNotices, customer_id: str | None) -> list[BaseNotifier]:
    """The notifiers a customer's gates call (none when its channel is `none`)."""
    return [] if notices.channel == NoticeChannel.NONE else [GateNotifier(notices, customer_id)]
