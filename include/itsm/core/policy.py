"""Policy: everything an organisation tunes about intake and classification.

Pydantic models whose defaults are the seed's values (the "ITSM Lifecycle Golden Path"
and docs/architecture.md §7). `include/itsm/config.py` loads a deployment's YAML into `Policy`;
the domain only ever reads these models, so changing policy never means changing code.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from include.itsm.core.change_policy import ChangePolicy
from include.itsm.core.vocab import Environment, Tier

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
    """One entry of the service catalogue: the words that name it and its label domain.

    `keywords` name the service outright (AWS service names, resource nouns); `related` are the
    plain words a status page or a user uses for it ("sign in", "website", "search index"), weaker
    because they are also used loosely."""

    name: str
    domain: str  # the `service:` label value
    keywords: tuple[Word, ...]
    related: tuple[Word, ...] = ()


class BusinessService(_Strict):
    """A service the operations team runs for the customer, as its service catalogue lists it.

    The catalogue, not the ticket's wording, knows where the service runs and how much the business
    depends on it: a ticket that names it takes its environment (unless the summary names one) and
    its tier. The words are the names people use for it ("instance scheduler")."""

    name: str
    words: tuple[Word, ...] = Field(min_length=1)
    environment: Environment
    tier: Tier


class ServiceCatalogue(_Strict):
    """Service types the runbooks catalogue knows, per docs/architecture.md §7 (storage/database -> cloudops),
    and the business services the team runs (`business`, empty by default: each deployment lists its own)."""

    business: tuple[BusinessService, ...] = ()

    types: tuple[ServiceType, ...] = (
        ServiceType(
            name="compute",
            domain="compute",
            keywords=(
                "ec2",
                "instance",
                "instances",
                "ami",
                "autoscaling",
                "auto scaling",
                "asg",
                "lambda",
                "ecs",
                "eks",
                "fargate",
                "kubernetes",
                "k8s",
                "container",
                "vm",
                "server",
                "servers",
                "cpu",
                "instance scheduler",
                "compute",
                "spot",
                "host",
                "emr",
                "elastic mapreduce",
                "ssm",
                "systems manager",
                "patch baseline",
                "patch manager",
                "maintenance window",
            ),
            related=(
                "api",
                "apis",
                "endpoint",
                "endpoints",
                "web",
                "website",
                "web site",
                "site",
                "web app",
                "web application",
                "application",
                "applications",
                "app",
                "apps",
                "portal",
                "dashboard",
                "ui",
                "front end",
                "frontend",
                "backend",
                "control plane",
                "control panel",
                "runner",
                "runners",
                "job",
                "jobs",
                "workflow",
                "workflows",
                "build",
                "builds",
                "deployments",
                "function",
                "functions",
                "serverless",
                "pod",
                "pods",
                "node",
                "nodes",
                "virtual machine",
                "virtual machines",
                "machine",
                "machines",
                "droplet",
                "droplets",
                "codespaces",
                "model",
                "models",
                "inference",
                "kernel",
                "operating system",
                "processing",
                "cli",
                "automation",
                "automations",
                "bot",
                "bots",
                "vmware",
                "power outage",
                "power outages",
                "power failure",
                "power loss",
                "loss of power",
                "data center",
                "data centers",
                "data centre",
                "data centres",
                "datacenter",
                "datacenters",
                "home page",
                "web page",
                "web pages",
                "page load",
            ),
        ),
        ServiceType(
            name="storage",
            domain="cloudops",
            keywords=(
                "s3",
                "bucket",
                "buckets",
                "ebs",
                "volume",
                "volumes",
                "snapshot",
                "snapshots",
                "efs",
                "fsx",
                "glacier",
                "storage",
                "object lock",
                "lifecycle rule",
                "backup",
                "aws backup",
                "recycle bin",
            ),
            related=(
                "object storage",
                "spaces",
                "repository",
                "repositories",
                "repo",
                "repos",
                "git",
                "lfs",
                "artifact",
                "artifacts",
                "registry",
                "registries",
                "container registry",
                "packages",
                "package registry",
                "attachments",
                "uploads",
                "archive",
                "archives",
                "disk",
                "disks",
                "file storage",
                "blob",
                "blobs",
            ),
        ),
        ServiceType(
            name="network",
            domain="network",
            keywords=(
                "vpc",
                "subnet",
                "security group",
                "nacl",
                "network acl",
                "route table",
                "transit gateway",
                "tgw",
                "dns",
                "route 53",
                "route53",
                "load balancer",
                "alb",
                "nlb",
                "elb",
                "nat gateway",
                "vpn",
                "direct connect",
                "cloudfront",
                "network",
                "connectivity",
                "firewall",
                "peering",
                "cidr",
                "eni",
                "flow logs",
                "packet loss",
                "acm",
            ),
            related=(
                "certificate",
                "certificates",
                "tls",
                "ssl",
                "networking",
                "cdn",
                "edge network",
                "edge networking",
                "edge site",
                "edge sites",
                "edge location",
                "edge locations",
                "edge servers",
                "sms",
                "mms",
                "load balancing",
                "routing",
                "route",
                "routes",
                "bgp",
                "backbone",
                "fiber",
                "fibre",
                "subsea cable",
                "subsea cables",
                "submarine cable",
                "submarine cables",
                "undersea cable",
                "cable cut",
                "cable cuts",
                "cable fault",
                "cable faults",
                "transit",
                "congestion",
                "isp",
                "carrier",
                "carriers",
                "https",
                "proxy",
                "proxies",
                "internet",
                "packets",
                "router",
                "routers",
                "wan",
                "expressroute",
                "resolver",
            ),
        ),
        ServiceType(
            name="identity",
            domain="identity",
            keywords=(
                "iam",
                "role",
                "sso",
                "identity center",
                "permission",
                "permissions",
                "access denied",
                "accessdenied",
                "mfa",
                "saml",
                "okta",
                "credentials",
                "access key",
                "scp",
                "cognito",
                "assume role",
                "assumerole",
                "identity",
                "unauthorized",
                "not authorized",
                "kms",
                "key management service",
                "cmk",
            ),
            related=(
                "login",
                "logins",
                "log in",
                "sign in",
                "sign-in",
                "signin",
                "sign on",
                "authentication",
                "authenticate",
                "auth",
                "authorization",
                "authorize",
                "oauth",
                "token",
                "tokens",
                "credential",
                "password",
                "passwords",
                "2fa",
                "two-factor",
                "identity provider",
                "idp",
                "ldap",
                "active directory",
                "directory",
                "session",
                "sessions",
                "admin console",
            ),
        ),
        ServiceType(
            name="database",
            domain="cloudops",
            keywords=(
                "rds",
                "aurora",
                "database",
                "db",
                "dynamodb",
                "postgres",
                "postgresql",
                "mysql",
                "sql server",
                "mssql",
                "oracle",
                "redshift",
                "elasticache",
                "redis",
                "read replica",
                "replica",
                "db instance",
                "rds instance",
            ),
            related=(
                "databases",
                "data store",
                "datastore",
                "mongodb",
                "elasticsearch",
                "search index",
                "index",
                "indexes",
                "query",
                "queries",
                "replication",
                "schema",
                "sql",
                "cache",
                "caching",
                "caching layer",
                "key-value store",
                "key value store",
                "cassandra",
                "vitess",
                "memcached",
                "clusters",
            ),
        ),
    )
    # Words that make a ticket a cost/billing matter: `service:finops`.
    finops_keywords: tuple[str, ...] = (
        "cost",
        "costs",
        "billing",
        "bill",
        "invoice",
        "spend",
        "cost explorer",
        "budget",
        "savings plan",
        "reserved instance",
        "chargeback",
        "finops",
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

    def business_named(self, name: str | None) -> BusinessService | None:
        return next((b for b in self.business if b.name == name), None)

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
    """Canonical environment -> the words people use for it (docs/architecture.md §7)."""

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
            "P1": timedelta(hours=1),  # not given by the seed: docs/architecture.md §7 default
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


RCA_CATEGORIES = ("code-defect", "config-drift", "infra-failure", "human-error", "3rd-party")

# Shared pieces of the cue patterns below (lower-case regular expressions, whole words).
FAILURE_NOUN = (
    r"(?:outages?|incidents?|issues?|failures?|interruptions?|disruptions?|degradations?|problems?|faults?"
    r"|impairments?|errors?)"
)
_PROVIDER = r"(?:providers?|vendors?|carriers?|isps?|suppliers?)"
# A word that can stand between a noun and what describes it ("cloud", "us-east-1"), not a
# function word: "working with our carrier partner to resolve the issue" blames nobody.
MODIFIER = (
    r"(?!(?:to|on|the|an?|with|for|about|regarding|of|in|and|or|is|are|was|were|has|have|had|been|be|that"
    r"|which|who|we|our|us|it|its|this|these|their|they|will|would|can|could|may|might)\b)[\w'’-]+"
)
# What a person does by mistake: "deleted ... by mistake", "mistakenly executed".
_ACTION = (
    r"deleted|removed|terminated|dropped|disabled|changed|modified|overwr\w+|shut\w*|stopped|killed|wiped|truncated"
    r"|purged|revoked|ran|run|executed|issued|typed|entered|pushed|deployed|applied|rebooted|restarted|detached"
    r"|destroyed|erased|unplugged|reverted|triggered|set|pointed|merged|renamed|moved|invoked|started|updated|edited"
    r"|rotated|committed|uploaded|published|made|granted|attached|added|replaced|copied|closed|opened|exposed|shared"
    r"|sent|cleared|reset|reconfigured|scaled|resized|detached|unmounted|formatted|flushed|failed over|switched"
)
_A = r"(?:one of )?(?:our |an? |the |their |its |multiple |several |some )?"
# "an issue with the Dynamic Provider Credentials" is about credentials, not a provider.
_NOT_MODIFYING = r"(?! (?:credentials?|tokens?|plugins?|configurations?|settings?|blocks?|registry|sdks?|apis?|schemas?"
_NOT_MODIFYING += r"|versions?|names?|ids?|accounts?|portal|dashboard|integrations?)\b)"
_NOT_CONFIG = (
    r"(?!(?:config\w*|dns|firewall|network\w*|routing|settings?|flags?)\b)"  # an unnamed change, not a setting
)


class CueSet(_Strict):
    """Patterns that state a cause of one rca category.

    `clause_only`: counted only inside a cause clause (the words after "due to", before "caused",
    under "Root cause:"), because outside one they do not say why ("a change", "capacity").
    `fallback`: weaker than the category's other cues: read only when no other cue is stated in
    the same place (an unnamed change that was rolled back is a code defect unless the text calls
    it a configuration change). `before`: see below. Patterns are lower-case regular expressions matched as whole
    words; a space stands for any run of whitespace."""

    category: str
    patterns: tuple[Word, ...]
    clause_only: bool = False
    fallback: bool = False
    # What the words before a cue (in its sentence) must end with: the cue is the rare word the
    # scan looks for, this the context that makes it a cause ("deleted ... by mistake").
    before: str | None = None
    # False: an outside party named with the cue does not make it 3rd-party (a fibre cut is
    # infra-failure even when a carrier owns the cable).
    party_outranks: bool = True

    @field_validator("category")
    @classmethod
    def _known_category(cls, category: str) -> str:
        if category not in RCA_CATEGORIES:
            raise ValueError(f"rca category {category!r} is not one of {RCA_CATEGORIES}")
        return category

    @field_validator("before")
    @classmethod
    def _before_compiles(cls, before: str | None) -> str | None:
        if before is not None:
            re.compile(before)
        return before

    @field_validator("patterns")
    @classmethod
    def _lower_case_patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            re.compile(pattern)
            if re.search(r"[A-Z]", re.sub(r"\\.", "", pattern)):
                raise ValueError(f"cue pattern {pattern[:60]!r} must be lower case")
        return patterns


class CauseRules(_Strict):
    """How a stated cause is read: classify's rca and intake's weighting of the failing component.

    A cause clause is the text a connective points at: after `after` ("due to a bad deploy"), before
    `before` ("a bad deploy caused ..."), or under a heading ("Root cause: ..."). The rca is the
    category of the cue nearest the connective in the first clause that holds one; with no clause
    that names a kind of cause, the first cue stated anywhere. Hedged or negated connectives and
    cues ("may be due to", "not a bug") state nothing. A person's hand-run action outranks the
    misconfiguration it made; a named outside party's failure outranks the power or hardware fault
    behind it. Every pattern is a lower-case regular expression matched as whole words.
    """

    after: tuple[Word, ...] = (
        r"due to",
        r"owing to",
        r"because of",
        r"because",
        r"caused by",
        r"as a result of",
        r"(?:the|a) result of",
        r"result(?:ed|ing|s)? from",
        r"triggered by",
        r"traced (?:back )?to",
        r"attributed to",
        r"attributable to",
        r"stemm(?:ed|ing|s) from",
        r"originat(?:ed|ing) (?:from|in)",
        r"(?:root |underlying |primary |main |proximate )?causes? (?:of (?:the |this |these )?(?:[\w-]+ ){0,3}?)?"
        r"(?:was|were|is|are)(?! (?:identified|determined|found|being|still|not|under|unknown|addressed|fixed|resolved"
        r"|mitigated|understood|known|confirmed|investigated|clear|unclear|corrected|remediated)\b)",
        r"(?:identified|determined|confirmed|found) (?:the |this |that )?(?:(?:root |underlying )?cause|issue|problem"
        r"|incident|failure|outage|error)(?: of (?:the |this )?(?:[\w-]+ ){0,3}?)? (?:as|to be)",
        r"(?:identified|determined|confirmed|found|shown|believed) to (?:be|have been)(?! (?:resolved|fixed|mitigated)\b)",
    )
    before: tuple[Word, ...] = (
        r"caused(?! by)",
        r"causing",
        r"led to",
        r"leading to",
        r"resulted in",
        r"resulting in",
        r"triggered(?! by)",
        r"triggering",
        r"took down",
        r"brought down",
        r"(?:was|were|is) to blame",
        r"(?:was|were|is|are) responsible for",
        r"as the (?:likely |probable |root |main |primary |underlying )?cause",
        r"(?:was|were|is) (?:the |a )?(?:likely |probable |root |main |primary |underlying |proximate )?cause of",
    )
    headings: tuple[Word, ...] = (
        r"root causes?(?: analysis)?\s*[:\-–]",
        r"rca\s*:",
        r"cause\s*:",
        r"what went wrong(?:,? and why)?\s*\??",
        r"why (?:did )?(?:this|it) happen(?:ed)?\s*\??",
    )
    cue_sets: tuple[CueSet, ...] = (
        CueSet(
            category="human-error",
            patterns=(
                r"human errors?",
                r"operator errors?",
                r"manual errors?",
                rf"(?:mistakenly|accidentally|unintentionally|erroneously) (?:[\w-]+ )?(?:{_ACTION})",
                r"accidental (?:deletion|removal|change|push|deploy\w*|shutdown|termination|overwrite|execution|rollout)",
                r"fat[- ]finger\w*",
                r"mis-?typed",
                r"typo in (?:a |an |the )?(?:[\w-]+ )?command",
                r"incorrectly (?:entered|typed)",
                r"someone (?:deleted|removed|terminated|changed|ran|dropped)",
                r"(?:deleted|removed|terminated|changed|dropped|disabled) by (?:someone|an? (?:engineer|operator|admin\w*"
                r"|user|colleague|employee|team member|technician))",
                r"wrong (?:account|environment|instance|cluster|bucket|server|host|database|region|table)",
                r"by (?:[\w-]+ ){0,2}operators?",
                r"(?:authori[sz]ed )?(?:operators?|engineers?|technicians?|administrators?|admins?) (?:executed|ran|issued"
                r"|entered|typed|mistakenly|accidentally|manually)",
                r"manually (?:invoked|triggered|run|ran|executed|initiated|issued|started)",
                r"(?:deleted|removed|dropped|terminated|purged) (?:as part of|during) (?:an? |the )?(?:[\w-]+ ){0,2}clean-?up",
                r"(?:a|the) command (?:given|issued|executed|entered|typed|run)",
                r"(?:left|leaving) (?:[\w-]+ ){0,3}blank",
                r"without (?:the )?(?:required |necessary |proper |usual )?safety (?:flags|checks|guards?)",
            ),
        ),
        CueSet(  # the mistake after what was done by it: "deleted ... by mistake", "removed accidentally"
            category="human-error",
            patterns=(r"by mistake|in error|mistakenly|accidentally|unintentionally",),
            before=rf"\b(?:{_ACTION})\b[^.!?\n]{{0,40}}",
        ),
        CueSet(
            category="human-error",
            patterns=(r"(?:entered|typed|specified|given) incorrectly",),
            before=r"\b(?:command|input|parameter|argument)s?\b[^.!?\n]{0,40}",
        ),
        CueSet(
            category="human-error",
            patterns=(r"(?:against|in) the wrong", r"against prod(?:uction)?"),
            before=r"\b(?:ran|run|executed)\b[^.!?\n]{0,30}",
        ),
        CueSet(
            category="3rd-party",
            patterns=(
                rf"{FAILURE_NOUN} (?:happening |occurring |reported |experienced )?(?:at|with|of|from|on|in|across"
                rf"|within) {_A}(?:{MODIFIER} ){{0,3}}?{_PROVIDER}{_NOT_MODIFYING}",
                rf"{_PROVIDER}(?:'s|’s|s'|s’)? (?:{MODIFIER} ){{0,2}}?{FAILURE_NOUN}",
                rf"{_PROVIDER} (?:has |have |had )?(?:is |are |was |were |been )?(?:confirmed|reported|acknowledged"
                rf"|experienc\w+|suffer\w*|having) (?:an? |the |some )?(?:{MODIFIER} ){{0,2}}?{FAILURE_NOUN}",
                rf"{_PROVIDER} (?:has |have |had )?(?:failed|went down|(?:is|was|were|are) down|had an outage)",
                r"(?:third|3rd)[- ]party (?:[\w-]+ ){0,2}?(?:providers?|vendors?|services?|outages?|issues?|failures?"
                r"|incidents?|components?|apis?|partners?|systems?)",
                r"upstream (?!(?:kernel|librar\w*|packages?|dependenc\w*|releases?|code|software|versions?|bugs?|patch\w*"
                r"|projects?|fix\w*)\b)(?:[\w-]+ ){0,3}?(?:providers?|vendors?|outages?|incidents?|issues?|failures?"
                r"|disruptions?|partners?|carriers?|isps?|problems?)",
                r"(?:third|3rd)[- ]party(?=\s*[).,;:!?])",
                r"d?dos attacks?",
                r"denial[- ]of[- ]service attacks?",
                r"(?:cyber|ransomware|malicious|volumetric) ?attacks?",
                r"attackers?",
                r"(?:on|at) (?:their|the vendor'?s|the provider'?s) side",
                r"(?:their|vendor|provider)(?:'s)? status page",
            ),
        ),
        CueSet(  # the provider is named in a cause clause: "slower VM allocation from our cloud provider"
            category="3rd-party",
            clause_only=True,
            patterns=(
                r"(?:cloud|compute|hosting|infrastructure|service|dns|cdn|network|internet|transit|backbone|telecom\w*"
                r"|payment|e-?mail|sms|billing|login|identity|auth\w*|model|data ?cent(?:er|re)|colo\w*|saas|upstream"
                r"|external|outside|third[- ]party|3rd[- ]party) (?:[\w-]+ )?providers?",
                r"(?:third|3rd)[- ]party",
            ),
        ),
        CueSet(
            category="infra-failure",
            patterns=(
                r"hardware (?:failures?|faults?|issues?|problems?|malfunctions?|degradation|errors?)",
                r"(?:faulty|failed|failing|defective|degraded|broken|malfunctioning|bad|damaged) (?:[\w-]+ )?(?:hardware"
                r"|disks?|drives?|ssds?|nics?|switch(?:es)?|routers?|line ?cards?|memory|dimms?|power suppl(?:y|ies)|psus?"
                r"|network cards?|cables?|fib(?:er|re)s?|storage devices?|hypervisors?|racks?)",
                r"(?:disks?|drives?|ssds?|switch(?:es)?|routers?|nics?|line ?cards?|hardware|hosts?|servers?|nodes?|power"
                r"|cooling|ups|generators?|chillers?|hvac|transformers?|network devices?|network equipment"
                r"|data ?cent(?:er|re)s?|facilit(?:y|ies)|racks?|hypervisors?) (?:failures?|faults?|outages?|malfunctions?)",
                r"power (?:loss|losses|outages?|failures?|cuts?|issues?|events?|interruptions?|disruptions?|problems?"
                r"|surges?|fluctuations?)",
                r"(?:loss of|lost) (?:utility |mains )?power",
                r"power (?:was |had been )?(?:lost|cut)",
                r"utility power",
                r"electrical (?:failures?|faults?|issues?|problems?)",
                r"overheat\w*",
                r"thermal (?:events?|issues?)",
                r"cooling (?:failures?|issues?|problems?)",
                r"(?:lack of|lack|insufficient|exhausted|out of|ran out of|running out of|shortage of|no spare)"
                r" (?:[\w-]+ )?capacity",
                r"capacity (?:exhaustion|constraints?|shortages?)",
                r"earthquakes?",
                r"fires? (?:in|at) (?:the |a |an |our )?(?:[\w-]+ )?(?:data ?cent(?:er|re)|facility|building|colo\w*)",
                r"(?:cooling|hvac|air conditioning|chiller)(?: system| unit| plant)?s? (?:failures?|failed|malfunction\w*)",
                r"hurricanes?",
                r"typhoons?",
                r"lightning",
                r"host (?:failure|hardware)",
                r"underlying (?:host|hardware)",
                r"(?:instance|scheduled) retirement",
                r"scheduled for retirement",
                r"degraded hardware",
                r"system status check (?:failed|failure)",
                r"failed system status check",
                r"(?:az|availability zone) (?:outage|failure|impairment|power)",
                r"hypervisor",
                r"(?:degradation|degraded) of the underlying hardware",
                r"(?:ebs )?volume (?:failure|impaired)",
                r"network (?:hardware|device|switch) failure",
            ),
        ),
        CueSet(  # a cut cable is the publisher's infrastructure failing, whoever owns the cable
            category="infra-failure",
            party_outranks=False,
            patterns=(
                r"(?:fib(?:er|re)|cables?|subsea cables?|submarine cables?|undersea cables?|transit links?|backbone links?"
                r"|optical)(?: fib(?:er|re))? (?:cuts?|faults?|damages?|failures?|breaks?)",
                r"(?:fib(?:er|re)|cable)s? (?:was |were |had been )?(?:cut|damaged|severed)",
                r"cut (?:fib(?:er|re)s?|cables?)",
            ),
        ),
        CueSet(
            category="infra-failure",
            clause_only=True,
            patterns=(
                r"(?:network )?congestion",
                r"(?:traffic|load|request|connection) (?:spikes?|surges?)",
                r"(?:spikes?|surges?) (?:of|in) (?:[\w-]+ )?(?:traffic|load|requests|connections)",
                r"capacity (?:issues?|problems?)",
                r"(?:full|filled) disks?",
                r"disks? (?:space )?(?:full|exhaustion|filled up)",
                r"(?:ran |running )?out of (?:disk )?space",
                r"hardware",
                r"(?:faulty|failed|failing|defective|malfunctioning|bad|unhealthy) (?:hosts?|servers?|machines?|nodes?)",
            ),
        ),
        CueSet(
            category="config-drift",
            patterns=(
                r"mis-?configur\w*",
                r"mis-?configs?",
                r"config(?:uration)? (?:errors?|mistakes?|issues?|problems?|changes?|push(?:es)?|updates?|drift|mismatch(?:es)?"
                r"|bugs?|rollouts?|deploy(?:s|ment|ments)?|files?|bundles?)",
                r"(?:bad|faulty|incorrect|wrong|erroneous|improper|mismatched|inconsistent) (?:[\w-]+ ){0,2}?(?:config(?:uration)?s?"
                r"|settings?|parameters?|flags?|routes?|rules?|polic(?:y|ies)|thresholds?|limits?|dns records?)",
                r"(?:dns|firewall|routing|route|network|bgp|acl|waf|policy|permission|credential|certificate|setting|flag"
                r"|feature flag|rate limit|limit|quota|timeout|rule|tls|ssl|iam|security group|nacl|keepalive)s?"
                r" (?:changes?|updates?|push(?:es)?|mismatch(?:es)?)",
                r"feature flags?",
                r"(?:certificates?|certs?|credentials?|tokens?|keys?|passwords?|secrets?|domains?)(?: had| has| have| that"
                r"| which)?(?: been)? (?:expired|not renewed|not been renewed)",
                r"expired (?:[\w-]+ ){0,3}?(?:certificates?|certs?|credentials?|tokens?|keys?|passwords?|secrets?|domains?)",
                r"certificates?\b(?:[^.!?\n]|\.(?=[^\s])){0,80}?\bexpired",
                r"(?:failed|failing|broken) (?:credential|certificate|cert|key|secret|password|token) (?:rotation|renewal)s?",
                r"(?:credential|certificate|cert|key|secret|password|token) (?:rotation|renewal)s? (?:failed|failure)",
                r"(?:configured|set) (?:[\w-]+ ){0,3}?(?:too low|too high|too small|incorrectly|wrongly|lower than|higher than)",
                r"configured (?:[\w-]+ ){0,3}?limits? (?:was|were|is|are|had been) (?:set )?(?:too )?(?:low|lower|high|higher"
                r"|small)",
                r"(?:pointed|pointing|points|directed|routed|sent|misrouted) (?:at|to) (?:an? |the )?(?:incorrect|wrong)",
                r"typos?",
                r"config(?:uration)? drift",
                r"drifted",
                r"out of sync with (?:terraform|cloudformation|iac|the template|code)",
                r"manual(?:ly)? (?:changed?|edit(?:ed)?) (?:outside|in the console)",
                r"(?:security group|sg|nacl|route|rule|policy|parameter group|setting|config|configuration)s?\b[^.!?\n]{0,40}?"
                r" (?:was|were|had been|has been|have been|got) (?:changed|modified|removed|deleted|altered|overwritten|edited)",
                r"(?:edited|changed|modified) (?:manually |by hand )?in the console",
                r"by hand",
                r"not (?:configured|set up) (?:correctly|properly)",
                r"(?:was|were) never configured",
                r"(?:wrong|incorrect) (?:setting|config\w*|parameter|value)",
                r"(?:removed|changed|deleted|modified|edited) manually",
                r"manually (?:removed|changed|deleted|modified|edited)",
                r"outside (?:of )?(?:terraform|cloudformation|iac|the pipeline|change control)",
            ),
        ),
        CueSet(
            category="config-drift",
            clause_only=True,
            patterns=(
                r"(?:invalid|missing|stale|outdated|expired|revoked|wrong|incorrect) (?:[\w-]+ ){0,2}?(?:credentials?"
                r"|certificates?|certs?|keys?|tokens?|secrets?|passwords?|permissions?)",
                r"config(?:uration)?s?",
                r"settings?",
            ),
        ),
        CueSet(  # a surge that hits a configured limit ("due to hitting the API rate limit")
            category="config-drift",
            clause_only=True,
            fallback=True,
            patterns=(r"(?:rate|connection|request|concurrency|throttling) limits?", r"(?:service )?quotas?"),
        ),
        CueSet(
            category="code-defect",
            patterns=(
                r"bugs?",
                r"buggy",
                r"(?:software|code|coding|programming|logic|application) (?:bugs?|defects?|errors?|faults?|flaws?"
                r"|regressions?)",
                r"(?:software|code|application|firmware|kernel) (?:update|upgrade|release|change|push|deploy(?:ment)?)s?",
                r"defects? in",
                r"flaws? in",
                r"regressions?(?! tests?)",
                r"(?:bad|faulty|broken|buggy|defective|erroneous|flawed) (?:code|deploy(?:s|ment|ments)?|releases?|rollouts?"
                r"|roll-outs?|builds?|commits?|versions?|updates?|upgrades?|patch(?:es)?|binar(?:y|ies)|software"
                r"|pull requests?|migrations?|scripts?)",
                r"race conditions?",
                r"memory leaks?",
                r"deadlocks?",
                r"null ?pointer\w*",
                r"nullpointerexception",
                r"unhandled exceptions?",
                r"off-by-one",
                r"infinite loops?",
                r"integer overflow",
                r"edge cases?",
                r"miscalculat\w*",
                r"introduced (?:a |an )?(?:[\w-]+ ){0,2}?(?:bugs?|regressions?|defects?|incompatibilit(?:y|ies)|errors?)",
                r"introduced (?:in|by) (?:[\w-]+ ){0,3}?(?:release|version|v\d[\w.]*|deploy\w*|build|update|change)",
                r"(?:schema|database|db) migrations?",
                r"kernel (?:bugs?|issues?|panics?|regressions?|hangs?|defects?)",
                r"n\+1",
                rf"roll(?:ed|ing)? back (?:the |a |an |this |these |that |our |its |their )?(?:{_NOT_CONFIG}[\w-]+ ){{0,3}}?"
                r"(?:deploy(?:s|ment|ments)?|releases?|code|commits?|versions?|builds?|features?|prs?|pull requests?)",
                r"rollback of (?:the )?(?:[\w-]+ ){0,2}?(?:code|deploy\w*|releases?|commits?|builds?)",
                rf"revert(?:ed|ing)? (?:the |a |an |this |our )?(?:{_NOT_CONFIG}[\w-]+ ){{0,3}}?(?:deploy(?:s|ment|ments)?"
                r"|releases?|code|commits?|versions?|builds?|prs?|pull requests?)",
            ),
        ),
        CueSet(  # an unnamed change that was rolled back: code unless the text says configuration
            category="code-defect",
            fallback=True,
            patterns=(
                rf"roll(?:ed|ing)? back (?:the |a |an |this |these |that |our )?(?:{_NOT_CONFIG}[\w-]+ ){{0,2}}?(?:changes?"
                r"|updates?)",
                rf"revert(?:ed|ing)? (?:the |a |an |this |these |our )?(?:{_NOT_CONFIG}[\w-]+ ){{0,2}}?(?:changes?|updates?)",
                r"(?:changes?|updates?|deploy(?:s|ment|ments)?|releases?) (?:has |have |had |was |were )?(?:been )?"
                r"(?:rolled back|reverted)",
                r"(?:problematic|bad|faulty|erroneous|offending|breaking) (?:changes?|updates?)",
            ),
        ),
        CueSet(
            category="code-defect",
            clause_only=True,
            fallback=True,
            patterns=(
                r"changes?",
                r"updates?",
                r"deploy(?:s|ed|ing|ment|ments)?",
                r"releases?",
                r"released",
                r"rollouts?",
                r"pull requests?",
                r"(?:new|newly|recent|recently|latest) (?:[\w-]+ ){0,2}?(?:features?|versions?|releases?|code|builds?)",
                r"dependenc(?:y|ies)",
                r"librar(?:y|ies)",
                r"(?:slow|inefficient|expensive|unoptimi[sz]ed|runaway|poorly performing|long-running)(?: performing"
                r"| running)? (?:[\w-]+ )?quer(?:y|ies)",
                r"unexpected behaviou?r",
                r"leap seconds?",
                r"incompatib\w*",
                r"software",
                r"code",
            ),
        ),
    )
    # Outside parties whose named failure ("AWS issues", "an outage at Let's Encrypt") is a
    # 3rd-party cause; weaker than any other cue (a publisher names itself too).
    provider_names: tuple[Word, ...] = (
        "aws",
        "amazon web services",
        "amazon",
        "azure",
        "microsoft",
        "gcp",
        "google cloud platform",
        "google cloud",
        "google",
        "cloudflare",
        "akamai",
        "fastly",
        "let's encrypt",
        "letsencrypt",
        "github",
        "gitlab",
        "bitbucket",
        "okta",
        "auth0",
        "stripe",
        "paypal",
        "twilio",
        "sendgrid",
        "mailgun",
        "pagerduty",
        "opsgenie",
        "datadog",
        "new relic",
        "splunk",
        "sentry",
        "salesforce",
        "slack",
        "zoom",
        "heroku",
        "vercel",
        "netlify",
        "digitalocean",
        "linode",
        "hetzner",
        "ovh",
        "oracle cloud",
        "ibm cloud",
        "alibaba cloud",
        "equinix",
        "lumen",
        "level 3",
        "cogent",
        "zayo",
        "verizon",
        "at&t",
        "comcast",
        "dyn",
        "ns1",
        "ultradns",
        "digicert",
        "sectigo",
        "godaddy",
        "npm",
        "docker hub",
        "pypi",
        "openai",
        "anthropic",
        "atlassian",
        "zendesk",
    )


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


DEFAULT_BRIDGE_RULES = BridgeRules()  # frozen: safe to share as a default argument


class Policy(_Strict):
    """The root of the policy configuration (loaded from YAML by `include.itsm.config`)."""

    taxonomy: LabelTaxonomy = Field(default_factory=LabelTaxonomy)
    services: ServiceCatalogue = Field(default_factory=ServiceCatalogue)
    environments: EnvironmentAliases = Field(default_factory=EnvironmentAliases)
    sla: SlaPolicy = Field(default_factory=SlaPolicy)
    known_errors: tuple[KnownError, ...] = ()
    causes: CauseRules = Field(default_factory=CauseRules)  # how a stated cause is read (rca)
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
