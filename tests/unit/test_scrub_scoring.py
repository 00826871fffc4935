"""Scores the PII scrubber against the hand-labelled set and holdout (run with -s to see the table).

A PII value counts as caught when it no longer appears in the scrubbed text (for accounts and
account-bearing ARNs: neither do its 12 digits); a keep value counts when it is still there.
Registers are the demo customer's (org accounts, discovered VPC tiers, customer register, people),
as the pattern bridge uses them. The holdout was evaluated once, after development.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from include.itsm.scrub.domain import KINDS, ScrubRegisters, scrub
from tests.unit.test_scrub import demo_registers

DATA = Path(__file__).resolve().parents[1] / "data"
FLOOR_EXACT = {"account": 0.99, "arn_account": 0.99, "ip": 0.99, "email": 0.99}


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _caught(value: str, kind: str, scrubbed: str) -> bool:
    if value in scrubbed:
        return False
    if kind in ("account", "arn_account"):
        return all(digits not in scrubbed for digits in re.findall(r"\d{12}", re.sub(r"(?<=\d)[ -](?=\d)", "", value)))
    return True


def score(records: list[dict], registers: ScrubRegisters) -> dict:
    found = {k: [0, 0] for k in KINDS}  # caught, total
    kept, keep_total, misses, lost = 0, 0, [], []
    for record in records:
        out = scrub(record["text"], registers).text
        for item in record["pii"]:
            ok = _caught(item["value"], item["kind"], out)
            found[item["kind"]][0] += ok
            found[item["kind"]][1] += 1
            if not ok:
                misses.append((record["id"], item["kind"]))
        for value in record["keep"]:
            keep_total += 1
            kept += value in out
            if value not in out:
                lost.append((record["id"], value))
    caught = sum(c for c, _ in found.values())
    total = sum(t for _, t in found.values())
    return {
        "recall": {k: (c / t if t else None, t) for k, (c, t) in found.items()},
        "overall": caught / total,
        "keep_rate": kept / keep_total,
        "misses": misses,
        "lost": lost,
    }


def _report(name: str, result: dict) -> None:
    print(f"\n{name}: overall recall {result['overall']:.3f}, keep-rate {result['keep_rate']:.3f}")
    for kind, (recall, total) in result["recall"].items():
        print(f"  {kind:12s} {'-' if recall is None else f'{recall:.3f}'} (n={total})")
    print(f"  misses: {result['misses']}\n  lost keeps: {result['lost']}")


@pytest.mark.parametrize("name", ["scrub_set.jsonl", "scrub_holdout.jsonl"])
def test_recall_and_keep_rate(name: str) -> None:
    result = score(_load(name), demo_registers())
    _report(name, result)
    for kind, floor in FLOOR_EXACT.items():
        recall, total = result["recall"][kind]
        assert total == 0 or recall >= floor, (kind, recall)
    assert result["overall"] >= 0.95
    assert result["keep_rate"] >= 0.95


def test_sets_are_well_formed() -> None:
    records = _load("scrub_set.jsonl") + _load("scrub_holdout.jsonl")
    assert len(records) >= 100 and len({r["id"] for r in records}) == len(records)
    assert 0.30 <= len(_load("scrub_holdout.jsonl")) / len(records) <= 0.40
    for record in records:
        assert set(record) == {"id", "text", "pii", "keep"}
        for item in record["pii"]:
            assert item["kind"] in KINDS and item["value"] in record["text"]
        assert all(value in record["text"] for value in record["keep"])
