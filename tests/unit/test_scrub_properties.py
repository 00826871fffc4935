"""Property tests: planted PII never survives random surrounding text; instance ids always do.

About 4,000 generated examples in total; the whole module runs in a few seconds.
"""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.itsm.scrub.domain import scrub
from tests.unit.test_scrub import REGS

ORG_IDS = sorted(REGS.accounts)
FAST = settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Surrounding text: words, punctuation, newlines, digits and hex ids, but separated from the plant by a space.
word = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:/.,;()[]{}<>'\"!?#=",
    min_size=0,
    max_size=12,
)
filler = st.lists(
    st.one_of(word, st.sampled_from(["\n", "account", "i-0123456789abcdef0", "Regards,", "10", "2026-11-26"])),
    max_size=12,
).map(" ".join)


def _formats(digits: str) -> list[str]:
    return [
        digits,
        f"{digits[:4]}-{digits[4:8]}-{digits[8:]}",
        f"{digits[:4]} {digits[4:8]} {digits[8:]}",
        f"{digits[:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}",
        f"arn:aws:iam::{digits}:role/deployer",
        f"https://{digits}.signin.aws.amazon.com/console",
    ]


@FAST
@given(before=filler, after=filler, digits=st.sampled_from(ORG_IDS), fmt=st.integers(0, 5))
def test_org_account_ids_never_survive(before: str, after: str, digits: str, fmt: int) -> None:
    planted = _formats(digits)[fmt]
    out = scrub(f"{before} {planted} {after}", REGS).text
    assert digits not in out.replace("-", "").replace(" ", "") or digits in (before + after).replace("-", "").replace(
        " ", ""
    )


@FAST
@given(
    before=filler,
    after=filler,
    digits=st.from_regex(r"\A[1-9][0-9]{11}\Z"),
    fmt=st.integers(0, 5),
    cue=st.sampled_from(["account", "AWS account", "acct:", "AccountId=", "owner", "account id"]),
)
def test_unknown_account_ids_in_account_context_never_survive(
    before: str, after: str, digits: str, fmt: int, cue: str
) -> None:
    planted = _formats(digits)[fmt]
    text = f"{before}\n{cue} {planted} {after}"
    out = scrub(text, REGS).text
    assert planted not in out


ipv4 = st.ip_addresses(v=4).filter(
    lambda a: not (a.is_loopback or a.is_unspecified or str(a) in ("169.254.169.254", "255.255.255.255"))
)
ipv6 = st.ip_addresses(v=6).filter(lambda a: not (a.is_loopback or a.is_unspecified or a.ipv4_mapped or a.sixtofour))


@FAST
@given(before=filler, after=filler, address=st.one_of(ipv4, ipv6), prefix=st.one_of(st.none(), st.integers(8, 30)))
def test_ip_addresses_and_cidrs_never_survive(
    before: str, after: str, address: ipaddress._BaseAddress, prefix: int | None
) -> None:
    planted = str(address) if prefix is None else str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    out = scrub(f"{before} {planted} {after}", REGS).text
    assert f" {planted} " not in f" {out} "


local = st.from_regex(r"\A[a-z][a-z0-9._+-]{0,20}[a-z0-9]\Z")
domain = st.from_regex(r"\A[a-z][a-z0-9-]{0,15}(\.[a-z]{2,6}){1,3}\Z")


@FAST
@given(before=filler, after=filler, user=local, host=domain)
def test_emails_never_survive(before: str, after: str, user: str, host: str) -> None:
    planted = f"{user}@{host}"
    out = scrub(f"{before} <{planted}> {after}", REGS).text
    assert planted not in out


@settings(max_examples=1200, deadline=None)
@given(
    before=filler,
    after=filler,
    suffix=st.from_regex(r"\A[0-9a-f]{17}\Z"),
    prefix=st.sampled_from(["i", "vol", "snap", "ami", "eni"]),
)
def test_resource_ids_always_survive(before: str, after: str, suffix: str, prefix: str) -> None:
    planted = f"{prefix}-{suffix}"
    out = scrub(f"{before} {planted} {after}", REGS).text
    assert planted in out
