"""PII scrub throughput on generated realistic texts: prints texts/s and MB/s, and 1 MB vs 10 MB scaling.

Texts are built from templates (incident descriptions, e-mails with signatures, Slack pastes,
alarm text, CloudTrail JSON, log lines, env exports and curl commands carrying credentials) with
random account ids, IPs, names, phones, resource ids and keys, so no text repeats. Registers: the demo customer's. A benchmark, not a timed unit test.
Run: python -m bench.bench_scrub

Comparison: Presidio (`presidio-analyzer` + `presidio-anonymizer`, both on PyPI) needs a spaCy
pipeline for its NLP engine; the official `en_core_web_sm` is not published on PyPI (only
third-party re-uploads are), and downloading a model at run time is not allowed here, so it is
not run by this script. A Presidio run with `spacy.blank("en")` (pattern recognisers only, no
NER) or `scrubadub` (PyPI, pure Python) are the comparable baselines to add later.
"""

from __future__ import annotations

import random
import time

from include.itsm.scrub.domain import scrub
from tests.unit.test_scrub import demo_registers

FIRST = ["Jane", "Tom", "Aroha", "Liam", "Priya", "Hemi", "Sarah", "Daniel", "Mere", "Olivia", "Ben", "Grace"]
LAST = ["Baker", "Ngata", "Wong", "Sharma", "Walker", "O'Connor", "Kim", "Tane", "Martin", "Carter", "Liu"]
ORG = ["318274650011", "318274650022", "318274650044", "318274650088", "318274650167"]
TEMPLATES = [
    "Hi {f},\n\nInstance {iid} in account {acct} stopped responding at 2026-11-{d:02d}T09:{m:02d}:01Z. Private IP 10.20.{a}.{b}.\n\n"
    "Regards,\n{f2} {l2}\nKiwi Freight Ltd\nM: +64 21 {p1} {p2}\n",
    'ALARM: "StatusCheckFailed_System" for InstanceId={iid} in AWS account {acct} (ap-southeast-2). '
    "Threshold crossed: 1 datapoint [1.0 (26/11/26 09:{m:02d}:00)].\n",
    "[9:{m:02d} AM] {f} {l}: restarted nginx on 10.30.{a}.{b}, still 502\n[9:{m:02d} AM] @{fl}: checking target group tg-prod-web\n",
    '{{"eventName": "StopInstances", "recipientAccountId": "{acct}", "sourceIPAddress": "203.0.{a}.{b}", '
    '"userIdentity": {{"arn": "arn:aws:sts::{acct}:assumed-role/Admin/{fl}"}}, "userAgent": "aws-cli/2.15.30"}}\n',
    "From: {f} {l} <{fl}@tasmanenergy.co.nz>\nSubject: RE: OPS-{t} vpn\n\nTunnel to 10.40.0.0/16 drops; outside IP 52.64.{a}.{b}. "
    "Customer Tasman Energy Limited. Call (09) 555 {p2}.\n\nThanks,\n{f}\n",
    "2026-11-26T03:14:15.926Z WARN conn refused 10.50.{a}.{b}:5432 retrying (attempt 3/5) vol-0123456789abcdef0 order 2026112609{m:02d}\n",
    # credentials pasted into tickets (the scrub replaces them first)
    "Hi {f}, deploy from the runner fails with AccessDenied. It runs:\n  export AWS_ACCESS_KEY_ID={akid}\n"
    "  export AWS_SECRET_ACCESS_KEY={secret}\n  aws s3 sync ./dist s3://kf-web-prod\nCheers,\n{f2} {l2}\n",
    'curl -s -H "Authorization: Bearer {token}" https://api.internal/v1/orders/{t} returns 401 since 09:{m:02d}; '
    "webhook https://hooks.slack.com/services/T{t}AB/B{t}CD/{token} posts fine. DATABASE_URL=postgresql://app:{pw}@10.20.{a}.{b}:5432/orders\n",
]
_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def generate(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        first, last, first2, last2 = rng.choice(FIRST), rng.choice(LAST), rng.choice(FIRST), rng.choice(LAST)
        texts.append(
            rng.choice(TEMPLATES).format(
                f=first,
                l=last,
                f2=first2,
                l2=last2,
                fl=f"{first.lower()}.{last.lower().replace(chr(39), '')}",
                iid=f"i-0{rng.getrandbits(64):016x}",
                acct=rng.choice(ORG) if rng.random() < 0.7 else str(rng.randrange(10**11, 10**12)),
                d=rng.randrange(1, 29),
                m=rng.randrange(60),
                a=rng.randrange(256),
                b=rng.randrange(256),
                p1=rng.randrange(100, 999),
                p2=rng.randrange(1000, 9999),
                t=rng.randrange(1000, 9999),
                akid="AKIA" + "".join(rng.choice(_KEY_CHARS) for _ in range(16)),
                secret="".join(rng.choice(_B64_CHARS) for _ in range(40)),
                token="".join(rng.choice(_B64_CHARS[:62]) for _ in range(24)),
                pw="".join(rng.choice(_B64_CHARS[:62]) for _ in range(12)),
            )
        )
    return texts


def main() -> None:
    registers = demo_registers()
    texts = generate(20_000)
    size = sum(len(t.encode()) for t in texts)
    scrub(texts[0], registers)  # compile the register patterns once
    start = time.perf_counter()
    replaced = sum(len(scrub(t, registers).replacements) for t in texts)
    elapsed = time.perf_counter() - start
    print(f"scrub: {len(texts)} texts, {size / 1e6:.2f} MB, {replaced} replacements in {elapsed:.2f} s")
    print(f"scrub: {len(texts) / elapsed:,.0f} texts/s, {size / 1e6 / elapsed:.2f} MB/s")
    blob = "\n".join(texts)
    one = blob[:1_000_000]
    ten = (blob * (10_000_000 // len(blob) + 1))[:10_000_000]
    timings = []
    for text in (one, ten):
        start = time.perf_counter()
        scrub(text, registers)
        timings.append(time.perf_counter() - start)
    print(
        f"scrub one text of 1 MB: {timings[0]:.2f} s; of 10 MB: {timings[1]:.2f} s (ratio {timings[1] / timings[0]:.1f}, linear ~10)"
    )


if __name__ == "__main__":
    main()
