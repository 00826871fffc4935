"""Step 3, classify: the seed's decision tree, impact x urgency priority and the 6-prefix labels.

The text says what kind of ticket it is and whether a cause is stated; discovery says how far
it reaches. Without discovery the blast radius (and what depends on it) is only a reading of
the text, so those fields are listed as `provisional` (TEMPLATE_NOT_EXECUTION). A cause is
claimed only when the text states one: hedged or negated mentions ("maybe a bug?", "not a
config issue") claim nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from pydantic import BaseModel

from include.itsm.core.policy import CauseRules, KnownError, Policy
from include.itsm.core.ticket import Ticket
from include.itsm.steps.discover.summary import DiscoverySummary
from include.itsm.steps.intake.domain import (
    KEYWORD_WINDOW,
    SENTENCE_END,
    Hit,
    IntakeResult,
    WordScan,
    cue_scan,
    finops_scan,
    stated_cause,
    ticket_text,
)
from include.itsm.textscan.prefilter import Guarded, PatternSet


class Classification(BaseModel):
    ticket_type: str  # incident | problem | change | service_request
    change_type: str | None = None  # standard | normal | emergency (changes only)
    impact: str  # high | low
    urgency: str  # high | low
    priority: str  # P0..P4
    blast: str
    tier: str
    service_domain: str
    rca: str | None = None  # only when the text states a cause (or a known error gives it)
    known_error: str | None = None
    labels: list[str]
    provisional: list[str]
    sla_due: datetime | None = None
    reasons: list[str]  # why, one line per decision, for the HITL label review


class LabelFinding(BaseModel):
    label: str
    reason: str
    replacement: str | None = None


_cue = cue_scan


# Harm to the whole account or its data, in the words and event codes AWS Health and abuse notices use.
_ACCOUNT_AT_RISK = (
    r"(?:volumes?|data) (?:(?:was|were|has been|have been) )?lost",
    r"(?:credentials?|access keys?|secret keys?|keys?) (?:(?:was|were|has been|have been|are|is) )?(?:publicly )?exposed",
    r"exposed (?:aws )?(?:credentials?|access keys?|keys?)",
    r"(?:d?dos|denial[- ]of[- ]service) (?:attack|abuse|activity|report)",
    r"aws_(?:[a-z0-9]+_)*(?:volume_lost|credentials_exposed|abuse_dos_report|operational_issue)",
)
_PROBLEM = _cue(
    r"recurr(?:ing|ence|ent|s)",
    r"keeps? (?:happening|failing|recurring|coming back)",
    r"(?:third|fourth|fifth|3rd|4th|5th|\d+th) time",
    r"again and again",
    r"repeated(?:ly)?",
    r"repeat(?:ing)? (?:issue|incident|failure)s?",
    r"root[- ]cause (?:analysis|investigation|unknown|not (?:yet )?(?:known|identified|found))",
    r"investigate (?:the )?(?:root|underlying) cause",
    r"underlying (?:cause|issue|problem)",
    r"problem (?:record|ticket|management)",
    r"pattern of",
    r"(?:multiple|several|\d+|three|four|five) (?:linked |related |similar )?incidents",
    r"linked incidents",
    r"every (?:day|night|morning|week|monday|tuesday|wednesday|thursday|friday|saturday|sunday|time)",
    r"(?:happened|happening|occurred) (?:again|before)",
    r"same (?:issue|error|problem|failure) (?:as|again)",
    r"chronic",
    r"intermittent(?:ly)? (?:for|since|over) (?:weeks|months|days)",
    r"for (?:the )?(?:past|last) (?:few )?(?:weeks|months)",
)
_CHANGE_EXPLICIT = _cue(
    r"change request",
    r"cr",
    r"rfc",
    r"cab",
    r"maintenance window",
    r"change window",
    r"emergency change",
    r"standard change",
    r"normal change",
    r"pre-?approved",
    r"planned (?:maintenance|change|upgrade|outage|work|migration)",
    r"scheduled (?:maintenance|change|upgrade|migration|work)",
    r"hot-?fix",
    r"roll ?out",
    r"go-live",
    r"cut-?over",
    r"(?:go ahead|proceed|approved?|approving) (?:with )?(?:the|this|that|your|our) (?:proposed )?change",
    r"proposed change",
    r"implementation plan",
    r"rollback plan",
    r"back-?out plan",
)
# Changes the provider makes or schedules, and automated scaling activity: a change record even when the
# notice also says why (degraded hardware) or what may fail, so this is read before any disruption.
_PROVIDER_CHANGE = _cue(
    r"scheduled for (?:retirement|a reboot|reboot|maintenance|a maintenance)",
    r"(?:instance|volume|host) retirement",
    r"(?:is|are|will be) (?:being )?retired",
    r"retirement (?:notice|date|scheduled)",
    r"(?:system|instance)-(?:reboot|maintenance|retirement|stop)",
    r"(?:instance )?(?:launch|terminate) successful",
    r"instance refresh (?:started|succeeded|cancelled|canceled|checkpoint reached|in progress)",
    r"instance-(?:launch|terminate) lifecycle action",
    r"ec2_instance_(?:launching|terminating)",
    r"(?:ssl |tls )?certificate renewal",
    r"renew(?:ing|al of)? (?:the |our |an? )?(?:ssl |tls )?cert(?:ificate)?s?",
    r"detail-?type[^a-z0-9]{1,4}[a-z0-9 -]{0,60}?configuration change",
)
# A request to modify something that exists (fix it, tag it, rotate it) is a change, not provisioning.
_MODIFY_REQUEST = _cue(
    r"(?:please|pls|kindly|could you|can you|can we|need to|we need to|would like to|we(?:'d| would) like to|requesting to)"
    r" (?:\w+ ){0,2}?(?:fix|remediate|re-?tag|tag|rotate|patch|upgrade|resize|re-?size|migrate|decommission|rename|modify"
    r"|reconfigure|harden|stop/start|extend|update the|change the)",
    r"(?:add|apply|set|update|change|fix) (?:the |a |an )?(?:[\w=/.-]+ ){0,2}?tags?(?: to| on)",
)
_MODIFY = _cue(
    # an event that records a change (a state change, a completed snapshot), unless it says what failed
    r"detail-?type[^a-z0-9]{1,4}[a-z0-9 -]{0,60}?(?:change|state-change notification|completion status)",
    r"upgrade",
    r"upgrading",
    r"patch(?:ing)?",
    r"migrat(?:e|ion|ing)",
    r"resiz(?:e|ing)",
    r"decommission(?:ing)?",
    r"rotat(?:e|ion)",
    r"expand(?:ing)?",
    r"extend(?:ing)?",
    r"increase",
    r"modify",
    r"modification",
    r"deploy(?:ment|ing)?",
    r"apply",
    r"enable",
    r"disable",
    r"replace",
    r"rebuild",
    r"update (?:the|our)",
    r"change (?:the|our)",
    r"move",
    r"re-?size",
    r"scale (?:up|down|out|in)",
    r"restor(?:e|ing) (?:from|to)",
    r"retire",
    r"remove",
    r"delete",
)
_REQUEST = _cue(
    r"(?:please|pls|kindly|could you|can you|can we|would like to|we(?:'d| would) like|i need|we need|requesting|request(?:ed)? (?:for|to)?)"
    r" (?:\w+ ){0,3}?(?:create|provision|set ?up|grant|give|add|onboard|open|invite|issue|allocate|new|access|get)",
    r"access request",
    r"service request",
    r"new (?:aws )?(?:account|user|bucket|role|vpc|environment|sandbox|repo)",
    r"request(?:ing)? (?:access|an?(?= ))",
    r"(?:service )?quota increase",
    r"service quota",
    r"limit increase",
    r"onboard(?:ing)?",
    r"need access",
    r"provision(?:ing)? (?:a|an|new)",
)
_DISRUPTION = _cue(
    *_ACCOUNT_AT_RISK,
    r"(?:spot )?interruption (?:warning|notice)",
    r"rebalance recommendation",
    r"down",
    r"outage",
    r"unreachable",
    r"not reachable",
    r"unavailable",
    r"errors?",
    r"fail(?:ed|ing|ure|ures|s)?",
    r"time[ds]? ?out",
    r"timing out",
    r"(?:http|status|code|returning|returns?|returned|throwing|throws|see|seeing|saw|getting|got|with|giving) (?:an? |code |status )?(?:5\d\d|5xx|40\d|429)",
    r"(?:5\d\d|5xx|40\d|429)(?:s| errors?| responses?| bad gateway| gateway| internal| service unavailable| from)",
    r"5xx",
    r"(?:cpu|memory|mem|load|disk|latency|error rate|errors?|iops|queue depth)(?: usage| utili[sz]ation)? (?:is |at |very |too )?(?:high|spik\w*|pegged|maxed|100 ?%|through the roof)",
    r"pegged",
    r"maxed out",
    r"100 ?% (?:full|cpu|used|utili[sz]ed)",
    r"is 100 ?%",
    r"degraded",
    r"latency",
    r"slow(?:ness)?",
    r"crash(?:ed|ing|es)?",
    r"not responding",
    r"unresponsive",
    r"cannot",
    r"can(?:'|no)t",
    r"unable to",
    r"broke",
    r"broken",
    r"stopped working",
    r"not working",
    r"in alarm",
    r"alarm",
    r"alert",
    r"incident",
    r"impaired",
    r"throttl\w*",
    r"access denied",
    r"accessdenied",
    r"403",
    r"packet loss",
    r"high cpu",
    r"disk full",
    r"out of (?:memory|space|disk)",
    r"oom\w*",
    r"corrupt\w*",
    r"data loss",
    r"breach",
    r"compromised",
    r"exposed",
    r"leak(?:ed|ing)",
    r"won'?t (?:start|boot|launch|connect)",
    r"(?:doesn'?t|does not|do not|don'?t) (?:start|work|resolve|respond)",
    r"not (?:resolving|starting|loading)",
    r"flapp(?:ing|s)",
    r"drop(?:ping|s|ped)",
    r"block(?:ing|s|ed)",
    r"terminated",
    r"deleted",
    r"lost",
    r"missing",
    r"stuck",
    r"couldn'?t",
    r"could not",
    r"(?:restart|reboot)(?:s|ed|ing)",
    r"hung",
    r"hang(?:ing|s)?",
    r"exhausted",
    r"panne",
    r"fehler",
    r"ausfall",
    r"caído",
    r"caida",
    r"caída",
    r"caido",
    r"no responde",
    r"no funciona",
    r"falla\w*",
    r"fallo",
    r"ダウン",
    r"応答しない",
    r"応答がない",
    r"接続できない",
    r"失敗",
    r"落ちて",
    r"erreur",
    r"障害",
    r"エラー",
    r"停止",
)
# Negation and hedge look-behinds are searched in the 60 characters before a cue. Each starts
# with a look-ahead on its words' first letters: the engine then skips most positions at C speed.
_NEGATED_DISRUPTION = re.compile(
    r"(?=[nwapmze])(?:\bnot|\bno|\bwithout|\bavoid|\bprevent|\bminimi[sz]e|\bzero|\bnot expecting|\bexpect no)\s+(?:\w+\s+)?$",
    re.I,
)
_URGENT = _cue(
    r"urgent(?:ly)?",
    r"asap",
    r"immediately",
    r"right now",
    r"critical",
    r"sev ?[01]",
    r"severity ?[01]",
    r"p[01]",
    r"emergency",
    r"blocking",
    r"blocker",
    r"blocked",
    r"as soon as possible",
    r"today",
    r"by eod",
    r"end of day",
    r"tonight",
    r"now",
    r"dringend",
    r"urgente",
)
_NOT_URGENT = _cue(
    r"no rush",
    r"not urgent",
    r"low (?:priority|urgency)",
    r"when(?:ever)? (?:you|convenient|possible)",
    r"next (?:week|month|sprint|quarter)",
    r"workaround (?:is )?(?:available|in place)",
    r"minor",
    r"cosmetic",
    r"occasional(?:ly)?",
    r"intermittent(?:ly)?",
    r"nice to have",
    r"at your convenience",
    r"low impact",
)
_HIGH_IMPACT = _cue(
    *_ACCOUNT_AT_RISK,
    r"customer[- ]facing",
    r"all (?:users|customers|staff|services)",
    r"every(?:one| customer)",
    r"revenue",
    r"payments?",
    r"checkout",
    r"data loss",
    r"breach",
    r"compromised",
    r"publicly (?:accessible|exposed|readable)",
    r"site (?:is )?down",
    r"production (?:is )?down",
    r"entire",
    r"company-wide",
    r"outage",
)
_ORG_WIDE = _cue(
    r"all (?:\w+ )?accounts",
    r"every account",
    r"org(?:anis|aniz)?(?:ation)?[- ]wide",
    r"entire (?:org\w*|platform|estate|landing zone)",
    r"platform[- ]wide",
    r"across (?:the|all) (?:org\w*|accounts|regions)",
    r"whole (?:org\w*|platform|estate)",
    r"all regions",
)
_EMERGENCY = _cue(
    r"emergency",
    r"urgent(?:ly)?",
    r"asap",
    r"immediately",
    r"zero[- ]day",
    r"0[- ]day",
    r"cve-\d{4}-\d+",
    r"actively exploited",
    r"hot-?fix",
    r"tonight",
    r"right now",
    r"critical (?:vulnerability|security|patch|fix)",
)
_STANDARD = _cue(
    r"standard change",
    r"pre-?approved",
    r"routine",
    r"per (?:the )?runbook",
    r"(?:change |standard )?template",
    r"sc-\d+",
    r"catalogue item",
    r"catalog item",
    r"as usual",
    r"monthly patch(?:ing)?",
    r"regular (?:maintenance|patching)",
    r"business as usual",
)
_EMERGENCY_CHANGE = _cue(r"emergency change")
_NORMAL = _cue(r"normal change", r"cab review", r"requires? cab")


def _stated(pattern: WordScan, text: str, negation: re.Pattern[str], questions: bool = True) -> Hit | None:
    """The first match not negated by the words just before it (nor asked as a question, unless
    `questions`); the scan stops there."""
    for match in pattern.finditer(text):
        if negation.search(text, max(0, match.start() - 60), match.start()):
            continue
        end = SENTENCE_END.search(text, match.end())
        if not questions and end and end.group() == "?":
            continue
        return match
    return None


def _ticket_type(text: str, reasons: list[str]) -> str:
    """The seed's decision tree, first matching branch wins."""
    branches = (  # each scan runs only when the branches before it did not match
        ("problem", _PROBLEM.search, "recurring / underlying cause"),
        ("change", _CHANGE_EXPLICIT.search, "planned modification"),
        ("change", _PROVIDER_CHANGE.search, "a change the provider made, scheduled or automated"),
        ("incident", lambda text: _stated(_DISRUPTION, text, _NEGATED_DISRUPTION), "unplanned disruption"),
        ("change", _MODIFY_REQUEST.search, "requested modification of something that exists"),
        ("service_request", _REQUEST.search, "user-requested provisioning/access"),
        ("change", _MODIFY.search, "modification"),
    )
    for ticket_type, scan, why in branches:
        match = scan(text)
        if match:
            reasons.append(f"ticket_type={ticket_type}: {why} ({match.group()!r})")
            return ticket_type
    reasons.append("ticket_type=service_request: no disruption, change or recurrence stated")
    return "service_request"


def _blast(intake: IntakeResult, discovery: DiscoverySummary | None, text: str, policy: Policy) -> str:
    rules = policy.blast
    if discovery is not None:
        accounts = discovery.account_count
        services = len(set(discovery.services))
        threshold = max(rules.org_wide_min_accounts, rules.org_wide_account_share * discovery.org_account_count)
    else:
        accounts = len(intake.account_ids)
        services = len({r.kind for r in intake.resource_ids})
        org_size = len(policy.org_accounts)
        threshold = (
            max(rules.org_wide_min_accounts, rules.org_wide_account_share * org_size) if org_size else float("inf")
        )
        if _ORG_WIDE.search(text):
            return "org-wide"
    if accounts >= threshold:
        return "org-wide"
    if accounts > 1:
        return "multi-account"
    return "single-account" if services > 1 else "single-service"


def _impact(
    ticket_type: str, env: str | None, blast: str, tier: str, text: str, discovery: DiscoverySummary | None
) -> str:
    if ticket_type == "service_request":
        return "high" if _stated(_HIGH_IMPACT, text, _NEGATED_DISRUPTION) else "low"
    broad = blast in ("multi-account", "org-wide")
    prod = env == "prod" or (discovery is not None and discovery.prod_resources) or tier == "critical"
    if ticket_type == "change":
        # a change to one production service is routine; what it reaches (or names at stake) raises it
        prod = tier == "critical" and discovery is not None and discovery.prod_resources
    return "high" if broad or prod or _stated(_HIGH_IMPACT, text, _NEGATED_DISRUPTION) else "low"


# A machine event record (EventBridge's detail-type): one failed job or a status report is handled in
# the day; it is urgent only when it says harm is ongoing or imminent.
_EVENT_RECORD = _cue(r"detail-?type")
_ONGOING_HARM = _cue(
    *_ACCOUNT_AT_RISK,
    r"alarm",
    r"(?:spot )?interruption (?:warning|notice)",
    r"sign[- ]?in",
    r"console ?login",
    r"attempted",
    r"unauthori[sz]ed",
    r"expir(?:ation|ed|es|ing)",
    r"root (?:user|account|login)",
    r"attack",
)


def _urgency(ticket_type: str, text: str) -> str:
    def urgent() -> bool:
        return _stated(_URGENT, text, _NEGATED_DISRUPTION) is not None

    def relaxed() -> bool:
        return bool(_NOT_URGENT.search(text))

    # Each cue is read only when the decision depends on it.
    if ticket_type == "incident":
        if _EVENT_RECORD.search(text) and not _ONGOING_HARM.search(text):
            return "low"
        return "low" if relaxed() and not urgent() else "high"
    if ticket_type == "change":
        return "high" if _stated(_EMERGENCY, text, _NEGATED_DISRUPTION) else "low"
    return "high" if urgent() and not relaxed() else "low"


def priority_of(impact: str, urgency: str, blast: str) -> str:
    """The seed's matrix; P1 is high/high below the P0 (org-wide) threshold."""
    if impact == "high" and urgency == "high":
        return "P0" if blast == "org-wide" else "P1"
    return {("high", "low"): "P2", ("low", "high"): "P3", ("low", "low"): "P4"}[(impact, urgency)]


def _change_type(priority: str, text: str) -> str:
    if priority in ("P0", "P1") or _EMERGENCY_CHANGE.search(text):
        return "emergency"
    if _STANDARD.search(text) and not _NORMAL.search(text):
        return "standard"
    return "normal"


def _rca(ticket_type: str, text: str, rules: CauseRules, reasons: list[str]) -> str | None:
    """The cause category the text states, with its reason (see CauseRules and stated_cause). In a
    change "a configuration change" is the work asked for, not a cause: only a cause clause ("due
    to ...") states one there, unless the provider imposes the change (a retirement notice's degraded
    hardware is why the change happens)."""
    requested_change = ticket_type == "change" and not _PROVIDER_CHANGE.search(text)
    cause = stated_cause(text, rules, clauses_only=requested_change)
    if cause is None:
        return None
    reasons.append(f"rca={cause.category}: {cause.how} ({cause.quote!r})")
    return cause.category


_VIEW = PatternSet()  # configured patterns on the ticket's primary view (include/itsm/textscan/prefilter.py)


@lru_cache(maxsize=1024)
def _known_error_scan(pattern: str) -> Guarded:
    return _VIEW.guarded(pattern, re.I)


def _known_error(text: str, service: str | None, policy: Policy) -> KnownError | None:
    for known in policy.known_errors:
        if service in (None, known.service) and any(_known_error_scan(p).search(text) for p in known.patterns):
            return known
    return None


def _service_domain(intake: IntakeResult, text: str, policy: Policy) -> str:
    catalogue = policy.services
    finops = finops_scan(policy).search(text)
    summary_end = text.find("\n")
    summary_end = len(text) if summary_end < 0 else summary_end  # a ticket that is all summary
    if finops and (intake.service is None or finops.start() < summary_end):
        return catalogue.finops_domain
    if intake.service:
        return catalogue.by_name(intake.service).domain
    return "unknown"


def _tier(intake: IntakeResult, discovery: DiscoverySummary | None, policy: Policy, reasons: list[str]) -> str:
    """The catalogue's tier for a catalogued service; else by environment, raised when production is in scope."""
    catalogued = policy.services.business_named(intake.business_service)
    if catalogued is not None:
        reasons.append(f"tier={catalogued.tier}: the service catalogue's {catalogued.name}")
        return catalogued.tier.value
    if discovery is not None and discovery.prod_resources:
        reasons.append(f"tier={policy.tiers.prod_resources}: discovery saw production resources in scope")
        return policy.tiers.prod_resources
    tier = policy.tiers.by_environment.get(intake.environment or "", policy.tiers.default)
    reasons.append(f"tier={tier}: environment {intake.environment or 'not named'}")
    return tier


def classify(
    ticket: Ticket,
    intake: IntakeResult,
    policy: Policy,
    discovery: DiscoverySummary | None = None,
    now: datetime | None = None,
) -> Classification:
    """Step 3: ticket type, change sub-type, impact x urgency -> priority, SLA due, labels."""
    view = ticket_text(ticket)
    text = view.view("primary", KEYWORD_WINDOW)
    if not text[view.summary_end :].strip():  # a reply that only says "see below"
        text = text[: view.summary_end] + view.view("history", KEYWORD_WINDOW)[view.summary_end :]
    reasons: list[str] = []
    ticket_type = _ticket_type(text, reasons)
    env = intake.environment
    tier = _tier(intake, discovery, policy, reasons)
    blast = _blast(intake, discovery, text, policy)
    impact = _impact(ticket_type, env, blast, tier, text, discovery)
    urgency = _urgency(ticket_type, text)
    if ticket_type == "change" and _EMERGENCY_CHANGE.search(text):
        impact, urgency = "high", "high"
    priority = priority_of(impact, urgency, blast)
    reasons.append(f"priority={priority}: impact {impact} x urgency {urgency}, blast {blast}, env {env}")
    change_type = _change_type(priority, text) if ticket_type == "change" else None
    known = _known_error(text, intake.service, policy)
    rca = _rca(ticket_type, text, policy.causes, reasons)
    if rca is None and known:
        rca = known.rca
        reasons.append(f"rca={rca}: known error {known.id}")
    elif rca is None:
        reasons.append("rca=unknown: the text states no cause")
    placeholder = "unknown" if ticket_type in ("incident", "problem") else "not-applicable"
    domain = _service_domain(intake, text, policy)
    if intake.service:
        where = f" ({intake.service_span.quote!r})" if intake.service_span else ""
        reasons.append(f"service={domain}: {intake.service}, {intake.service_why}{where}")
    else:
        reasons.append(f"service={domain}: no service type named")
    labels = [
        f"blast:{blast}",
        f"rca:{rca or placeholder}",
        f"ke:{policy.taxonomy.known_error_prefix}{known.id}" if known else "ke:none",
        f"service:{domain}",
        f"env:{env or 'unknown'}",
        f"tier:{tier}",
        f"itsm-type:{ticket_type.replace('_', '-')}",
    ]
    if change_type:
        labels.append(f"cr:{change_type}")
    provisional = (
        [] if discovery is not None else ["blast", "impact", "priority"] + (["change_type"] if change_type else [])
    )
    created = ticket.created or now
    sla_due = created + policy.sla.resolve_within[priority] if created else None
    return Classification(
        ticket_type=ticket_type,
        change_type=change_type,
        impact=impact,
        urgency=urgency,
        priority=priority,
        blast=blast,
        tier=tier,
        service_domain=labels[3].split(":", 1)[1],
        rca=rca,
        known_error=known.id if known else None,
        labels=labels,
        provisional=provisional,
        sla_due=sla_due,
        reasons=reasons,
    )


def lint_labels(existing_labels: list[str], policy: Policy) -> list[LabelFinding]:
    """Taxonomy labels that break the taxonomy, with the canonical replacement when there is one.

    Labels outside the taxonomy's prefixes (free team labels) are not ours to judge.
    """
    taxonomy = policy.taxonomy
    findings = []
    for label in existing_labels:
        prefix, sep, value = label.partition(":")
        prefix, value = prefix.lower(), value.lower()
        if not sep or (prefix not in taxonomy.values and prefix != "ke"):
            continue
        canonical = f"{prefix}:{value}"
        if prefix == "ke":
            if value == "none" or value.startswith(taxonomy.known_error_prefix):
                continue
            findings.append(LabelFinding(label=label, reason=f"ke: must be none or {taxonomy.known_error_prefix}<id>"))
            continue
        if value in taxonomy.values[prefix] or value in taxonomy.placeholders.get(prefix, ()):
            if canonical != label:
                findings.append(LabelFinding(label=label, reason="labels are lower case", replacement=canonical))
            continue
        replacement = taxonomy.aliases.get(canonical)
        if prefix == "service" and replacement is None:
            domain = policy.services.domain_of(value)
            replacement = f"service:{domain}" if domain else None
        if prefix == "env" and replacement is None:
            env = policy.environments.canonical(value)
            replacement = f"env:{env}" if env else None
        reason = "non-canonical alias" if replacement else f"{value!r} is not a {prefix}: value of the taxonomy"
        findings.append(LabelFinding(label=label, reason=reason, replacement=replacement))
    return findings
