#!/usr/bin/env python3
"""Validate the real-text corpus in tests/data/real/ against /work/notes/corpus_format.md.

Standalone, Python 3.11, stdlib only. Checks whichever of writeups.jsonl, tickets.jsonl and
pii.jsonl are present (any other *.jsonl in the folder is reported as unknown), then prints
counts per file, split and label. Exit status 0 when every check passes, 1 otherwise.

Usage: python3 tests/data/real/check_corpus.py [DIR]
"""
from __future__ import annotations

import collections
import hashlib
import json
import re
import sys
from pathlib import Path

SERVICES = {"compute", "storage", "network", "identity", "database"}
RCAS = {"code-defect", "config-drift", "infra-failure", "human-error", "3rd-party"}
ENVIRONMENTS = {"prod", "staging", "dev", "dr"}
TICKET_TYPES = {"incident", "problem", "change", "service_request"}
CHANGE_TYPES = {"standard", "normal", "emergency"}
LEVELS = {"high", "low"}
PRIORITIES = {"P0", "P1", "P2", "P3", "P4"}
PII_KINDS = {"person", "organisation", "email", "phone", "ip", "account"}
CRED_KINDS = {"aws_access_key", "secret", "token", "password", "private_key"}

COMMON = ("id", "source_url", "source", "licence", "split")
FILES = {
    "writeups.jsonl": ("wu-", COMMON + ("title", "published", "text", "labels")),
    "tickets.jsonl": ("tk-", COMMON + ("format", "key", "summary", "description", "created",
                                       "reporter", "expected", "why")),
    "pii.jsonl": ("pii-", COMMON + ("text", "pii", "credentials", "keep")),
}
OPTIONAL = {"notes"}
WU_LABELS = {"cause_stated", "rca", "service", "why"}
TK_EXPECTED = {"service", "environment", "account_ids", "resource_ids", "ticket_type", "change_type",
               "impact", "urgency", "priority", "rca"}

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
# a quoted fragment in a write-up's "why": 'text' (8+ chars), '...' marks an elision
WHY_QUOTE = re.compile(r"'([^']{8,}?)'(?=[\s:;,.)]|$)")


def frozen_split(item_id: str) -> str:
    """The frozen split rule from corpus_format.md."""
    return "test" if int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % 2 else "dev"


class Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.seen_ids: dict[str, str] = {}

    def err(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    # ---- shared -------------------------------------------------------------------------
    def common(self, where: str, it: dict, prefix: str, keys: tuple[str, ...]) -> None:
        missing = [k for k in keys if k not in it]
        if missing:
            self.err(where, f"missing keys {missing}")
        extra = set(it) - set(keys) - OPTIONAL
        if extra:
            self.err(where, f"unexpected keys {sorted(extra)}")
        iid = it.get("id")
        if not isinstance(iid, str) or not re.fullmatch(re.escape(prefix) + r"\d{4,}", iid):
            self.err(where, f"id {iid!r} is not {prefix}NNNN")
        elif iid in self.seen_ids:
            self.err(where, f"duplicate id {iid} (also in {self.seen_ids[iid]})")
        else:
            self.seen_ids[iid] = where
        if isinstance(iid, str) and it.get("split") != frozen_split(iid):
            self.err(where, f"split {it.get('split')!r} != frozen rule {frozen_split(iid)!r}")
        for k in ("source_url", "source", "licence"):
            if not isinstance(it.get(k), str) or not it.get(k, "").strip():
                self.err(where, f"{k} must be a non-empty string")
        url = it.get("source_url", "")
        if isinstance(url, str) and not re.match(r"^https?://", url):
            self.err(where, f"source_url is not a URL: {url!r}")
        if "notes" in it and not isinstance(it["notes"], str):
            self.err(where, "notes must be a string")

    def vocab(self, where: str, field: str, value, allowed: set[str], nullable: bool = True) -> None:
        if value is None and nullable:
            return
        if value not in allowed:
            self.err(where, f"{field}={value!r} not in {sorted(allowed)}{' or null' if nullable else ''}")

    # ---- writeups -----------------------------------------------------------------------
    def writeup(self, where: str, it: dict) -> None:
        for k in ("title", "text"):
            if not isinstance(it.get(k), str) or not it.get(k, "").strip():
                self.err(where, f"{k} must be a non-empty string")
        pub = it.get("published")
        if pub is not None and not (isinstance(pub, str) and DATE.match(pub)):
            self.err(where, f"published {pub!r} is not YYYY-MM-DD or null")
        text = it.get("text") or ""
        if len(text) > 4500:
            self.err(where, f"text is {len(text)} chars (excerpts should stay near 4,000)")
        lab = it.get("labels")
        if not isinstance(lab, dict):
            self.err(where, "labels must be an object")
            return
        if set(lab) != WU_LABELS:
            self.err(where, f"labels keys {sorted(lab)} != {sorted(WU_LABELS)}")
        cs = lab.get("cause_stated")
        if not isinstance(cs, bool):
            self.err(where, "labels.cause_stated must be true/false")
        self.vocab(where, "labels.rca", lab.get("rca"), RCAS)
        self.vocab(where, "labels.service", lab.get("service"), SERVICES)
        if isinstance(cs, bool) and (lab.get("rca") is None) == cs:
            self.err(where, f"rca must be null exactly when cause_stated is false "
                            f"(cause_stated={cs}, rca={lab.get('rca')!r})")
        why = lab.get("why")
        if not isinstance(why, str) or not why.strip():
            self.err(where, "labels.why must be a non-empty string")
        else:
            for q in WHY_QUOTE.findall(why):
                for part in (p.strip() for p in q.split("...")):
                    if part and part not in text:
                        self.err(where, f"quoted fragment in why is not in text: {part!r}")

    # ---- tickets ------------------------------------------------------------------------
    def ticket(self, where: str, it: dict) -> None:
        for k in ("format", "summary", "description", "reporter"):
            if not isinstance(it.get(k), str):
                self.err(where, f"{k} must be a string")
        if not (isinstance(it.get("key"), str) and re.fullmatch(r"OPS-\d+", it["key"])):
            self.err(where, f"key {it.get('key')!r} is not OPS-<n>")
        if not (isinstance(it.get("created"), str) and ISO_OFFSET.match(it["created"])):
            self.err(where, f"created {it.get('created')!r} is not ISO-8601 with an offset")
        exp = it.get("expected")
        if not isinstance(exp, dict):
            self.err(where, "expected must be an object")
            return
        if set(exp) != TK_EXPECTED:
            self.err(where, f"expected keys {sorted(exp)} != {sorted(TK_EXPECTED)}")
        self.vocab(where, "expected.service", exp.get("service"), SERVICES)
        self.vocab(where, "expected.environment", exp.get("environment"), ENVIRONMENTS)
        self.vocab(where, "expected.ticket_type", exp.get("ticket_type"), TICKET_TYPES)
        self.vocab(where, "expected.change_type", exp.get("change_type"), CHANGE_TYPES)
        self.vocab(where, "expected.impact", exp.get("impact"), LEVELS)
        self.vocab(where, "expected.urgency", exp.get("urgency"), LEVELS)
        self.vocab(where, "expected.priority", exp.get("priority"), PRIORITIES)
        self.vocab(where, "expected.rca", exp.get("rca"), RCAS)
        if exp.get("change_type") is not None and exp.get("ticket_type") != "change":
            self.err(where, "change_type is only for ticket_type 'change'")
        imp, urg, pri = exp.get("impact"), exp.get("urgency"), exp.get("priority")
        if imp in LEVELS and urg in LEVELS and pri is not None:
            allowed = {("high", "high"): {"P0", "P1"}, ("high", "low"): {"P2"},
                       ("low", "high"): {"P3"}, ("low", "low"): {"P4"}}[(imp, urg)]
            if pri not in allowed:
                self.err(where, f"priority {pri} does not follow impact={imp} x urgency={urg}")
        body = f"{it.get('summary', '')}\n{it.get('description', '')}"
        for field in ("account_ids", "resource_ids"):
            vals = exp.get(field)
            if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
                self.err(where, f"expected.{field} must be a list of strings")
                continue
            for v in vals:
                if field == "account_ids" and not re.fullmatch(r"\d{12}", v):
                    self.err(where, f"account id {v!r} is not 12 digits")
                if field == "resource_ids" and v not in body:
                    self.err(where, f"resource id {v!r} does not occur in summary/description")
        why = it.get("why")
        if not isinstance(why, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in why.items()):
            self.err(where, "why must be an object of field -> reason")
        elif set(why) - TK_EXPECTED:
            self.err(where, f"why has fields not in expected: {sorted(set(why) - TK_EXPECTED)}")

    # ---- pii ----------------------------------------------------------------------------
    def pii(self, where: str, it: dict) -> None:
        text = it.get("text")
        if not isinstance(text, str) or not text:
            self.err(where, "text must be a non-empty string")
            return
        for field, kinds in (("pii", PII_KINDS), ("credentials", CRED_KINDS)):
            vals = it.get(field)
            if not isinstance(vals, list):
                self.err(where, f"{field} must be a list")
                continue
            for ent in vals:
                if not isinstance(ent, dict) or set(ent) != {"value", "kind"}:
                    self.err(where, f"{field} entry {ent!r} must be {{value, kind}}")
                    continue
                self.vocab(where, f"{field}.kind", ent["kind"], kinds, nullable=False)
                if not isinstance(ent["value"], str) or ent["value"] not in text:
                    self.err(where, f"{field} value {ent['value']!r} is not a substring of text")
                if ent["kind"] == "private_key" and isinstance(ent["value"], str) and not (
                        "-----BEGIN" in ent["value"] and "-----END" in ent["value"]):
                    self.err(where, "private_key value must be the whole BEGIN..END block")
        keep = it.get("keep")
        if not isinstance(keep, list):
            self.err(where, "keep must be a list")
        else:
            for v in keep:
                if not isinstance(v, str) or v not in text:
                    self.err(where, f"keep value {v!r} is not a substring of text")


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    chk = Checker()
    counts: dict[str, collections.Counter] = {}
    present = sorted(folder.glob("*.jsonl"))
    if not present:
        print(f"no *.jsonl files in {folder}")
        return 1
    for path in present:
        if path.name not in FILES:
            chk.err(path.name, "unknown corpus file (expected writeups/tickets/pii.jsonl)")
            continue
        prefix, keys = FILES[path.name]
        items, ids = [], []
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                where = f"{path.name}:{n}"
                if not line.strip():
                    chk.err(where, "blank line")
                    continue
                try:
                    it = json.loads(line)
                except json.JSONDecodeError as e:
                    chk.err(where, f"invalid JSON: {e}")
                    continue
                if not isinstance(it, dict):
                    chk.err(where, "line is not a JSON object")
                    continue
                where = f"{path.name}:{n}:{it.get('id')}"
                chk.common(where, it, prefix, keys)
                {"wu-": chk.writeup, "tk-": chk.ticket, "pii-": chk.pii}[prefix](where, it)
                items.append(it)
                ids.append(str(it.get("id")))
        if ids != sorted(ids):
            chk.err(path.name, "items are not sorted by id")
        c = collections.Counter()
        for it in items:
            sp = it.get("split")
            c[("split", sp)] += 1
            if prefix == "wu-":
                lab = it.get("labels") or {}
                c[("cause_stated", sp, lab.get("cause_stated"))] += 1
                c[("rca", sp, lab.get("rca"))] += 1
                c[("service", sp, lab.get("service"))] += 1
                c[("source", None, it.get("source"))] += 1
            elif prefix == "tk-":
                exp = it.get("expected") or {}
                for f in ("service", "ticket_type", "priority", "rca"):
                    c[(f, sp, exp.get(f))] += 1
            else:
                for ent in (it.get("pii") or []) + (it.get("credentials") or []):
                    if isinstance(ent, dict):
                        c[("kind", sp, ent.get("kind"))] += 1
        counts[path.name] = c
        print_counts(path.name, len(items), c)
    if chk.errors:
        print(f"\nFAILED: {len(chk.errors)} problem(s)")
        for e in chk.errors:
            print("  " + e)
        return 1
    total = sum(sum(v for k, v in c.items() if k[0] == "split") for c in counts.values())
    print(f"\nOK: {total} items in {len(counts)} file(s) pass")
    return 0


def print_counts(name: str, n: int, c: collections.Counter) -> None:
    print(f"== {name}: {n} items")
    splits = ["dev", "test"]
    print("  split: " + ", ".join(f"{s}={c[('split', s)]}" for s in splits))
    fields = sorted({k[0] for k in c if k[0] not in ("split", "source")})
    for f in fields:
        vals = sorted({k[2] for k in c if k[0] == f}, key=lambda v: (v is None, str(v)))
        rows = []
        for v in vals:
            d, t = c[(f, "dev", v)], c[(f, "test", v)]
            rows.append(f"{'null' if v is None else v}: dev={d} test={t} all={d + t}")
        print(f"  {f}:\n    " + "\n    ".join(rows))
    src = sorted(((k[2], v) for k, v in c.items() if k[0] == "source"), key=lambda x: (-x[1], x[0]))
    if src:
        print("  source: " + ", ".join(f"{s}={v}" for s, v in src))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
