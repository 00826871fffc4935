"""Intake on huge pasted logs: prints the time for 1 MB and 10 MB and their ratio.

A ratio near 10 shows linear scaling (no catastrophic backtracking); the 10 MB time
should stay well under 2 s. A benchmark, not a timed unit test: machines differ.
Run: python -m bench.bench_intake
"""

from __future__ import annotations

import time

from include.itsm.core.policy import Policy
from include.itsm.core.ticket import Ticket
from include.itsm.steps.intake.domain import extract

LOG_LINES = (
    "2026-11-26T09:30:01.123Z ERROR [worker-7] request 8f1c2d failed: timeout after 30000 ms "
    "host=ip-10-0-1-5.ap-southeast-2.compute.internal order 202611260930 retry=3\n",
    "<div>GET /api/v1/orders?id=123456789012 HTTP/1.1 502 Bad Gateway ------ aaaaaaaaaaaaaaaaaaaaaaaa</div>\n",
    "> On Tue, someone wrote: arn:aws:ec2:ap-southeast-2:318274650011:instance/i-0123456789abcdef0 "
    "sg-0a1b2c3d vol-0123456789abcdef0 s3://kiwi-logs-prod/2026/11/26/\n",
    "x" * 300 + " " + "1" * 40 + " " + "-" * 200 + " [link|http://example.com] {code} role " + "a-" * 50 + "\n",
)


def _description(size: int) -> str:
    block = "".join(LOG_LINES)
    return "Prod EC2 outage in account 318274650022, log follows:\n" + block * (size // len(block) + 1)


def _time(size: int) -> float:
    ticket = Ticket(key="OPS-1", summary="Huge log paste", description=_description(size))
    start = time.perf_counter()
    extract(ticket, Policy())
    return time.perf_counter() - start


def main() -> None:
    baseline = _time(1_000_000)
    big = _time(10_000_000)
    print(f"intake 1 MB: {baseline:.3f} s")
    print(f"intake 10 MB: {big:.3f} s")
    print(f"ratio 10 MB / 1 MB: {big / baseline:.1f} (linear is ~10)")


if __name__ == "__main__":
    main()
