"""PII scrub rules (docs/architecture.md §7): what is replaced, with which label, and what is kept."""

from __future__ import annotations

import pytest

from include.itsm.core.inventory import AccountInfo
from include.itsm.devstack.demo.org import ACCOUNTS, ORG_NAME
from include.itsm.scrub.config import ScrubConfig
from include.itsm.scrub.domain import ScrubRegisters, ScrubResult, account_type, registers_for, scrub

VPCS = [
    ("10.20.0.0/16", "prod-vpc"),
    ("10.40.0.0/16", "dr-vpc"),
    ("10.30.0.0/16", "staging-vpc"),
    ("10.50.0.0/16", "dev-vpc"),
]


def demo_accounts() -> list[AccountInfo]:
    return [
        AccountInfo(account_id=a.account_id, name=a.name, tags={"env": a.env_tag} if a.env_tag else {})
        for a in ACCOUNTS
    ]


def demo_registers() -> ScrubRegisters:
    customer = {
        "id": "kiwi-freight",
        "name": ORG_NAME,
        "env_tag_key": "env",
        "scrub": {
            "customers": [
                {
                    "name": ORG_NAME,
                    "aliases": ["Kiwi Freight", "KFL", "kiwifreight", "kiwi-freight"],
                    "persona": "freight-logistics-customer",
                }
            ],
            "people": ["Tom Baker", "Aroha Ngata", "Liam Wong"],
        },
    }
    return registers_for(customer, demo_accounts(), VPCS)


REGS = demo_registers()


def s(text: str, regs: ScrubRegisters | None = REGS) -> str:
    return scrub(text, regs).text


def test_account_types_from_env_tag_and_name() -> None:
    assert REGS.accounts["318274650011"] == "prod-account"
    assert REGS.accounts["318274650044"] == "dr-account"
    assert REGS.accounts["318274650088"] == "dev-account"
    assert REGS.accounts["318274650055"] == "staging-account"
    assert REGS.accounts["318274650167"] == "shared-account"  # no env tag: from the name
    assert REGS.accounts["318274650156"] == "dev-account"  # "Dev_Test"
    override = ScrubConfig(account_types={"3182-7465-0011": "payments-prod-account"})
    assert (
        account_type(AccountInfo(account_id="318274650011", tags={"env": "prod"}), override) == "payments-prod-account"
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("account 318274650011 is down", "account {prod-account} is down"),
        ("acct 3182-7465-0044", "acct {dr-account}"),
        ("acct 3182 7465 0088.", "acct {dev-account}."),
        ("account 318 274 650 011", "account {prod-account}"),
        ("arn:aws:iam::318274650011:role/x", "arn:aws:iam::{prod-account}:role/x"),
        ("https://318274650022.signin.aws.amazon.com/console", "https://{prod-account}.signin.aws.amazon.com/console"),
        ("account 402938475610", "account {account}"),
        ("arn:aws:sts::402938475610:assumed-role/R/s", "arn:aws:sts::{account}:assumed-role/R/s"),
    ],
)
def test_accounts(text: str, expected: str) -> None:
    assert s(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 202611260930 shipped",
        "tracking number 123456789012",
        "invoice #123456789012",
        "at 202611260930 the job ran",
    ],
)
def test_twelve_digit_numbers_named_as_something_else_are_kept(text: str) -> None:
    assert s(text) == text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("target 10.20.7.33 unhealthy", "target {prod-vpc} unhealthy"),
        ("subnet 10.40.8.0/22", "subnet {dr-vpc}"),
        ("peer 10.99.1.1", "peer {private-ip}"),
        ("from 203.0.113.45.", "from {public-ip}."),
        ("range 185.220.100.0/22", "range {public-network}"),
        ("node ip-10-50-3-12.ap-southeast-2.compute.internal", "node {dev-vpc}.ap-southeast-2.compute.internal"),
        ("client 2001:db8:85a3::8a2e:370:7334 blocked", "client {public-ip} blocked"),
        ("fe80::1ff:fe23:4567:890a%eth0", "{private-ip}%eth0"),
        ("ingress from 0.0.0.0/0 on 22", "ingress from 0.0.0.0/0 on 22"),
        ("agent version 10.2.0.1 installed", "agent version 10.2.0.1 installed"),
        ("at 10:42:17 and 2026-11-26T09:30:01Z", "at 10:42:17 and 2026-11-26T09:30:01Z"),
    ],
)
def test_network(text: str, expected: str) -> None:
    assert s(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mail jane.doe+x@kiwifreight.co.nz now", "mail {email} now"),
        ("call +64 21 555 0192 or 021 987 6543", "call {phone} or {phone}"),
        ("office (09) 555 7788, US +1 (415) 555-0134", "office {phone}, US {phone}"),
        ("landline 09-555-1234 / 0800 555 123", "landline {phone} / {phone}"),
    ],
)
def test_email_and_phone(text: str, expected: str) -> None:
    assert s(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hi Jane,\nthe box is down", "Hi {person},\nthe box is down"),
        ("Regards,\nTom Baker\nKiwi Freight Ltd", "Regards,\n{person}\n{freight-logistics-customer}"),
        ("Ngā mihi,\nHemi Walker", "Ngā mihi,\n{person}"),
        ('From: "Grace Liu" <grace@x.de>', 'From: "{person}" <{email}>'),
        ("@mike.chen can you check? @here", "{person} can you check? @here"),
        ("Michael Brown | Senior Network Engineer", "{person} | Senior Network Engineer"),
        ("Customer Tasman Energy Limited reports", "Customer {customer} reports"),
        ("We at Harbour Telecom Pty Ltd noticed", "We at {customer} noticed"),
        ("kiwi-freight-logs bucket", "{freight-logistics-customer}-logs bucket"),
        ("Liam Wong restarted it", "{person} restarted it"),
    ],
)
def test_people_and_customers(text: str, expected: str) -> None:
    assert s(text) == expected


KEEP = (
    "i-0123456789abcdef0 vol-0123456789abcdef0 snap-0123456789abcdef0 ami-0fedcba9876543210 vpc-0abc1234def567890 "
    "subnet-0fedcba9876543210 sg-0a1b2c3d4e5f67890 arn:aws:s3:::kf-invoices arn:aws:iam::aws:policy/AdministratorAccess "
    "OPS-1042 CHG-2201 ap-southeast-2 us-west-2 Amazon EC2 CloudWatch AWS WAF Auto Scaling Group Amazon Web Services Inc "
    "AccessDenied VcpuLimitExceeded 2026-11-26T09:30:01Z 26/11/26 09:31:00 1732611000 v1.29.3-eks-ae9a62a 3.11.9 "
    "postgres 15.4 aws-cli/2.15.30 CVE-2024-6387 502 Bad Gateway"
)


def test_keep_list_survives() -> None:
    assert s(KEEP) == KEEP
    assert s(KEEP, None) == KEEP


def test_replacements_carry_kind_span_label_not_values() -> None:
    text = "Hi Jane, account 318274650011 at 10.20.1.1, mail a@b.co"
    result = scrub(text, REGS)
    kinds = [(r.kind, r.label) for r in result.replacements]
    assert kinds == [("person", "person"), ("account", "prod-account"), ("ip", "prod-vpc"), ("email", "email")]
    for r in result.replacements:
        assert set(r.as_dict()) == {"kind", "start", "end", "label"}
        assert text[r.start : r.end] not in repr(r)
    assert result.counts() == {"person": 1, "account": 1, "ip": 1, "email": 1}


def test_deterministic_and_defaults_are_generic() -> None:
    text = "Regards,\nTom Baker\nKiwi Freight Ltd, account 318274650011, 10.20.1.1"
    assert s(text) == s(text) and scrub(text, REGS) == scrub(text, REGS)
    assert s(text, None) == "Regards,\n{person}\n{customer}, account {account}, {private-ip}"


def test_configuration_switches() -> None:
    regs = registers_for(ScrubConfig(detect_people=False, detect_companies=False, unknown_accounts=False))
    assert (
        s("Hi Jane, Acme Widgets Ltd, account 402938475610", regs) == "Hi Jane, Acme Widgets Ltd, account 402938475610"
    )


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError):
        ScrubConfig(network_tiers=[{"cidr": "10.0.0.300/8", "tier": "x"}])
    with pytest.raises(ValueError):
        ScrubConfig(account_types={"12345": "prod-account"})
    with pytest.raises(ValueError):
        ScrubConfig.model_validate({"unknown_key": 1})


@pytest.mark.timeout(60)
def test_pathological_input_finishes() -> None:
    """Catastrophic backtracking on these shapes would run for hours; a hang guard, not a speed
    measurement (bench/ measures speed)."""
    blob = ("A" * 5000 + " " + "1" * 5000 + " " + "a." * 3000 + "@" + "x-" * 3000 + " " + ":" * 3000 + " ") * 20
    assert isinstance(scrub(blob, REGS), ScrubResult)
