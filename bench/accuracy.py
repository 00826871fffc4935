"""Accuracy of triage and scrub on the real-text corpus (tests/data/real/): the one scoring harness.

The unit test (tests/unit/test_real_corpus.py) holds the dev split to floors with it, and the
benchmark (bench/bench_accuracy.py) prints the test split next to an older commit's figures, so
both read the same numbers. Each row is computed for whichever corpus file exists; a row whose
file is absent says "no corpus". The format of the files is the corpus README's
(tests/data/real/README.md).

- Ticket rows (tickets.jsonl): triage on the ticket's own fields, compared with `expected`.
- Write-up rows (writeups.jsonl): triage on {summary: title, description: text}, compared with
  `labels` (rca only where a cause is stated; any rca where none is stated is a false claim).
- PII rows (pii.jsonl): the scrubber on `text`; each pii and credential value must be gone from
  its output, each keep value must survive.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.accuracy_pii import score_pii

REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real"
SPLITS = ("dev", "test")
TICKET_FIELDS = ("key", "summary", "description", "created", "reporter")

Triage = Callable[[dict], dict]  # a JSONL record -> include.itsm.triage.triage_record's output shape
Scrub = Callable[[str], str]  # text -> scrubbed text


@dataclass
class Row:
    """One row of the accuracy table: its headline value (None when it cannot be computed), the
    counts behind it, and the target it is held to, if any."""

    name: str
    corpus: str  # the file it reads
    value: float | None = None
    detail: str = "no corpus"
    counts: dict[str, float] = field(default_factory=dict)
    target: tuple[str, float] | None = None  # (">=" | "<=", bound)

    @property
    def passed(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        op, bound = self.target
        return self.value >= bound if op == ">=" else self.value <= bound

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "-"
        op, bound = self.target
        return f"{op} {bound:.0%}" if self.counts.get("percent") else f"{op} {bound:.2f}"


def load(name: str, split: str | None, data: Path = REAL) -> list[dict] | None:
    """The items of `name` in `split` (all splits when None), or None when the file is absent."""
    path = data / name
    if not path.exists():
        return None
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name} line {number}: invalid JSON ({exc.msg})") from None
        if split is None or item.get("split") == split:
            items.append(item)
    return items


def _fraction(right: int, total: int) -> tuple[float | None, str]:
    return (right / total, f"{right / total:.2f} ({right}/{total})") if total else (None, "no items")


def _f1(tp: int, fp: int, fn: int) -> float:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def writeup_record(item: dict) -> dict:
    """A write-up shaped as a ticket: its title is the summary, its text the description."""
    return {"key": f"WU-{int(item['id'].split('-')[1])}", "summary": item["title"], "description": item["text"]}


def _outputs(items: list[dict], triage: Triage, record: Callable[[dict], dict]) -> list[dict]:
    outputs = []
    for item in items:
        out = triage(record(item))
        if "error" in out:
            raise ValueError(f"{item['id']}: triage refused the item ({out['error']})")
        outputs.append({**out["intake"], **out["classification"]})
    return outputs


def _ticket_rows(items: list[dict] | None, triage: Triage) -> list[Row]:
    names = (
        "priority (P0-P4) accuracy",
        "impact / urgency accuracy",
        "service / environment accuracy",
        "ticket type accuracy",
        "resource ids F1",
        "account ids F1; non-account 12-digit numbers taken as accounts",
        "rca on tickets where a cause is stated (accuracy)",
    )
    rows = [Row(name, "tickets.jsonl") for name in names]
    if items is None:
        return rows
    got = _outputs(items, triage, lambda item: {k: item.get(k) for k in TICKET_FIELDS})
    want = [item["expected"] for item in items]
    n = len(items)

    def right(name: str) -> int:
        return sum(g[name] == w[name] for g, w in zip(got, want))

    def exact(row: Row, *fields: str) -> None:
        parts = [(f, *_fraction(right(f), n)) for f in fields]
        row.value = min(value for _, value, _ in parts) if n else None
        row.detail = " / ".join(f"{f} {text}" for f, _, text in parts) if len(parts) > 1 else parts[0][2]
        row.counts = {f"{f}_right": right(f) for f in fields} | {"n": n}

    exact(rows[0], "priority")
    exact(rows[1], "impact", "urgency")
    exact(rows[2], "service", "environment")
    exact(rows[3], "ticket_type")
    for row, name in ((rows[4], "resource_ids"), (rows[5], "account_ids")):
        tp = sum(len(set(g[name]) & set(w[name])) for g, w in zip(got, want))
        fp = sum(len(set(g[name]) - set(w[name])) for g, w in zip(got, want))
        fn = sum(len(set(w[name]) - set(g[name])) for g, w in zip(got, want))
        row.value = _f1(tp, fp, fn)
        row.counts = {"tp": tp, "fp": fp, "fn": fn}
        row.detail = f"{row.value:.2f} (tp {tp}, fp {fp}, fn {fn})"
    # A 12-digit number taken as an account that the labels do not hold is a decoy taken.
    decoys = sum(
        1 for g, w in zip(got, want) for value in set(g["account_ids"]) - set(w["account_ids"]) if len(value) == 12
    )
    rows[5].counts["decoys_taken"] = decoys
    rows[5].detail += f"; {decoys} non-account numbers taken"
    stated = [(g["rca"], w["rca"]) for g, w in zip(got, want) if w["rca"]]
    rows[6].value, rows[6].detail = _fraction(sum(g == w for g, w in stated), len(stated))
    rows[6].counts = {"right": sum(g == w for g, w in stated), "n": len(stated)}
    return rows


def _writeup_rows(items: list[dict] | None, tickets: list[dict] | None, triage: Triage) -> list[Row]:
    rca = Row("rca on write-ups where a cause is stated (accuracy)", "writeups.jsonl", target=(">=", 0.75))
    service = Row("service on the same write-ups (accuracy)", "writeups.jsonl", target=(">=", 0.85))
    claimed = Row("rca claimed where the text states no cause", "writeups.jsonl", target=("<=", 0.01))
    on_tickets = Row("rca claimed on tickets whose labels give none", "tickets.jsonl")
    for row in (claimed, on_tickets):
        row.counts["percent"] = 1
    if items is not None:
        got = _outputs(items, triage, writeup_record)
        labels = [item["labels"] for item in items]
        pairs = [(g, lab) for g, lab in zip(got, labels) if lab["cause_stated"]]
        rca.value, rca.detail = _fraction(sum(g["rca"] == lab["rca"] for g, lab in pairs), len(pairs))
        service.value, service.detail = _fraction(sum(g["service"] == lab["service"] for g, lab in pairs), len(pairs))
        rca.counts = {"right": sum(g["rca"] == lab["rca"] for g, lab in pairs), "n": len(pairs)}
        service.counts = {"right": sum(g["service"] == lab["service"] for g, lab in pairs), "n": len(pairs)}
        _claims(claimed, got, [lab["cause_stated"] for lab in labels])
    if tickets is not None:
        got = _outputs(tickets, triage, lambda item: {k: item.get(k) for k in TICKET_FIELDS})
        _claims(on_tickets, got, [bool(item["expected"]["rca"]) for item in tickets])
    return [rca, service, claimed, on_tickets]


def _claims(row: Row, got: list[dict], stated: list[bool]) -> None:
    """Fill `row` with the rca claims among the items that state no cause."""
    unstated = [g for g, s in zip(got, stated) if not s]
    wrong, total = sum(1 for g in unstated if g["rca"]), len(unstated)
    row.value = wrong / total if total else None
    row.detail = f"{wrong} of {total}" + (f" ({wrong / total:.1%})" if total else "")
    row.counts.update({"claimed": wrong, "n": total})


def _pii_rows(items: list[dict] | None, scrub: Scrub) -> list[Row]:
    """The scrub rows, from the PII scorer (bench/accuracy_pii.py: placeholders are not leaks, an account
    id counts as caught when its digits are gone in whatever grouping the text wrote them)."""
    recall = Row("PII scrub recall (names, organisations, e-mails, phones, IPs, accounts)", "pii.jsonl")
    credentials = Row("credentials scrubbed (count of n)", "pii.jsonl")
    kept = Row("non-PII kept (count of n)", "pii.jsonl")
    if items is None:
        return [recall, credentials, kept]
    result = score_pii(items, scrub)
    pii, creds, keep = result["pii"], result["credentials"], result["keep"]
    recall.value, recall.detail = _fraction(pii["caught"], pii["total"])
    recall.detail += "".join(f"; {kind} {k['caught']}/{k['total']}" for kind, k in pii["by_kind"].items() if k["total"])
    recall.counts = {"gone": pii["caught"], "n": pii["total"]} | {
        f"{kind}_gone": k["caught"] for kind, k in pii["by_kind"].items()
    }
    for row, (good, n) in ((credentials, (creds["caught"], creds["total"])), (kept, (keep["kept"], keep["total"]))):
        row.value, row.detail = _fraction(good, n)
        row.detail = f"{good} of {n}" + (f" ({good / n:.0%})" if n else "")
        row.counts = {"right": good, "n": n}
    return [recall, credentials, kept]


def current_triage() -> Triage:
    """The working tree's triage with the default policy."""
    from include.itsm.core.policy import Policy
    from include.itsm.triage import triage_record

    policy = Policy()
    return lambda record: triage_record(record, policy)


def current_scrub() -> Scrub:
    from include.itsm.scrub.domain import scrub

    return lambda text: scrub(text).text


def score(split: str, triage: Triage | None = None, scrub: Scrub | None = None, data: Path = REAL) -> list[Row]:
    """Every row of the accuracy table on `split` ("dev" or "test")."""
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {SPLITS}")
    triage = triage or current_triage()
    tickets, writeups, pii = (load(name, split, data) for name in ("tickets.jsonl", "writeups.jsonl", "pii.jsonl"))
    return [
        *_ticket_rows(tickets, triage),
        *_writeup_rows(writeups, tickets, triage),
        *_pii_rows(pii, scrub or current_scrub()),
    ]


def by_name(rows: list[Row]) -> dict[str, Row]:
    return {row.name: row for row in rows}
