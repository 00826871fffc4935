"""Validate tests/data/real/tickets.jsonl and pii.jsonl against /work/notes/corpus_format.md (stdlib only).

Usage: python tests/data/real/check_tickets_pii.py [DIR]
Exit status 0 when both files pass; every problem is printed as FILE:LINE: message.
"""
import hashlib
import json
import re
import sys
from datetime import datetime
from pathlib import Path

SERVICE = {"compute", "storage", "network", "identity", "database"}
ENVIRONMENT = {"prod", "staging", "dev", "dr"}
TICKET_TYPE = {"incident", "problem", "change", "service_request"}
CHANGE_TYPE = {"standard", "normal", "emergency"}
LEVEL = {"high", "low"}
PRIORITY = {"P0", "P1", "P2", "P3", "P4"}
RCA = {"code-defect", "config-drift", "infra-failure", "human-error", "3rd-party"}
PII_KIND = {"person", "organisation", "email", "phone", "ip", "account"}
CRED_KIND = {"aws_access_key", "secret", "token", "password", "private_key"}
COMMON = ["id", "source_url", "source", "licence", "split"]
TICKET_KEYS = COMMON + ["format", "key", "summary", "description", "created", "reporter", "expected", "why"]
EXPECTED_KEYS = ["service", "environment", "account_ids", "resource_ids", "ticket_type", "change_type",
                 "impact", "urgency", "priority", "rca"]
PII_KEYS = COMMON + ["text", "pii", "credentials", "keep"]


def frozen_split(item_id):
    return "test" if int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % 2 else "dev"


def priority_for(impact, urgency):
    """The priorities allowed by impact x urgency (high/high is P0 when platform-wide, else P1)."""
    return {("high", "high"): {"P0", "P1"}, ("high", "low"): {"P2"},
            ("low", "high"): {"P3"}, ("low", "low"): {"P4"}}.get((impact, urgency), set())


def check_common(item, prefix, errors, where):
    for k in COMMON:
        if not isinstance(item.get(k), str) or not item.get(k):
            errors.append(f"{where}: {k} missing or empty")
    iid = item.get("id", "")
    if not re.fullmatch(prefix + r"-\d{4}", iid or ""):
        errors.append(f"{where}: id {iid!r} is not {prefix}-NNNN")
    elif item.get("split") != frozen_split(iid):
        errors.append(f"{where}: split {item.get('split')!r} differs from the frozen rule ({frozen_split(iid)})")
    if not str(item.get("source_url", "")).startswith(("http://", "https://")):
        errors.append(f"{where}: source_url is not a URL")
    if "notes" in item and not isinstance(item["notes"], str):
        errors.append(f"{where}: notes must be a string")


def check_ticket(t, errors, where):
    check_common(t, "tk", errors, where)
    for k in TICKET_KEYS:
        if k not in t:
            errors.append(f"{where}: missing {k}")
    if errors and any(e.startswith(where + ": missing") for e in errors):
        return
    if not re.fullmatch(r"OPS-\d+", t["key"]):
        errors.append(f"{where}: key {t['key']!r} is not OPS-<n>")
    try:
        dt = datetime.fromisoformat(t["created"])
        if dt.tzinfo is None:
            errors.append(f"{where}: created has no UTC offset")
    except ValueError:
        errors.append(f"{where}: created {t['created']!r} is not ISO-8601")
    e = t["expected"]
    if sorted(e) != sorted(EXPECTED_KEYS):
        errors.append(f"{where}: expected keys {sorted(e)} != {sorted(EXPECTED_KEYS)}")
        return
    for field, vocab in [("service", SERVICE), ("environment", ENVIRONMENT), ("rca", RCA)]:
        if e[field] is not None and e[field] not in vocab:
            errors.append(f"{where}: {field} {e[field]!r} not in vocabulary")
    for field, vocab in [("ticket_type", TICKET_TYPE), ("impact", LEVEL), ("urgency", LEVEL), ("priority", PRIORITY)]:
        if e[field] not in vocab:
            errors.append(f"{where}: {field} {e[field]!r} not in vocabulary")
    if e["ticket_type"] == "change":
        if e["change_type"] is not None and e["change_type"] not in CHANGE_TYPE:
            errors.append(f"{where}: change_type {e['change_type']!r} not in vocabulary")
    elif e["change_type"] is not None:
        errors.append(f"{where}: change_type set on a {e['ticket_type']}")
    if e["priority"] not in priority_for(e["impact"], e["urgency"]):
        errors.append(f"{where}: priority {e['priority']} inconsistent with impact {e['impact']} x urgency {e['urgency']}")
    if e["priority"] == "P0" and "priority" not in t["why"]:
        errors.append(f"{where}: P0 needs a why.priority naming the platform-wide blast")
    text = t["summary"] + "\n" + t["description"]
    if not isinstance(e["account_ids"], list) or not isinstance(e["resource_ids"], list):
        errors.append(f"{where}: account_ids/resource_ids must be lists")
        return
    for a in e["account_ids"]:
        if not re.fullmatch(r"\d{12}", a):
            errors.append(f"{where}: account id {a!r} is not 12 digits")
        elif a not in text:
            errors.append(f"{where}: account id {a} not in the text")
    if len(set(e["account_ids"])) != len(e["account_ids"]):
        errors.append(f"{where}: duplicate account ids")
    for r in e["resource_ids"]:
        if r not in text:
            errors.append(f"{where}: resource id {r!r} not in the text")
    if not isinstance(t["why"], dict) or not all(isinstance(v, str) for v in t["why"].values()):
        errors.append(f"{where}: why must map field -> reason")
    else:
        for k in t["why"]:
            if k not in EXPECTED_KEYS:
                errors.append(f"{where}: why names unknown field {k!r}")


def check_pii(p, errors, warnings, where):
    check_common(p, "pii", errors, where)
    for k in PII_KEYS:
        if k not in p:
            errors.append(f"{where}: missing {k}")
            return
    text = p["text"]
    spans = []
    for lst, vocab, name in [(p["pii"], PII_KIND, "pii"), (p["credentials"], CRED_KIND, "credentials")]:
        for x in lst:
            if set(x) != {"value", "kind"}:
                errors.append(f"{where}: {name} entry {x} needs exactly value and kind")
                continue
            if x["kind"] not in vocab:
                errors.append(f"{where}: {name} kind {x['kind']!r} not in vocabulary")
            if not x["value"] or x["value"] not in text:
                errors.append(f"{where}: {name} value {x['value'][:60]!r} not in text")
            if x["kind"] == "private_key" and not re.search(r"-----BEGIN[A-Z\s]*PRIVATE\sKEY[A-Z\s]*-----[\s\S]*-----END", x["value"]):
                if "-----END" in text:
                    errors.append(f"{where}: private_key value must be the whole BEGIN..END block")
            if x["kind"] == "account" and not re.fullmatch(r"\d{12}", x["value"]):
                errors.append(f"{where}: account {x['value']!r} is not 12 digits")
            spans.append(x["value"])
    for k in p["keep"]:
        if k not in text:
            errors.append(f"{where}: keep {k[:60]!r} not in text")
        for v in spans:
            if v in k:
                warnings.append(f"{where}: keep {k[:40]!r} contains labelled value {v[:40]!r}")


def load(path, errors):
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            items.append((n, json.loads(line)))
        except json.JSONDecodeError as exc:
            errors.append(f"{path.name}:{n}: not JSON ({exc})")
    return items


def main(argv):
    base = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    errors, warnings = [], []
    counts = {}
    for name, checker in [("tickets.jsonl", "t"), ("pii.jsonl", "p")]:
        path = base / name
        if not path.exists():
            errors.append(f"{name}: missing")
            continue
        items = load(path, errors)
        ids = [it.get("id") for _, it in items]
        if len(set(ids)) != len(ids):
            errors.append(f"{name}: duplicate ids")
        if ids != sorted(ids):
            errors.append(f"{name}: not sorted by id")
        for n, it in items:
            where = f"{name}:{n}"
            if checker == "t":
                check_ticket(it, errors, where)
            else:
                check_pii(it, errors, warnings, where)
        splits = {}
        for _, it in items:
            splits[it.get("split")] = splits.get(it.get("split"), 0) + 1
        counts[name] = (len(items), splits)
    for w in warnings:
        print("warning:", w)
    for e in errors:
        print(e)
    for name, (n, splits) in counts.items():
        print(f"{name}: {n} items, splits {dict(sorted(splits.items()))}")
    print("FAILED" if errors else "OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
