"""The scrub section of a customer's configuration, apart from the scrubber.

The configuration loader imports these models on every DAG parse; the scrubber itself compiles
its patterns at import (tenths of a second), so it lives in include/itsm/scrub/domain.py.
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_ENV_ACCOUNT_TYPES: dict[str, str] = {
    "prod": "prod-account",
    "production": "prod-account",
    "prd": "prod-account",
    "live": "prod-account",
    "dr": "dr-account",
    "disaster-recovery": "dr-account",
    "recovery": "dr-account",
    "staging": "staging-account",
    "stage": "staging-account",
    "stg": "staging-account",
    "preprod": "staging-account",
    "pre-prod": "staging-account",
    "uat": "staging-account",
    "sit": "staging-account",
    "qa": "staging-account",
    "test": "staging-account",
    "dev": "dev-account",
    "development": "dev-account",
    "sandbox": "dev-account",
    "nonprod": "nonprod-account",
    "non-prod": "nonprod-account",
    "shared": "shared-account",
    "network": "shared-account",
    "security": "shared-account",
    "log": "shared-account",
    "logging": "shared-account",
    "audit": "shared-account",
    "management": "shared-account",
    "transit": "shared-account",
}
DEFAULT_COMPANY_SUFFIXES = (
    "Ltd",
    "Ltd.",
    "Limited",
    "Inc",
    "Inc.",
    "Incorporated",
    "LLC",
    "L.L.C.",
    "LLP",
    "GmbH",
    "AG",
    "PLC",
    "Plc",
    "plc",
    "Corp",
    "Corp.",
    "Corporation",
    "Pty",
    "Pty.",
    "S.A.",
    "SAS",
    "B.V.",
    "BV",
    "N.V.",
    "K.K.",
    "Co.",
    "Holdings",
    "KG",
    "KGaA",
    "e.V.",
    "S.p.A.",
    "SpA",
    "S.r.l.",
    "Srl",
    "SARL",
    "S.L.",
    "Oy",
    "A/S",
    "ApS",
    "Sdn Bhd",
    "Bhd",
    "Pte",
)
# Nouns that end an organisation's name ("Harbour Freight Logistics", "Victoria University") or, with "of",
# start one ("University of Auckland"); unlike the legal suffixes they also end ordinary phrases, so a
# name is only taken when the noun is not followed by another capitalised word.
DEFAULT_ORGANISATION_NOUNS = (
    "University",
    "College",
    "Institute",
    "Foundation",
    "Council",
    "Ministry",
    "Labs",
    "Bank",
    "Partners",
    "Associates",
    "Consulting",
    "Airlines",
    "Airways",
    "Insurance",
    "Logistics",
    "Freight",
    "Telecom",
    "Hospital",
)
# Vendors and platforms that appear in incident text with a company suffix but are not customers.
DEFAULT_VENDORS = (
    "Amazon",
    "Amazon Web Services",
    "AWS",
    "Microsoft",
    "Google",
    "Atlassian",
    "Datadog",
    "PagerDuty",
    "Cloudflare",
    "Okta",
    "Slack",
    "GitHub",
    "HashiCorp",
    "Oracle",
    "Red Hat",
)


class CustomerEntry(BaseModel):
    """One customer name to hide, its aliases (short names, domains, bucket prefixes) and persona label."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2)
    aliases: list[str] = Field(default_factory=list)
    persona: str = "customer"  # e.g. freight-logistics-customer -> {freight-logistics-customer}


class NetworkTier(BaseModel):
    """A discovered (or configured) network and the tier label that replaces its addresses."""

    model_config = ConfigDict(extra="forbid")

    cidr: str
    tier: str  # prod-vpc, dr-vpc, ...

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not a CIDR: {exc}") from None


class ScrubConfig(BaseModel):
    """The scrub section of a customer's configuration (mounted as `Customer.scrub`)."""

    model_config = ConfigDict(extra="forbid")

    persona: str = "customer"  # the label for the customer's own name when `customers` does not list it
    customers: list[CustomerEntry] = Field(default_factory=list)
    account_types: dict[str, str] = Field(default_factory=dict)  # account id -> type label (overrides tags)
    env_account_types: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ENV_ACCOUNT_TYPES))
    network_tiers: list[NetworkTier] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    company_suffixes: list[str] = Field(default_factory=lambda: list(DEFAULT_COMPANY_SUFFIXES))
    vendors: list[str] = Field(default_factory=lambda: list(DEFAULT_VENDORS))
    detect_people: bool = True  # context rules (greetings, signatures, headers, mentions, first names)
    detect_companies: bool = True  # company-suffix rule
    unknown_accounts: bool = True  # account-shaped 12-digit numbers not in the register -> {account}

    @field_validator("account_types")
    @classmethod
    def _account_ids(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, label in value.items():
            digits = re.sub(r"[\s-]", "", str(key))
            if not re.fullmatch(r"\d{12}", digits):
                raise ValueError(f"{key!r}: not a 12-digit account id")
            out[digits] = label
        return out
