"""Scrub accuracy on real text: floors on the dev split of tests/data/real/pii.jsonl (run with -s for the table).

The floors sit just below the figures the scrub reached when it was tuned on this split, so a regression
fails here. The test split is not scored in CI: it is scored once, by `python -m bench.accuracy_pii
--split test`, and its figures are reported, never tuned on. Default registers (no customer register):
what the scrub catches here it catches without knowing the customer.
"""

from __future__ import annotations

from bench.accuracy_pii import format_score, load, score_pii
from include.itsm.scrub.domain import scrub

PII_FLOORS = {"person": 0.97, "organisation": 0.80, "email": 0.99, "phone": 0.95, "ip": 0.99, "account": 0.99}
OVERALL_PII_FLOOR = 0.97
KEEP_FLOOR = 0.98


def test_dev_split_floors() -> None:
    result = score_pii(load("dev"), lambda text: scrub(text).text)
    print("\n" + format_score("pii.jsonl dev", result))
    assert result["items"] >= 60
    for kind, floor in PII_FLOORS.items():
        entry = result["pii"]["by_kind"][kind]
        assert entry["total"] and entry["recall"] >= floor, (kind, entry, result["misses"])
    assert result["pii"]["recall"] >= OVERALL_PII_FLOOR, result["misses"]
    credentials = result["credentials"]
    assert credentials["caught"] == credentials["total"] and credentials["total"] >= 50, result["leaks"]
    assert credentials["typed"] == credentials["total"]  # every one carries the placeholder of its kind
    assert result["keep"]["rate"] >= KEEP_FLOOR, result["lost"]


def test_scorer_counts_what_is_left() -> None:
    items = [
        {
            "id": "x",
            "text": "Hi Jane, key AKIAIOSFODNN7EXAMPLE, v1.2.3, acct 1234-5678-9012",
            "pii": [{"value": "Jane", "kind": "person"}, {"value": "1234-5678-9012", "kind": "account"}],
            "credentials": [{"value": "AKIAIOSFODNN7EXAMPLE", "kind": "aws_access_key"}],
            "keep": ["v1.2.3"],
        }
    ]
    untouched = score_pii(items, lambda text: text)
    assert (
        untouched["pii"]["recall"] == 0 and untouched["credentials"]["caught"] == 0 and untouched["keep"]["rate"] == 1
    )
    blanked = score_pii(items, lambda text: "{aws_access_key} 123456789012")
    assert blanked["pii"]["by_kind"]["person"]["recall"] == 1
    assert blanked["pii"]["by_kind"]["account"]["recall"] == 0  # its 12 digits are still there
    assert blanked["credentials"]["typed"] == 1 and blanked["keep"]["rate"] == 0
