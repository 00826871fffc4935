"""Generated tickets of realistic length and mixed formats (for triage and scrub benchmarks).

Each ticket starts from a labelled example of tests/data (dev and holdout sets: real phrasing,
every ticket type) with fresh account and resource ids, then is dressed as one of: plain text,
Jira wiki markup ({code} log paste, {quote}, h2. headings, [links|...]), an HTML e-mail with a
<blockquote> of history, a plain e-mail reply with `>` quoted history and a signature, or a
Slack/console paste. Mean size is >= 1.5 KB; no two tickets are equal.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
ORG = ["318274650011", "318274650022", "318274650044", "318274650088", "318274650167"]
NAMES = ["Jane Baker", "Tom Ngata", "Aroha Wong", "Liam Sharma", "Priya Walker", "Hemi O'Connor", "Sarah Kim"]
LOG = (
    "2026-11-{d:02d}T09:{m:02d}:01.123Z ERROR [worker-{w}] request {h} failed: timeout after 30000 ms host=ip-10-0-{a}-{b}"
    ".ap-southeast-2.compute.internal retry=3\n"
    "2026-11-{d:02d}T09:{m:02d}:02.456Z WARN  [pool] connection reset by peer 10.20.{a}.{b}:5432 (attempt 2/5)\n"
    "2026-11-{d:02d}T09:{m:02d}:03.789Z INFO  healthcheck GET /healthz 200 12ms target={iid}\n"
)
SIGNATURE = (
    "\n\nThanks,\n{name}\nPlatform Operations | Kiwi Freight Ltd\nM: +64 21 {p1} {p2}\nThis e-mail is confidential.\n"
)
HISTORY = (
    "On Tue, 25 Nov 2026 at 16:{m:02d}, {name} <ops@kiwifreight.example> wrote:\n"
    "> We saw something similar last week on {iid2} in {acct2}, it cleared after a reboot.\n"
    "> Let us know if you need anything else from our side.\n> \n> Cheers\n"
)


def _examples() -> list[dict]:
    rows = []
    for name in ("dev_set.jsonl", "holdout_set.jsonl"):
        for line in (DATA / name).read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                if isinstance(record.get("description"), str) and isinstance(record.get("summary"), str):
                    rows.append(record)
    return rows


def _log(rng: random.Random, lines: int, iid: str) -> str:
    return "".join(
        LOG.format(
            d=rng.randrange(1, 29),
            m=rng.randrange(60),
            w=rng.randrange(16),
            h=f"{rng.getrandbits(24):06x}",
            a=rng.randrange(256),
            b=rng.randrange(256),
            iid=iid,
        )
        for _ in range(lines)
    )


def _fresh_ids(text: str, rng: random.Random, mapping: dict[str, str]) -> str:
    """Replace the example's instance ids with new random ones (same shape), consistently."""
    import re

    def instance(match):
        old = match.group()
        if old not in mapping:
            mapping[old] = "i-" + "".join(rng.choice("0123456789abcdef") for _ in range(len(old) - 2))
        return mapping[old]

    return re.sub(r"\bi-[0-9a-f]{8,17}\b", instance, text)


def generate(count: int, seed: int = 11) -> list[dict]:
    """`count` triage input records ({key, summary, description, created, reporter})."""
    rng = random.Random(seed)
    examples = _examples()
    records = []
    for n in range(count):
        ex = rng.choice(examples)
        ids: dict[str, str] = {}
        summary = _fresh_ids(ex["summary"], rng, ids)
        body = _fresh_ids(ex["description"], rng, ids)
        iid = f"i-0{rng.getrandbits(64):016x}"
        fields = dict(
            name=rng.choice(NAMES),
            p1=rng.randrange(100, 999),
            p2=rng.randrange(1000, 9999),
            m=rng.randrange(60),
            iid2=f"i-0{rng.getrandbits(64):016x}",
            acct2=rng.choice(ORG),
        )
        style = n % 5
        log = _log(rng, rng.randrange(2, 6), iid)
        if style == 0:  # plain text with a log paste and a signature
            description = f"{body}\n\nWhat we see in the application log:\n{log}" + SIGNATURE.format(**fields)
        elif style == 1:  # Jira wiki markup
            description = (
                f"h2. Description\n{body}\n\nh2. Logs\n{{code:title=app.log}}\n{log}{{code}}\n"
                f"See [runbook|https://wiki.example.com/ops/runbooks/{rng.randrange(999)}] and {{{{kubectl get pods}}}}.\n"
                f"{{quote}}Previous note from the customer: nothing changed on our side.{{quote}}\n"
            )
        elif style == 2:  # HTML e-mail with quoted history
            html_log = log.replace("\n", "<br>\n")
            description = (
                f'<html><body><div>{body}</div><p>Log excerpt:</p><div style="font-family:monospace">{html_log}</div>'
                f"<p>Regards,<br>{fields['name']}</p><blockquote>{HISTORY.format(**fields)}</blockquote></body></html>"
            )
        elif style == 3:  # plain e-mail reply with `>` history
            description = f"{body}\n\n{log}" + SIGNATURE.format(**fields) + "\n" + HISTORY.format(**fields)
        else:  # Slack / console paste
            who = fields["name"].split()[0].lower()
            description = (
                f"[9:{fields['m']:02d} AM] {who}: {body}\n[9:{fields['m']:02d} AM] oncall: looking\n```\n{log}```\n"
                f"[9:{fields['m']:02d} AM] {who}: thanks, ping me on +64 21 {fields['p1']} {fields['p2']}\n"
            )
        records.append(
            {
                "key": f"OPS-{10000 + n}",
                "summary": summary,
                "description": description,
                "created": ex.get("created") or "2026-11-26T09:00:00+00:00",
                "reporter": ex.get("reporter"),
            }
        )
    return records


def lines(count: int, seed: int = 11) -> list[str]:
    return [json.dumps(r) for r in generate(count, seed)]
