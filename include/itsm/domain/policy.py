"""Policy: everything an organisation tunes about intake and classification.

Pydantic models whose defaults are the seed's values (the "ITSM Lifecycle Golden Path"
and DESIGN section 6). `include/itsm/config.py` loads a deployment's YAML into `Policy`;
the domain only ever reads these models, so changing policy never means changing code.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from include.itsm.domain.change_policy import ChangePolicy

SERVICE_TYPES = ("compute", "storage", "network", "identity", "database")
ENVIRONMENTS = ("prod", "staging", "dev", "dr")
PRIORITIES = ("P0", "P1", "P2", "P3", "P4")
ACCOUNT_ID = re.compile(r"^\d{12}$")


def _not_blank(word: str) -> str:
    if not word.strip():
        raise ValueError("a blank word would match the spaces between any two words")
    return word


Word = Annotated[str, AfterValidator(_not_blank)]  # a keyword or alias the ticket text is scanned for


class _Strict(BaseModel):
    """A misspelt key in a policy file must fail at start, not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelTaxonomy(_Strict):
    """The 6-prefix taxonomy plus the two change-routing prefixes, values as in the seed."""

    values: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "blast": ("single-service", "single-account", "multi-account", "org-wide"),
            "rca": ("code-defect", "config-drift", "infra-failure", "human-error", "3rd-party"),
            "service": ("cloudops", "finops", "network", "identity", "compute"),
            "env": ENVIRONMENTS,
            "tier": ("critical", "important", "best-effort"),
            "itsm-type": ("incident", "problem", "change", "service-request"),
            "cr": ("standard", "normal", "emergency"),
        }
    )
    # `ke:` values are references into the known-error register, not a fixed list.
    known_error_prefix: str = "known-error-"
    # Values a label may carry when the fact is not (yet) known; the quality gate reports them.
    placeholders: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "rca": ("unknown", "not-applicable"),
            "ke": ("none",),
            "service": ("unknown",),
            "env": ("unknown",),
        }
    )
    required_prefixes: tuple[str, ...] = ("blast", "rca", "ke", "service", "env", "tier")
    # Non-canonical labels seen in the wild (the seed's own worked example writes two of
    # them) and their canonical replacement. Service and environment aliases come from
    # the service catalogue and the environment aliases, so they are not repeated here.
    aliases: dict[str, str] = Field(
        default_factory=lambda: {
            "blast:multi-service": "blast:multi-account",
            "blast:single": "blast:single-service",
            "blast:org": "blast:org-wide",
            "blast:platform-wide": "blast:org-wide",
            "tier:tier-1": "tier:critical",
            "tier:tier-2": "tier:important",
            "tier:tier-3": "tier:best-effort",
            "rca:third-party": "rca:3rd-party",
            "rca:vendor": "rca:3rd-party",
            "rca:bug": "rca:code-defect",
            "rca:misconfiguration": "rca:config-drift",
            "rca:hardware": "rca:infra-failure",
            "rca:operator-error": "rca:human-error",
            "itsm-type:service_request": "itsm-type:service-request",
            "itsm-type:task": "itsm-type:change",
        }
    )

    @model_validator(mode="after")
    def _aliases_point_at_canonical_labels(self) -> LabelTaxonomy:
        for alias, target in self.aliases.items():
            prefix, _, value = target.partition(":")
            if value not in self.values.get(prefix, ()):
                raise ValueError(f"label alias {alias!r} points at {target!r}, which is not in the taxonomy")
        return self


class ServiceType(_Strict):
    """One entry of the service catalogue: the words that name it and its label domain."""

    name: str
    domain: str  # the `service:` label value
    keywords: tuple[Word, ...]


class ServiceCatalogue(_Strict):
    """Service types the runbooks catalogue knows, per DESIGN 6 (storage/database -> cloudops)."""

    types: tuple[ServiceType, ...] = (
        ServiceType(
            name="compute",
            domain="compute",
            keywords=(
                "ec2", "instance", "instances", "ami", "autoscaling", "auto scaling", "asg",
                "lambda", "ecs", "eks", "fargate", "kubernetes", "k8s", "container", "vm",
                "server", "servers", "cpu", "instance scheduler", "compute", "spot", "host",
            ),
        ),
        ServiceType(
            name="storage",
            domain="cloudops",
            keywords=(
                "s3", "bucket", "buckets", "ebs", "volume", "volumes", "snapshot", "snapshots",
                "efs", "fsx", "glacier", "storage", "object lock", "lifecycle rule", "backup", "aws backup",
            ),
        ),
        ServiceType(
            name="network",
            domain="network",
            keywords=(
                "vpc", "subnet", "security group", "nacl", "network acl", "route table",
                "transit gateway", "tgw", "dns", "route 53", "route53", "load balancer", "alb",
                "nlb", "elb", "nat gateway", "vpn", "direct connect", "cloudfront", "network",
                "connectivity", "firewall", "peering", "cidr", "eni", "flow logs", "packet loss",
            ),
        ),
        ServiceType(
            name="identity",
            domain="identity",
            keywords=(
                "iam", "role", "sso", "identity center", "permission", "permissions",
                "access denied", "accessdenied", "mfa", "saml", "okta", "credentials",
                "access key", "scp", "cognito", "assume role", "assumerole", "identity",
                "unauthorized", "not authorized",
            ),
        ),
        ServiceType(
            name="database",
            domain="cloudops",
            keywords=(
                "rds", "aurora", "database", "db", "dynamodb", "postgres", "postgresql",
                "mysql", "sql server", "mssql", "oracle", "redshift", "elasticache", "redis",
                "read replica", "replica", "db instance", "rds instance",
            ),
        ),
    )
    # Words that make a ticket a cost/billing matter: `service:finops`.
    finops_keywords: tuple[str, ...] = (
        "cost", "costs", "billing", "bill", "invoice", "spend", "cost explorer", "budget",
        "savings plan", "reserved instance", "chargeback", "finops",
    )
    finops_domain: str = "finops"

    @field_validator("types")
    @classmethod
    def _known_types(cls, types: tuple[ServiceType, ...]) -> tuple[ServiceType, ...]:
        unknown = {t.name for t in types} - set(SERVICE_TYPES)
        if unknown:
            raise ValueError(f"service types {sorted(unknown)} are not in {SERVICE_TYPES}")
        return types

    def by_name(self, name: str) -> ServiceType | None:
        return next((t for t in self.types if t.name == name), None)

    def domain_of(self, name_or_keyword: str) -> str | None:
        """The label domain for a type name or any of its keywords (`ec2` -> `compute`)."""
        word = name_or_keyword.lower()
        for service in self.types:
            if word == service.name or word in service.keywords:
                return service.domain
        if word in self.finops_keywords or word == self.finops_domain:
            return self.finops_domain
        return None


class EnvironmentAliases(_Strict):
    """Canonical environment -> the words people use for it (DESIGN 6)."""

    aliases: dict[str, tuple[Word, ...]] = Field(
        default_factory=lambda: {
            "prod": ("prod", "production", "prd", "producción", "produccion", "produktion", "本番"),
            "staging": ("staging", "stage", "stg", "preprod", "pre-prod", "sit", "uat", "ステージング", "検証環境"),
            "dev": ("dev", "development", "sandbox", "desarrollo", "開発"),
            "dr": ("dr", "disaster recovery"),
        }
    )
    # Aliases that are also English words ("sit", "stage", "Dr."): they count only when
    # written in capitals or qualified (`sit-core`, `stage environment`).
    ambiguous: tuple[str, ...] = ("sit", "stage", "dr")

    @field_validator("aliases")
    @classmethod
    def _canonical_keys(cls, aliases: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        unknown = set(aliases) - set(ENVIRONMENTS)
        if unknown:
            raise ValueError(f"environments {sorted(unknown)} are not in {ENVIRONMENTS}")
        return aliases

    def canonical(self, word: str) -> str | None:
        word = word.lower()
        return next((env for env, words in self.aliases.items() if word in words), None)


class SlaPolicy(_Strict):
    """Time to resolve per priority. Calendar time unless a business calendar is configured."""

    resolve_within: dict[str, timedelta] = Field(
        default_factory=lambda: {
            "P0": timedelta(minutes=15),
            "P1": timedelta(hours=1),  # not given by the seed: DESIGN 6 default
            "P2": timedelta(hours=4),
            "P3": timedelta(hours=8),
            "P4": timedelta(days=5),
        }
    )
    calendar: str = "calendar"  # or the name of a configured business-hours calendar

    @field_validator("resolve_within")
    @classmethod
    def _every_priority(cls, sla: dict[str, timedelta]) -> dict[str, timedelta]:
        missing = set(PRIORITIES) - set(sla)
        if missing:
            raise ValueError(f"SLA missing for {sorted(missing)}")
        return sla


class KnownError(_Strict):
    """An entry of the known-error database: a ticket matching a pattern gets `ke:known-error-<id>`."""

    id: str
    service: str
    rca: str
    title: str = ""
    patterns: tuple[str, ...]  # case-insensitive regular expressions

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            re.compile(pattern)
        return patterns


class TierRules(_Strict):
    """Business impact tier (critical/important/best-effort, never tier-1/2/3)."""

    by_environment: dict[str, str] = Field(
        default_factory=lambda: {"prod": "critical", "dr": "important", "staging": "important", "dev": "best-effort"}
    )
    default: str = "important"
    # Discovery saw production resources in scope: the tier is at least this.
    prod_resources: str = "critical"


class BlastRules(_Strict):
    """When a scope counts as org-wide (the P0 threshold) rather than multi-account."""

    org_wide_account_share: float = Field(default=0.5, gt=0, le=1)
    org_wide_min_accounts: int = Field(default=3, ge=2)


class BridgeRules(_Strict):
    """The pattern bridge's thresholds (the seed's values as defaults)."""

    window_days: int = Field(default=90, ge=1)
    min_incidents: int = Field(default=3, ge=2)
    mttr_factor: float = Field(default=3.0, gt=0)
    lookback_days: int = Field(default=180, ge=1)  # history loaded: windows may end on any day in it
    excluded_rca: tuple[str, ...] = ("unknown", "not-applicable")
    pir_priorities: tuple[str, ...] = ("P0", "P1")
    pir_due_days: int = Field(default=5, ge=0)  # a PIR is due this many days after resolution


class Policy(_Strict):
    """The root of the policy configuration (loaded from YAML by `include.itsm.config`)."""

    taxonomy: LabelTaxonomy = Field(default_factory=LabelTaxonomy)
    services: ServiceCatalogue = Field(default_factory=ServiceCatalogue)
    environments: EnvironmentAliases = Field(default_factory=EnvironmentAliases)
    sla: SlaPolicy = Field(default_factory=SlaPolicy)
    known_errors: tuple[KnownError, ...] = ()
    tiers: TierRules = Field(default_factory=TierRules)
    blast: BlastRules = Field(default_factory=BlastRules)
    change: ChangePolicy = Field(default_factory=ChangePolicy)  # steps 4-8: gates, CAB, windows, costs
    bridge: BridgeRules = Field(default_factory=BridgeRules)  # the OPS -> SPM pattern bridge
    # The organisation's account ids, for offline triage where Organizations is not asked.
    org_accounts: tuple[str, ...] = ()

    @field_validator("org_accounts")
    @classmethod
    def _twelve_digits(cls, accounts: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in accounts if not ACCOUNT_ID.match(a)]
        if bad:
            raise ValueError(f"org_accounts entries {bad} are not 12-digit account ids")
        return accounts
