"""PII and credential scrub accuracy on the real-text corpus (tests/data/real/pii.jsonl).

`score_pii(items, scrub)` is the one scorer: the unit floors (tests/unit/test_real_scrub.py), the
accuracy benchmark and `python -m bench.accuracy_pii` call it alike. Rules, as the corpus labels
them (format: tests/data/real/README_tickets_pii.md):

- a `pii` value is caught when it no longer occurs in the scrubbed text (an account also when its
  12 digits, separators removed, no longer occur); the scrub's own placeholders do not count as
  occurrences (a password "password" replaced by `{password}` is caught);
- a credential is caught when its value no longer occurs; it is typed when the text also carries the
  placeholder of its kind (`{aws_access_key}`, `{secret}`, `{token}`, `{password}`, `{private_key}`);
- a `keep` string is kept when it still occurs.

Run: python -m bench.accuracy_pii [--split dev|test|all] [--misses]
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "real" / "pii.jsonl"
PII_KINDS = ("person", "organisation", "email", "phone", "ip", "account")
CREDENTIAL_KINDS = ("aws_access_key", "secret", "token", "password", "private_key")
_PLACEHOLDER = re.compile(r"\{[a-z][a-z0-9_-]*\}")  # {person}, {prod-account}, {password}


def load(split: str | None = None, path: Path = CORPUS) -> list[dict]:
    """The corpus items of one split ("dev", "test") or all of them (None)."""
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [item for item in items if split in (None, "all") or item["split"] == split]


def _caught(value: str, kind: str, out: str) -> bool:
    if value in out:
        return False
    if kind == "account":
        return all(digits not in out for digits in re.findall(r"\d{12}", re.sub(r"(?<=\d)[ -](?=\d)", "", value)))
    return True


def _ratio(hit: int, total: int) -> float | None:
    return hit / total if total else None


def score_pii(items: Iterable[dict], scrub: Callable[[str], object]) -> dict:
    """Recall per PII kind, credentials caught (and typed) per kind, keep rate, and what was missed.

    `scrub` maps a text to its scrubbed text (a `str`, or anything with a `.text`, such as a ScrubResult).
    """
    pii = {kind: [0, 0] for kind in PII_KINDS}
    creds = {kind: [0, 0, 0] for kind in CREDENTIAL_KINDS}  # caught, typed, total
    kept = keep_total = 0
    misses: list[dict] = []
    leaks: list[dict] = []
    lost: list[dict] = []
    count = 0
    for item in items:
        count += 1
        out = scrub(item["text"])
        out = out if isinstance(out, str) else out.text
        bare = _PLACEHOLDER.sub("\x00", out)
        for entry in item["pii"]:
            ok = _caught(entry["value"], entry["kind"], bare)
            pii[entry["kind"]][0] += ok
            pii[entry["kind"]][1] += 1
            if not ok:
                misses.append({"id": item["id"], "kind": entry["kind"], "value": entry["value"]})
        for entry in item["credentials"]:
            ok = entry["value"] not in bare
            creds[entry["kind"]][0] += ok
            creds[entry["kind"]][1] += ok and "{" + entry["kind"] + "}" in out
            creds[entry["kind"]][2] += 1
            if not ok:
                leaks.append({"id": item["id"], "kind": entry["kind"], "value": entry["value"][:40]})
        for value in item["keep"]:
            keep_total += 1
            kept += value in out
            if value not in out:
                lost.append({"id": item["id"], "value": value})
    pii_hit, pii_total = sum(c for c, _ in pii.values()), sum(t for _, t in pii.values())
    cred_hit, cred_total = sum(c for c, _, _ in creds.values()), sum(t for _, _, t in creds.values())
    return {
        "items": count,
        "pii": {
            "recall": _ratio(pii_hit, pii_total),
            "caught": pii_hit,
            "total": pii_total,
            "by_kind": {k: {"caught": c, "total": t, "recall": _ratio(c, t)} for k, (c, t) in pii.items()},
        },
        "credentials": {
            "caught": cred_hit,
            "typed": sum(y for _, y, _ in creds.values()),
            "total": cred_total,
            "by_kind": {k: {"caught": c, "typed": y, "total": t} for k, (c, y, t) in creds.items()},
        },
        "keep": {"kept": kept, "total": keep_total, "rate": _ratio(kept, keep_total)},
        "misses": misses,
        "leaks": leaks,
        "lost": lost,
    }


def format_score(name: str, result: dict) -> str:
    """A short table of one score (what the benchmark and `-s` test runs print)."""
    p, c, k = result["pii"], result["credentials"], result["keep"]
    fmt = lambda r: "-" if r is None else f"{r:.3f}"  # noqa: E731
    lines = [
        f"{name}: {result['items']} items; PII recall {fmt(p['recall'])} ({p['caught']}/{p['total']}); "
        f"credentials {c['caught']}/{c['total']} (typed {c['typed']}); keep {fmt(k['rate'])} ({k['kept']}/{k['total']})"
    ]
    lines += [f"  {kind:13s} {fmt(v['recall'])} ({v['caught']}/{v['total']})" for kind, v in p["by_kind"].items()]
    lines += [f"  {kind:13s} {v['caught']}/{v['total']} (typed {v['typed']})" for kind, v in c["by_kind"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from include.itsm.scrub.domain import scrub

    parser = argparse.ArgumentParser(prog="python -m bench.accuracy_pii", description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    parser.add_argument("--misses", action="store_true", help="list missed PII, leaked credentials, lost keeps")
    args = parser.parse_args(argv)
    result = score_pii(load(args.split), lambda text: scrub(text).text)
    print(format_score(f"pii.jsonl {args.split}", result))
    if args.misses:
        for name in ("misses", "leaks", "lost"):
            for entry in result[name]:
                print(f"  {name[:-1] if name != 'lost' else 'lost'}: {json.dumps(entry, ensure_ascii=False)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
