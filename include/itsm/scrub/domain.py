"""PII and credential scrubbing before anything reaches the SPM board (docs/architecture.md §7, seed "PII Scrubbing").

`scrub(text, registers)` replaces, in one left-to-right resolution of candidate spans:

- credentials first (include/itsm/scrub/secrets.py): cloud keys, tokens, webhook URLs, private keys,
  passwords and high-entropy values in assignments -> `{aws_access_key}`, `{secret}`, `{token}`,
  `{password}`, `{private_key}`; a credential wins over any PII span that overlaps it;
- AWS account ids (12 digits, also `3182-7465-0011` / `318 274 650 011`, inside ARNs, URL-encoded
  ARNs, ARNs a CLI wrapped across lines, and sign-in URLs) -> the account's type from the org
  register (`{prod-account}`, ...), an unknown account-shaped number -> `{account}`; a 12-digit
  number named as something else (order, invoice, case, phone, ...) or shaped as a YYYYMMDDhhmm
  timestamp is kept;
- IPv4/IPv6 addresses, CIDRs, masked addresses (`52.10.XX.XX`) and EC2 host names (`ip-10-0-1-5`)
  -> the network tier of the discovered VPC that holds them (`{prod-vpc}`), else `{private-ip}` /
  `{public-ip}` / `{private-network}` / `{public-network}`; `0.0.0.0/0`, loopback and the metadata
  address are kept; so are dotted version numbers after "version", "v", ...;
- e-mail addresses -> `{email}` (`user@10.0.0.5` keeps the user, hides the host); phone numbers in
  international and national formats, after cue words and in lists -> `{phone}`;
- organisations: register names and aliases -> the customer's persona label; names ending in a legal
  suffix (Ltd, Inc, GmbH, Pty, LLC, Plc, ...) or an organisation noun (University, Bank, Logistics,
  ...), `University of ...`, the organisation line of a signature, the capitalised words after a
  person and from/at/with, and what an address or web site spells (`jane@acme-freight.co.nz` ->
  Acme Freight, acme_freight) -> `{customer}`; vendors (AWS, Google, ...) are kept;
- person names: greetings (lists too), closings and signatures, mail headers in several languages
  (lists, Lotus Notes `Name/Org@ORG`), display names before `<address>`, `@mentions`, first.last
  handles, form fields about a person, GitHub author lines, chat lines (`Name [9:41 AM]`),
  `Name Surname | Title` lines, "spoke with Name", `Name wrote:`, census first names with a
  surname or alone (first_names.json; ambiguous ones only in prose), and the people register ->
  `{person}`; a name found once, or spelled by an address (first.last@), is hidden wherever else
  it occurs in the text.

Everything else is kept: resource ids, ARNs without an account, versions, timestamps, ticket
keys, regions, service names, error codes, tool names. Pure and deterministic; every pattern is
precompiled, starts with a character sre can skip to (or runs only behind a cheap gate) and has no
nested unbounded repetition, so the run time is linear in the text length. Replacements carry
kind, span and label, never the original value.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from include.itsm.core.inventory import AccountInfo
from include.itsm.scrub.config import (
    DEFAULT_COMPANY_SUFFIXES,
    DEFAULT_ORGANISATION_NOUNS,
    DEFAULT_VENDORS,
    CustomerEntry,
    NetworkTier,
    ScrubConfig,
)
from include.itsm.scrub.secrets import ASCII_LOWER, CREDENTIAL_KINDS, credential_spans

KINDS = ("account", "arn_account", "ip", "cidr", "email", "phone", "person", "customer", *CREDENTIAL_KINDS)


# --------------------------------------------------------------------------- registers


class ScrubRegisters(BaseModel):
    """What the scrubber knows about one customer: accounts, customer names, networks, people."""

    model_config = ConfigDict(extra="forbid")

    accounts: dict[str, str] = Field(default_factory=dict)  # 12-digit id -> account type (prod-account, ...)
    customers: list[CustomerEntry] = Field(default_factory=list)
    networks: list[NetworkTier] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    company_suffixes: list[str] = Field(default_factory=lambda: list(DEFAULT_COMPANY_SUFFIXES))
    vendors: list[str] = Field(default_factory=lambda: list(DEFAULT_VENDORS))
    detect_people: bool = True
    detect_companies: bool = True
    unknown_accounts: bool = True

    _compiled: _Compiled | None = PrivateAttr(default=None)

    def compiled(self) -> _Compiled:
        private = self.__pydantic_private__  # a slot; `self._compiled` goes through pydantic's __getattr__ (3 us)
        if private["_compiled"] is None:
            private["_compiled"] = _Compiled(self)
        return private["_compiled"]


def account_type(account: AccountInfo, config: ScrubConfig, env_tag_key: str = "env") -> str:
    """The type label of one account: explicit > env tag value (or its words) > name words > `account`."""
    if account.account_id in config.account_types:
        return config.account_types[account.account_id]
    table = {k.lower(): v for k, v in config.env_account_types.items()}
    for source in (account.tags.get(env_tag_key) or "", account.name or ""):
        value = source.strip().lower()
        if value in table:
            return table[value]
        for word in re.split(r"[^a-z0-9]+", value):
            if word in table:
                return table[word]
    return "account"


def registers_for(
    customer_config: Mapping | ScrubConfig | None,
    accounts: Iterable[AccountInfo] = (),
    vpcs: Iterable[tuple[str, str]] = (),
) -> ScrubRegisters:
    """Registers for one customer.

    `customer_config` is the customer's configuration mapping (its `name`, `env_tag_key` and
    `scrub` section are read; the customer's own name joins the register under `scrub.persona`),
    or a bare scrub section / `ScrubConfig`. `accounts` is the org's account list (discovery),
    `vpcs` the discovered `(cidr, tier)` pairs; configured network tiers come first.
    """
    raw: Mapping = {} if customer_config is None else customer_config
    if isinstance(raw, ScrubConfig):
        config, name, env_key = raw, None, "env"
    elif "scrub" in raw or "name" in raw or "id" in raw:
        config = ScrubConfig.model_validate(raw.get("scrub") or {})
        name, env_key = raw.get("name"), raw.get("env_tag_key") or "env"
    else:
        config, name, env_key = ScrubConfig.model_validate(raw), None, "env"
    customers = list(config.customers)
    known = {c.name.lower() for c in customers} | {a.lower() for c in customers for a in c.aliases}
    if name and name not in ("default",) and name.lower() not in known:
        customers.append(CustomerEntry(name=name, persona=config.persona))
    account_map = {a.account_id: account_type(a, config, env_key) for a in accounts}
    account_map.update(config.account_types)
    networks = list(config.network_tiers) + [NetworkTier(cidr=c, tier=t) for c, t in vpcs]
    return ScrubRegisters(
        accounts=account_map,
        customers=customers,
        networks=networks,
        people=list(config.people),
        company_suffixes=config.company_suffixes,
        vendors=config.vendors,
        detect_people=config.detect_people,
        detect_companies=config.detect_companies,
        unknown_accounts=config.unknown_accounts,
    )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Replacement:
    """One replaced span of the input: kind, [start, end) in the original text, and the label put there."""

    kind: str
    start: int
    end: int
    label: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "start": self.start, "end": self.end, "label": self.label}


@dataclass(frozen=True, slots=True)
class ScrubResult:
    text: str
    replacements: tuple[Replacement, ...]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.replacements:
            out[r.kind] = out.get(r.kind, 0) + 1
        return out


# --------------------------------------------------------------------------- patterns

UP = "A-ZÀ-ÖØ-ÞĀĒĪŌŪ"
LOW = "a-zß-öø-ÿāēīōū"
_TOKEN_REST = rf"(?:['’][{UP}])?[{LOW}]++(?:-[{UP}][{LOW}]++)?"  # a capitalised word after its capital
_TOKEN = rf"(?>[{UP}]{_TOKEN_REST})"  # atomic: no backtracking inside a word
_NAME = rf"{_TOKEN}(?:[ \t]{_TOKEN}){{0,2}}"  # First [Middle] Last, each capitalised


def _name_not_after(chars: str) -> str:
    """`_NAME` not right after one of `chars`, the capital consumed before that lookbehind.

    A pattern that starts with a lookbehind gives sre no first character to skip to, so it would try the
    name at every position; starting with the capital, it skips to capitals at C speed.
    """
    return rf"[{UP}](?<![{chars}].)(?>{_TOKEN_REST})(?:[ \t]{_TOKEN}){{0,2}}"


_TITLE = r"(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+)?"

# The technical pass: every branch starts with one consumed character from a small set (digits, +, (, @), so
# the engine skips ordinary prose at C speed; each branch then checks what stood before that character.
# Every branch but the e-mail's (after @) needs a non-word character there, so one lookbehind first rejects
# the digits inside numbers and ids before the seven branches are tried.
_TECH = re.compile(
    r"[\d+(@](?<!\w[\d+(])(?:"
    r"(?<=@)(?P<email>[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8})"
    r"|(?<![\w.].)(?<=\d)(?P<v4>\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?:/\d{1,2})?)(?![\w]|\.\d|/\d)"
    r"|(?<![\w+.,-].)(?<=\d)(?P<acct>\d{11}|\d{3}(?P<s1>[- ])\d{4}(?P=s1)\d{4}|\d{2}(?P<s2>[- ])\d{3}(?P=s2)\d{3}(?P=s2)\d{3})"
    r"(?![\w]|[.,]\d)"
    r"|(?<![\w+].)(?<=\+)(?P<phone>\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,5})(?![\w]|[.-]\d)"
    r"|(?<![\w.:/-].)(?<=\()(?P<phone2>0?\d{1,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4})(?![\w]|[.-]\d)"
    r"|(?<![\w.:/-].)(?<=0)(?P<phone3>\d{1,4}[ -]?\d{3,4}[ -]?\d{3,4})(?![\w.:/-]|[ -]\d)"
    r"|(?<![\w.:/-].)(?<=\d)(?P<phone4>\d{2}[-.]\d{3}[-.]\d{4})(?![\w.:/-]|\d)"
    r")"
)
_DIGIT_GROUP_AFTER = re.compile(r"[ -]\d")
_ARN = re.compile(r"arn(?::|%3A)aws[\w-]{0,20}(?::|%3A)[\w-]{0,40}(?::|%3A)[\w-]{0,40}(?::|%3A)(\d{12})(?::|%3A)", re.I)
_ARN_WRAPPED = re.compile(r"arn:aws[\w-]{0,20}:[\w-]{0,40}:[\w-]{0,40}:(\d{1,11})\n[ \t]*(\d{1,11}):")
_HOST = re.compile(r"ip-(?<![\w-]ip-)(\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3})(?![\w]|-\d)")
_V6_SEED = re.compile(r":[0-9A-Fa-f]{0,4}:")
_V6_BACK = re.compile(r"(?<![\w:.])[0-9A-Fa-f:]{0,40}$")
_V6_FWD = re.compile(r"[0-9A-Fa-f:]{0,40}(?:/\d{1,3})?(?![\w:])")
_LOCAL_PART = re.compile(r"(?<![\w.+%'-])[\w.+%'-]{1,64}$")
_DECOY_WORDS = (
    "order|orders|po|purchase|case|invoice|inv|ticket|ref|reference|tracking|serial|confirmation|booking|"
    "receipt|transaction|txn|abn|gst|iban|card|contract|quote|sku|barcode|isbn|job|batch|shipment|consignment|"
    "parcel|claim|voucher|reservation|phone|tel|mobile|mob|cell|fax|call|ph|sms|msisdn|imei|"
    "request id|trace|session|execution|build|employee|patient|student|nhi|vin"
)
# A decoy word at the end of the text before a number, then optional words and signs, read forward:
#   WORD (?:\s{1,3}(?:me|us)?\s{0,3}(?:on|at)?)?\s{0,3}(?:no\.?|nr\.?|num(?:ber)?|id|#)?\s{0,3}[:#.=-]?\s{0,3}$
# Only whether it matches counts, so it is matched reversed at the start of the reversed text: one position to
# try, where a search for the forward pattern tries all the words at every position (20 us a number).
_DECOY_BEFORE_REVERSED = re.compile(
    r"\s{0,3}[:#.=-]?\s{0,3}(?:\.?on|\.?rn|(?:reb)?mun|di|#)?\s{0,3}(?:(?:no|ta)?\s{0,3}(?:em|su)?\s{1,3})?"
    "(?:" + "|".join(word[::-1] for word in _DECOY_WORDS.split("|")) + ")",
    re.I,
)
_COUNTRY_CODE_BEFORE = re.compile(r"\+\d{1,3}[ -]?$")
_ACCOUNT_WORD = re.compile(r"account|acct|\baws\b|owner|arn|payer|signin|console", re.I)
_TIMESTAMP12 = re.compile(r"(?:19[89]\d|20\d\d)(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:[01]\d|2[0-3])[0-5]\d")
_VERSION_BEFORE = re.compile(r"\b(?:version|ver|release|build|kernel|firmware)\.?[ \t]{0,2}[:=]?[ \t]{0,2}$", re.I)
# RFC 1918, shared (CGNAT), link-local, IPv6 unique-local and link-local: everything else is public.
_PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    )
)
_KEEP_IPS = frozenset({"0.0.0.0", "0.0.0.0/0", "127.0.0.1", "169.254.169.254", "255.255.255.255", "::/0", "::1", "::"})


_NAME_AFTER = r"(?=[ \t]*(?:\n|$|\||,|<|\(|!|:|[ \t]-))"


def _by_first_letter(rules: Iterable[tuple[str, str, str]]) -> str:
    """One alternation of `(guard, "w1|w2", tail)` rules, grouped by the words' first letter (Title or lower case).

    sre tries a group's alternatives one by one at every candidate position; grouped by first letter, one
    character test rejects a whole group, and a lookahead on all the first letters rejects most positions
    before any group is tried. Words keep their order within a letter, so which rule wins at a position is
    unchanged. `guard` is checked right after the first letter (a lookbehind over it).
    """
    groups: dict[str, list[str]] = {}
    for guard, words, tail in rules:
        for word in words.split("|"):
            groups.setdefault(word[0], []).append(guard + word[1:] + tail)
    letters = "".join(groups)
    body = "|".join(f"[{letter.upper()}{letter}](?:{'|'.join(rest)})" for letter, rest in groups.items())
    return f"(?=[{letters.upper()}{letters}])(?:{body})"


_GREETING_WORDS = "hi|hello|hey|dear|morning|good morning|good afternoon|good evening|kia ora|g'day|gday|gidday|hiya"
_CLOSING_WORDS = (
    "kind regards|best regards|warm regards|regards|many thanks|thanks heaps|thank you|thanks|cheers|ngā mihi nui|"
    "nga mihi nui|ngā mihi|nga mihi|best wishes|best|yours sincerely|yours faithfully|sincerely|talk soon|speak soon|ka kite"
)
_HEADER_WORDS = "from|to|cc|bcc|reply-to|sender|attendees|assignee|reporter"
_CONTEXT_WORDS = (
    "spoke to|spoke with|talked to|called|rang|emailed|ping|cc|assigned to|reported by|raised by|escalated to|"
    "handed over to|handed to|contact|contacted|reach|this is|i'm|im|i am|my name is|auditor|engineer|manager|"
    "analyst|for user|user"
)
# One pass for every rule keyed by the words before a name: greetings, closings, mail headers, "spoke with".
# Each rule's one capturing group is the name (`m.lastindex`); header words must start a line.
_BEFORE_BODY = _by_first_letter(
    [
        ("", _GREETING_WORDS, rf"[ \t]+{_TITLE}({_NAME}|[a-z]{{3,12}}(?=[ \t]*(?:[,!]|[ \t]-))){_NAME_AFTER}"),
        ("", _CLOSING_WORDS, rf"[ \t]*[,.!]?[ \t]*(?:\n[ \t]*){{0,2}}{_TITLE}({_NAME}){_NAME_AFTER}"),
        (r"(?<![^\n].)", _HEADER_WORDS, rf"[ \t]*:[ \t]*\"?{_TITLE}({_NAME})\"?[ \t]*(?=<|$|\n|,|\()"),
        ("", _CONTEXT_WORDS, rf":?[ \t]+{_TITLE}({_NAME})"),
    ]
)
# The pass consumes the whitespace or punctuation before the word (fast skip); the text start is matched apart.
_BEFORE_NAME = re.compile(rf"[\s>\"(,.;:!?|]{_BEFORE_BODY}", re.M)
_BEFORE_NAME_AT_START = re.compile(_BEFORE_BODY, re.M)
_SIG_DELIM = re.compile(rf"(?m)^[ \t]*--+[ \t]*\n[ \t]*{_TITLE}(?P<n>{_NAME})[ \t]*$")
# Name followed by a mail address, "wrote:", "here from", or a signature bar ("Name Surname | Title").
_FOLLOWED_NOT_AFTER = r"\w@.#/&'-"
_FOLLOWED = re.compile(
    rf"(?P<n>{_name_not_after(_FOLLOWED_NOT_AFTER)})(?:\"?[ \t]*<[^<>@\s]{{1,64}}@|[ \t]+(?:wrote|said|writes)[ \t]*:"
    rf"|[ \t]+here[ \t]+(?:from|at|in)\b|(?P<bar>[ \t]*\|))"
)
_MENTION = re.compile(r"@(?<![\w@.\0]@)(?P<n>[A-Za-z][\w.-]{0,40}[A-Za-z0-9]|[A-Za-z])(?![\w@])")
_MENTION_KEEP = frozenset({"here", "channel", "everyone", "all", "team", "oncall", "on-call", "sre", "ops", "devops"})
_NAME_STOP = frozenset(
    "team all there everyone folks guys support ops sre devops folks everybody you again both again ok okay thanks "
    "and the a an for from with service desk customer tenant client regards cheers best hi hello dear morning "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december aws amazon azure google okta slack jira confluence pagerduty datadog "
    "security platform network cloud finance engineering infrastructure operations admin administrator "
    "root sir madam colleagues partner partners crew mate mates people teams will "
    "central east west north south northeast northwest southeast southwest opus sonnet haiku".split()
)
# Common given names (English, Māori, Pacific, Asian, European) recognised with a following capitalised surname,
# or alone where the word is not also an ordinary English word.
_NAME_DATA = json.loads((Path(__file__).with_name("first_names.json")).read_text(encoding="utf-8"))
_FIRST_NAMES = frozenset(_NAME_DATA["first_names"]) | frozenset(
    "james john robert michael william david richard joseph thomas tom charles christopher daniel matthew anthony "
    "donald paul steven andrew andy joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob "
    "gary nicholas eric jonathan stephen larry justin scott brandon benjamin ben samuel sam gregory alexander alex "
    "patrick jack dennis jerry tyler aaron jose adam nathan henry peter pete zachary douglas harold kyle noah ethan "
    "jeremy christian keith roger terry austin sean gerald carl harry dylan arthur lawrence jordan jesse bryan "
    "billy bruce gabriel joe logan albert willie alan eugene russell vincent philip bobby johnny bradley liam "
    "oliver lucas mason elijah james hamish callum angus fraser rhys owen lachlan mitchell jake luke "
    "mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret sandra "
    "ashley kimberly emily donna michelle carol amanda dorothy melissa deborah stephanie rebecca sharon laura "
    "cynthia kathleen amy angela shirley anna brenda pamela emma nicole helen samantha katherine kate christine "
    "debra rachel carolyn janet catherine maria heather diane ruth julie olivia joyce virginia victoria kelly "
    "lauren christina joan evelyn judith megan andrea cheryl hannah jacqueline martha gloria teresa ann sara "
    "madison frances kathryn janice jean abigail alice judy sophia sophie denise amber doris marilyn danielle "
    "beverly isabella theresa diana natalie brittany charlotte marie kayla alexis lori chloe lucy zoe ella "
    "georgia fiona jane jenny jess jessie claire holly isla ruby amelia mia grace harper ava "
    "aroha hemi mere tamati wiremu rangi tane tui kiri manaia nikau ariana anahera hine moana rawiri te awhina "
    "mihi ngaire pania whetu tipene hohepa paora matiu ropata "
    "sione losa malia tavita ioane mele "
    "priya nikhil raj rahul amit anil sunil arjun ravi deepak vikram anjali pooja neha sanjay "
    "wei li ming jun yan hui chen lei xin ying hiroshi yuki kenji takashi haruto sakura mei "
    "minh linh anh thanh duc hoa "
    "hans klaus jürgen stefan matthias anja katrin ursula lars sven ingrid nils "
    "pierre jean-luc francois françois luca marco giulia sofia carlos javier diego lucia pablo "
    "kim dan nick chris mike matt steve dave jim rob bob greg jeff tim josh jon ian neil colin graham "
    "craig stuart ross bruce shane wayne trent brett glen kieran declan conor aidan sinead aoife niamh "
    "ahmed mohammed mohamed ali omar fatima aisha yusuf hassan".split()
)
# Given names that are also proper nouns of another kind (months, days, places, AWS and other products): never a
# person alone, only with a surname or in a context rule.
_PROPER_NOT_PERSON = frozenset(
    "april may june july august september january jan feb mar apr jun jul aug sep sept oct nov dec "
    "mon tue wed thu fri sat sun monday tuesday wednesday thursday friday saturday sunday easter christmas "
    "asia africa america europe oceania australia france germany italy spain canada mexico brazil japan korea "
    "china india israel jordan georgia virginia carolina sydney paris london milan florence dallas austin houston "
    "denver orlando lincoln chelsea victoria central "
    "aurora athena kendra polly macie alexa julia ada luna stella nova sage raven ivy cassandra terra claude mac "
    "te wei li ming jun yan hui lei xin mei anh duc hoa".split()
)
# Given names that are also ordinary words: alone, only capitalised inside lower-case prose ("from Grace listing").
_COMMON_WORD_FIRST = frozenset(
    "will may mark bill grant rose summer chase hope faith sky page mercy joy dawn art frank gene jack drew dean "
    "max ray rich rob pat sue ken don lee jean kim ali hans dan tim ian joe".split()
) | frozenset(_NAME_DATA["ambiguous"])
_AMBIGUOUS_FIRST = _PROPER_NOT_PERSON | _COMMON_WORD_FIRST
_NAME_LIST_MORE = re.compile(
    rf"(?:,[ \t]*|[ \t]+(?:and|&)[ \t]+)(?P<n>{_TOKEN}(?:[ \t]{_TOKEN})?)(?=[ \t]*(?:[,!:\n]|$|[ \t]+(?:and|&)[ \t]))"
)
# A lower-case first.last (or first_last) handle, read from its separator: not in an address, path or file name.
_HANDLE_SEP = re.compile(r"[._](?<=[a-z][._])(?P<s>[a-z]{2,30})(?![\w@-]|\.[A-Za-z])")
_LOWER_ASCII = frozenset("abcdefghijklmnopqrstuvwxyz")
_HANDLE_NOT_AFTER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-")
_FILE_EXTENSIONS = frozenset(
    "yaml yml json txt py js ts go rb java sh md log conf cfg ini xml html htm csv tf toml lock env pem key crt "
    "zip gz tar tgz sql rs php cs cpp jar war exe dll so pdf png jpg svg service timer socket".split()
)
_ROLE_BEFORE = re.compile(r"(?i)(?:engineer|manager|analyst|auditor|user|contact|reach)[ \t]*:?[ \t]+$")
_CAPITAL_AFTER = re.compile(rf"[ \t]+[{UP}]")
_FIRST_SURNAME = re.compile(r"(?P<n>" + _name_not_after(r"\w@.#/-") + r")(?![\w@.-]\w)")


def _norm_ip(
    value: str,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value, strict=False) if "/" in value else ipaddress.ip_address(value)
    except ValueError:
        return None


class _Compiled:
    """Patterns and lookups built once per registers object."""

    def __init__(self, regs: ScrubRegisters) -> None:
        self.regs = regs
        self.accounts = dict(regs.accounts)
        self.networks = sorted(
            ((ipaddress.ip_network(n.cidr), n.tier) for n in regs.networks), key=lambda pair: -pair[0].prefixlen
        )
        self.customer_labels: dict[str, str] = {}
        for entry in regs.customers:
            for name in (entry.name, *entry.aliases):
                if name.strip():
                    self.customer_labels.setdefault(name.strip().lower(), entry.persona)
        self.customer_re = _alternation(self.customer_labels)
        # Registered accounts in any grouping ("318 274 650 011"), even beside other digit groups,
        # where the general pattern cannot tell an account from a longer number.
        self.account_re = re.compile(_digit_trie(self.accounts)) if any(self.accounts) else None
        self.people = {p.strip().lower() for p in regs.people if p.strip()}
        parts = set(self.people)
        for person in self.people:  # a registered full name also hides its given name and surname alone
            words = person.split()
            if len(words) > 1:
                parts.update(w for w in words if len(w) > 2 and w not in _AMBIGUOUS_FIRST)
        self.people_re = _alternation(parts)
        suffixes = sorted({s.strip() for s in regs.company_suffixes if s.strip()}, key=len, reverse=True)
        self.suffix_re = (
            _words_re([(s[0], re.escape(s[1:])) for s in suffixes], r"(?<=[ \t].)", ignore_case=False)
            if suffixes
            else None
        )
        self.vendors = {v.lower() for v in regs.vendors}
        self._ip_cache: dict[str, str | None] = {}
        # IPv4 networks as (network, mask) integers, in the same order, for addresses parsed without ipaddress
        self._v4_tiers = [(int(n.network_address), int(n.netmask), t) for n, t in self.networks if n.version == 4]

    def network_label(self, value: str) -> str | None:
        cached = self._ip_cache.get(value, "")
        if cached != "":
            return cached
        label = self._network_label(value)
        if len(self._ip_cache) < 100_000:
            self._ip_cache[value] = label
        return label

    def _network_label(self, value: str) -> str | None:
        if value in _KEEP_IPS:
            return None
        if "/" not in value and ":" not in value:  # a plain IPv4 address: integers, not ipaddress (5x faster)
            return self._v4_label(value)
        parsed = _norm_ip(value)
        if parsed is None:
            return None
        if isinstance(parsed, ipaddress.IPv4Network | ipaddress.IPv6Network):
            if parsed.prefixlen == 0:
                return None
            for net, tier in self.networks:
                if parsed.version == net.version and parsed.subnet_of(net):
                    return tier
            private = any(parsed.version == net.version and parsed.subnet_of(net) for net in _PRIVATE_NETS)
            return "private-network" if private else "public-network"
        if parsed.is_loopback or parsed.is_unspecified:
            return None
        for net, tier in self.networks:
            if parsed.version == net.version and parsed in net:
                return tier
        return "private-ip" if any(parsed in net for net in _PRIVATE_NETS) else "public-ip"

    def _v4_label(self, value: str) -> str | None:
        """What `_network_label` answers for a dotted-quad, as ipaddress would parse it (no leading zeros)."""
        octets = value.split(".")
        if len(octets) != 4 or not all(o.isdigit() and o.isascii() and (o == "0" or o[0] != "0") for o in octets):
            return None
        numbers = [int(o) for o in octets]
        if any(n > 255 for n in numbers):
            return None
        address = (numbers[0] << 24) | (numbers[1] << 16) | (numbers[2] << 8) | numbers[3]
        if numbers[0] == 127 or address == 0:
            return None  # loopback, unspecified
        for network, mask, tier in self._v4_tiers:
            if address & mask == network:
                return tier
        return "private-ip" if any(address & mask == network for network, mask in _PRIVATE_V4) else "public-ip"


_PRIVATE_V4 = tuple((int(n.network_address), int(n.netmask)) for n in _PRIVATE_NETS if n.version == 4)


def _alternation(names: Iterable[str]) -> re.Pattern | None:
    """Register names, case-insensitive, longest first, as whole words (not after a word character or @)."""
    ordered = sorted({n for n in names if n}, key=len, reverse=True)
    if not ordered:
        return None
    words = [(n[0], re.escape(n[1:]).replace(r"\ ", r"[ \t]+")) for n in ordered]
    return _words_re(words, r"(?<![\w@].)", ignore_case=True)


def _words_re(words: list[tuple[str, str]], before: str, ignore_case: bool) -> re.Pattern:
    """Words given as (first character, pattern of the rest), tried in order, each ending at a word boundary.

    A pattern that starts with a lookbehind gives sre no first character to skip to, so it runs the whole
    alternation at every position of the text. Here a class of the possible first characters is consumed
    first; then `before` (a lookbehind over that character and the one before it) and each word's own first
    character are checked.
    """
    flags = re.I if ignore_case else 0
    body = "|".join(f"(?<={re.escape(first)}){rest}" for first, rest in words)
    return re.compile(
        rf"{_first_char_class({first for first, _ in words}, flags)}{before}(?{'i' if ignore_case else ''}:{body})(?![\w])"
    )


def _first_char_class(chars: Iterable[str], flags: int) -> str:
    """A class of every character that can match one of `chars` under `flags`.

    The ASCII ones are found with `re` itself; every non-ASCII character is included, which covers
    IGNORECASE pairs such as k and the Kelvin sign (a superset is enough: the word checks its own character).
    """
    one_of = re.compile("[" + "".join(re.escape(ch) for ch in chars) + "]", flags)
    ascii_chars = "".join(re.escape(chr(code)) for code in range(128) if one_of.fullmatch(chr(code)))
    return rf"[{ascii_chars}\x80-\U0010ffff]"


def _digit_trie(ids: Iterable[str]) -> str:
    """Digit strings, `[ -]?` allowed between digits, as a trie: shared prefixes are matched once.

    The first digit is consumed before the lookbehind (not after a digit), so sre skips to it at C speed. An id that
    ends where a longer one goes on is tried first, as in a sorted alternation.
    """
    trie: dict = {}
    for digits in ids:
        node = trie
        for digit in digits:
            node = node.setdefault(digit, {})
        node[""] = {}

    def rest(node: dict) -> str:
        alternatives = [
            r"(?!\d)" if digit == "" else "[ -]?" + digit + rest(child) for digit, child in sorted(node.items())
        ]
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return "(?:" + "|".join(digit + r"(?<!\d.)" + rest(child) for digit, child in sorted(trie.items()) if digit) + ")"


_DEFAULT_REGISTERS = ScrubRegisters()


# --------------------------------------------------------------------------- the scrubber

# On overlap the earlier start wins, then the longer span, then the lower rank.
_Span = tuple[int, int, int, str, str]  # start, -end, rank, kind, label


def _tech_spans(text: str, lower: str, c: _Compiled, out: list[_Span]) -> None:
    regs = c.regs
    if "arn:aws" in text or "arn%3" in text or "ARN%3" in text:
        for m in _ARN.finditer(text):
            out.append((m.start(1), -m.end(1), 0, "arn_account", c.accounts.get(m.group(1), "account")))
        for m in _ARN_WRAPPED.finditer(text):  # a CLI wrapped the line inside the account id
            digits = m.group(1) + m.group(2)
            if len(digits) == 12:
                out.append((m.start(1), -m.end(2), 0, "arn_account", c.accounts.get(digits, "account")))
    if "ip-" in text:
        for m in _HOST.finditer(text):
            label = c.network_label(m.group(1).replace("-", "."))
            if label:
                out.append((m.start(), -m.end(), 2, "ip", label))
    _v6_spans(text, c, out)
    if ".X" in text or ".x" in text or ".*" in text:
        out += [(m.start(), -m.end(), 2, "ip", "ip") for m in _MASKED_V4.finditer(text)]
    _extra_phone_spans(text, lower, out)
    for m in _TECH.finditer(text):
        group = m.lastgroup
        if group == "email":
            host = m.group("email")
            if _IP_DOMAIN.fullmatch(host):  # user@10.0.0.5 (ssh, scp): the host is an address, the user kept
                label = c.network_label(host) if "x" not in host.lower() and "*" not in host else "ip"
                if label:
                    out.append((m.start("email"), -m.end(), 2, "ip", label))
                continue
            local = _LOCAL_PART.search(text, max(0, m.start() - 64), m.start())
            if local and host.rpartition(".")[2].isalpha():  # a top-level domain; not user@db.m5.2xlarge
                out.append((local.start(), -m.end(), 1, "email", "email"))
        elif group == "v4":
            value = m.group()  # network_label is None for an octet above 255
            if _VERSION_BEFORE.search(text, max(0, m.start() - 12), m.start()):
                continue
            label = c.network_label(value)
            if label:
                out.append((m.start(), -m.end(), 2, "cidr" if "/" in value else "ip", label))
        elif group == "acct":
            digits = m.group().replace(" ", "").replace("-", "")
            label = c.accounts.get(digits)
            if (
                label is None
                and len(m.group()) > 12
                and _DIGIT_GROUP_AFTER.match(text, m.end())
                and not _ACCOUNT_WORD.search(text, max(0, m.start() - 40), m.start())
            ):
                continue  # an unknown grouped number that goes on (a card or phone number), not an account
            if label is None:
                if not regs.unknown_accounts or not _account_shaped(text, m.start(), m.end(), digits):
                    continue
                label = "account"
            out.append((m.start(), -m.end(), 0, "account", label))
        else:  # phone, phone2, phone3, phone4
            digits = sum(map(str.isdigit, m.group()))
            if 7 <= digits <= 15:
                out.append((m.start(), -m.end(), 3, "phone", "phone"))


def _v6_spans(text: str, c: _Compiled, out: list[_Span]) -> None:
    done = -1
    for m in _V6_SEED.finditer(text):
        if m.start() < done:
            continue
        back = _V6_BACK.search(text, max(0, m.start() - 40), m.start())
        if not back:
            continue
        fwd = _V6_FWD.match(text, m.start())
        if not fwd:
            continue
        start, end = back.start(), fwd.end()
        done = end
        value = text[start:end]
        if value.count(":") < 2 or (value.strip(":") == "" and "/" not in value):
            continue
        label = c.network_label(value)
        if label:
            out.append((start, -end, 2, "cidr" if "/" in value else "ip", label))


def _account_shaped(text: str, start: int, end: int, digits: str) -> bool:
    """An unknown 12-digit number is an account unless its context names it as something else."""
    line_start = text.rfind("\n", max(0, start - 60), start) + 1
    before = text[max(line_start, start - 40) : start]
    if text.startswith(".signin.aws", end) or before.endswith(("/", "::", ":")):
        return True
    if _DECOY_BEFORE_REVERSED.match(before[::-1]):
        return False
    if before.rstrip().endswith(("+", ")")) or _COUNTRY_CODE_BEFORE.search(before):
        return False  # country or area code: a phone number
    if _TIMESTAMP12.fullmatch(digits) and not _ACCOUNT_WORD.search(before):
        return False
    return True


def _line_start(text: str, pos: int) -> bool:
    before = text[text.rfind("\n", 0, pos) + 1 : pos]
    return not before.strip() or before.strip() in ("--", "-", ">")


def _name_ok(name: str) -> bool:
    words = name.split()
    return bool(words) and all(w.lower() not in _NAME_STOP for w in words)


def _person_spans(text: str, c: _Compiled, out: list[_Span]) -> None:
    m, pos = _BEFORE_NAME_AT_START.match(text), 0
    while m or (m := _BEFORE_NAME.search(text, pos)):
        name, start, end = m.group(m.lastindex), m.start(m.lastindex), m.end(m.lastindex)
        pos = m.end()
        if not _name_ok(name):
            pos = start - 1  # "Thanks!\n\nBest,\nNgozi": the rejected "Best" may itself lead to a name
        elif not (
            _ROLE_BEFORE.search(text, max(0, start - 24), start) and name.split()[0].lower() not in _FIRST_NAMES
        ):  # "Systems Manager Maintenance Windows": after a role word, only a known given name
            out.append((start, -end, 5, "person", "person"))
            while more := _NAME_LIST_MORE.match(text, end):  # "Hello Ana, Pedro and Tomás"
                if not _name_ok(more.group("n")):
                    break
                out.append((more.start("n"), -more.end("n"), 5, "person", "person"))
                end = pos = more.end("n")
        m = None
    for pattern in (_SIG_DELIM, _FOLLOWED) if "--" in text else (_FOLLOWED,):  # a signature needs its "--"
        for m in pattern.finditer(text):
            name = m.group("n")
            if pattern is _FOLLOWED and m.group("bar") and (name.count(" ") == 0 or not _line_start(text, m.start())):
                continue
            if _name_ok(name):
                out.append((m.start("n"), -m.end("n"), 5, "person", "person"))
    for m in _MENTION.finditer(text):
        if m.group("n").lower() not in _MENTION_KEEP:
            out.append((m.start(), -m.end(), 5, "person", "person"))
    for m in _HANDLE_SEP.finditer(text):  # jane.doe, olivia_ngata: a role session or user name
        start = m.start()
        while start > 0 and m.start() - start < 20 and text[start - 1] in _LOWER_ASCII:
            start -= 1
        given = text[start : m.start()]
        if (start and text[start - 1] in _HANDLE_NOT_AFTER) or given not in _FIRST_NAMES or given in _AMBIGUOUS_FIRST:
            continue
        surname = m.group("s")
        if surname not in _ROLE_LOCAL and surname not in _NAME_STOP and surname not in _FILE_EXTENSIONS:
            out.append((start, -m.end(), 5, "person", "person"))
    for m in _FIRST_SURNAME.finditer(text):
        words = m.group("n").split()
        # a known given name, followed by a surname, or alone when it is not also a common word
        first = words[0].lower()
        if first not in _FIRST_NAMES:
            if len(words) > 1 and words[1].lower() in _FIRST_NAMES:
                words, start = words[1:], m.start("n") + m.group("n").index(words[1], len(words[0]))
            else:
                continue
        else:
            start = m.start("n")
        if len(words) == 1 and words[0].lower() in _AMBIGUOUS_FIRST:
            if words[0].lower() in _PROPER_NOT_PERSON or not _in_prose(text, start, start + len(words[0])):
                continue
        elif words[0].lower() in _AMBIGUOUS_FIRST and (len(words) > 2 or _CAPITAL_AFTER.match(text, m.end("n"))):
            continue  # "Dallas Cloudflare Working", "Grant Access To": a title, not a name
        if any(w.lower() in _NAME_STOP for w in words):
            words = words[:1]
            if words[0].lower() in _AMBIGUOUS_FIRST:
                continue
        end = start + len(" ".join(words)) if len(words) > 1 else start + len(words[0])
        if text[start:end].replace("\t", " ") != " ".join(words):
            end = start + len(words[0])
        out.append((start, -end, 6, "person", "person"))


# --------------------------------------------------------------------------- context: headers, forms, chat, e-mails

_NAME_TOKEN = rf"(?:[{UP}](?:['’][{UP}])?[{LOW}]+(?:-[{UP}][{LOW}]+)?|[{UP}]\.?)"
# A name that may hold initials ("Steven J Kean", "John L. Nowlan", "A B C"), for header and display-name rules.
_NAME_WITH_INITIALS = re.compile(rf"{_NAME_TOKEN}(?:[ \t]+{_NAME_TOKEN}){{0,3}}")
# The line rules below start with the newline before the line (sre skips to it at C speed); they run on the text
# with a newline put in front, so the first line counts too.
_HEADER_LINE = re.compile(
    r"\n[ \t>]*(?:[Xx]-)?(?i:from|to|cc|bcc|reply-to|sender|von|an|fra|til|de|para|van|aan|från|till|kopie|kopia|da)"
    r"[ \t]*:[ \t]*(?P<v>[^\n]*(?:\n[ \t]+(?![ \t]*[\w-]{1,20}:)[^\n]*)*)"
)
_HEADER_ITEM_END = re.compile(r"[/@<(\[\"]|$")
_DISPLAY_LABEL = re.compile(r"^[ \t>]*[\w-]{1,20}:[ \t]*")
_DISPLAY_TOKEN = re.compile(rf"^[(\"']?(?:[{UP}][\w'’.-]*|[{UP}])[)\"',]?$")
_DISPLAY_STOP = frozenset(
    "am pm on at wrote schrieb a.m. p.m. utc gmt sent date subject mon tue wed thu fri sat sun jan feb mar apr may "
    "jun jul aug sep sept oct nov dec le il el".split()
)
_AUTHOR_LINE = re.compile(
    r"\n(?P<h>[A-Za-z0-9][A-Za-z0-9_-]{0,38}) · (?:description|comment|review|commit|reply|answer|post|issue)\b"
)
_CHAT_LINE = re.compile(
    rf"\n[ \t]*(?P<n>{_NAME_TOKEN}(?:[ \t]{_NAME_TOKEN}){{0,2}})[ \t]*"
    r"(?:\[\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]?[AaPp][Mm])?\]|[ \t]\d{1,2}:\d{2}[ \t]?[AaPp][Mm][ \t]*(?=\n|$))"
)
# A form label about a person ("### Your Name", "Requester name:", "Product Manager (PM) name and email").
_FORM_LABEL = re.compile(
    r"(?i)\n[ \t]*(?:#{1,6}[ \t]+|\*\*)?(?P<label>[^\n:#*]{0,60}\bname\b[^\n:#*]{0,40})(?:\*\*)?[ \t]*"
    r"(?::[ \t]*(?P<same>[^\n]+)|\n(?:[ \t]*\n){0,2}[ \t]*(?P<next>[^\n#][^\n]*))"
)
_FORM_NOT_PERSON = frozenset(
    "bucket instance host hostname cluster service resource repository repo project product role policy function "
    "stack table database db queue topic file domain key image app application environment alias tag branch region "
    "zone vpc subnet group team device server node pipeline job workflow dag task alarm metric rule event "
    "certificate cert secret parameter module package namespace schema index stream volume snapshot".split()
)
_FORM_PART = re.compile(r"[ \t]+-+[ \t]+|[ \t]*[,;][ \t]*|[ \t]+and[ \t]+")
_ROLE_LOCAL = frozenset(
    "info support admin administrator sales noreply no reply donotreply help helpdesk service services contact hello "
    "hr it ops billing accounts account questions notifications notification alerts alert security abuse postmaster "
    "webmaster office mail email team jobs job careers press media marketing news newsletter feedback enquiries "
    "inquiries customer customers client clients system root user test dev devops sre cloud aws bot do not incoming "
    "outgoing text automated applicant auto reports report mailer daemon bounce invoices orders".split()
)
_GENERIC_DOMAINS = frozenset(
    "gmail googlemail yahoo ymail hotmail outlook live msn aol icloud me mac protonmail proton pm gmx web mail email "
    "fastmail zoho yandex qq 163 126 sina example examples beispiel ejemplo exemple esempio test testing invalid "
    "localhost local company domain mydomain yourcompany users noreply amazon amazonaws aws google microsoft apple "
    "github gitlab atlassian slack okta pagerduty datadog cloudflare hashicorp oracle redhat ibm salesforce zendesk "
    "servicenow office365 sharepoint docker kubernetes internal localdomain intranet corp lan home svc cluster".split()
)
_VENDOR_PREFIXES = (
    "amazon",
    "aws",
    "google",
    "microsoft",
    "azure",
    "github",
    "gitlab",
    "atlassian",
    "slack",
    "cloudflare",
)


def _generic_domain(label: str) -> bool:
    """Webmail, example, internal and vendor domains (githubstatus, awsstatic) name no customer."""
    return label in _GENERIC_DOMAINS or label.startswith(_VENDOR_PREFIXES)


_SECOND_LEVEL = frozenset("co com org net ac gov govt edu ltd plc nom sch mil int".split())
_CAPITALISED_RUN = re.compile(rf"[{UP}](?<![^\s(\"'/>,;:].)[\w&'’-]*(?:[ \t]+[{UP}][\w&'’-]*){{0,3}}")
_IP_DOMAIN = re.compile(r"\d{1,3}\.\d{1,3}\.(?:\d{1,3}|[xX*]{1,3})\.(?:\d{1,3}|[xX*]{1,3})")
_MASKED_V4 = re.compile(
    r"\d(?<![\w.]\d)\d{0,2}\.\d{1,3}\.(?:\d{1,3}\.[xX*]{1,3}|[xX*]{1,3}\.(?:[xX*]{1,3}|\d{1,3}))(?![\w.])"
)
# A number that starts with + or a trunk 0, its first character consumed first (sre skips to it), then a look behind.
_NUMBER_RUN = re.compile(
    r"[+0](?<![\w.:/+-][+0])[ \t]?[\d(][\d \t()-]{4,40}\d(?![\w]|[.:/]\d)"
    r"|1(?<![\w.:/+-]1)(?:[38]00[ -]?\d{3}[ -]?\d{3,4}|-8\d\d-\d{3}-\d{4})(?![\w]|[.:/-]\d)"  # 1800, 1300, 1-800
)
# A number after a cue word (tel, fax, mobile, 📞) or a one-letter label at a line start ("t. 555-931-0702").
_CUE_NUMBER = r"[ \t]*[:.]?[ \t]*(?P<p>\+?[ \t]?\(?\d[\d \t().-]{5,22}\d)(?![\w])"
_PHONE_CUE = re.compile(
    r"(?:(?<![\w.])(?i:tel|telephone|phone|mob|mobile|cell|fax|hotline|whatsapp|ph)\.?|[📞☎📱])" + _CUE_NUMBER
)
_PHONE_CUE_GATES = ("tel", "phone", "mob", "cell", "fax", "hotline", "whatsapp", "ph.", "ph:", "ph ", "📞", "☎", "📱")
_PHONE_LINE_CUE = re.compile(r"\n[ \t]*[tfmpTFMP]\.?" + _CUE_NUMBER)


def _digits(value: str) -> int:
    return sum(map(str.isdigit, value))


def _context_person_spans(text: str, out: list[_Span]) -> None:
    """Names in mail headers (lists too), display names before <address>, GitHub author lines, chat lines, forms."""
    nl = "\n" + text  # offsets in `nl` are one past those in `text`
    if ":" in text:
        for m in _HEADER_LINE.finditer(nl):
            offset = m.start("v") - 1
            for item in re.finditer(r"[^,;]+", m.group("v")):
                raw = item.group()
                head = raw[: _HEADER_ITEM_END.search(raw).start()]
                name = _NAME_WITH_INITIALS.search(head)
                if name and head[: name.start()].strip(" \t\"'\n") == "" and _name_ok(name.group()):
                    start = offset + item.start() + name.start()
                    out.append((start, -(start + len(name.group())), 5, "person", "person"))
        for m in _CHAT_LINE.finditer(nl):
            if _name_ok(m.group("n")):
                out.append((m.start("n") - 1, -(m.end("n") - 1), 5, "person", "person"))
    if "name" in text or "Name" in text:
        _form_spans(nl, out)
    if " · " in text:
        for m in _AUTHOR_LINE.finditer(nl):
            out.append((m.start("h") - 1, -(m.end("h") - 1), 5, "person", "person"))


def _form_spans(nl: str, out: list[_Span]) -> None:
    """`nl`: the text after a newline (offsets one past the text's)."""
    for m in _FORM_LABEL.finditer(nl):
        label = m.group("label").lower()
        if any(word in _FORM_NOT_PERSON for word in re.findall(r"[a-z]+", label)):
            continue
        group = "same" if m.group("same") is not None else "next"
        value, offset = m.group(group), m.start(group) - 1
        for part in _FORM_PART.split(value):
            if not part or "@" in part or any(ch.isdigit() for ch in part):
                continue
            name = _NAME_WITH_INITIALS.fullmatch(part.strip())
            if name and _name_ok(name.group()):
                start = offset + value.index(part) + (len(part) - len(part.lstrip()))
                out.append((start, -(start + len(name.group())), 5, "person", "person"))


def _display_name_spans(text: str, emails: list[tuple[int, int]], vendors: set[str], out: list[_Span]) -> None:
    """The display name of `Name <local@domain>`: a person or an organisation (not a vendor), either way to hide."""
    for start, _end in emails:
        if start == 0 or text[start - 1] != "<":
            continue
        line_start = text.rfind("\n", 0, start - 1) + 1
        before = text[line_start : start - 1]
        if not before.strip() and line_start > 0:  # the address wrapped onto its own line
            line_start = text.rfind("\n", 0, line_start - 1) + 1
            before = text[line_start : text.find("\n", line_start)]
        label = _DISPLAY_LABEL.match(before)
        skip = label.end() if label else 0
        tokens = [(t.start() + skip, t.group()) for t in re.finditer(r"\S+", before[skip:])]
        kept: list[tuple[int, str]] = []
        for pos, token in reversed(tokens):
            bare = token.strip("(\"'),")
            if not bare or bare.lower() in _DISPLAY_STOP or not _DISPLAY_TOKEN.match(token):
                break
            kept.append((pos, token))
        if not kept:
            continue
        if any(token.strip("(\"'),").lower() in vendors for _, token in kept):
            continue  # "Amazon Web Services <no-reply@...>": a vendor, kept as everywhere else
        first_pos, last = kept[-1][0], kept[0]
        name_start = line_start + first_pos + (len(kept[-1][1]) - len(kept[-1][1].lstrip("(\"'")))
        name_end = line_start + last[0] + len(last[1].rstrip("\"',"))
        out.append((name_start, -name_end, 5, "person", "person"))


def _email_hints(text: str, emails: list[tuple[int, int]]) -> tuple[set[str], set[str]]:
    """Name tokens from local parts (first.last, yolandaw) and organisation labels from domains."""
    names: set[str] = set()
    orgs: set[str] = set()
    for start, end in emails:
        at = text.find("@", start, end)
        local, domain = text[start:at].lower(), text[at + 1 : end].lower()
        tokens = [t for t in re.split(r"[._+-]+", local) if t]
        alpha = [t for t in tokens if t.isalpha() or "'" in t]
        if 2 <= len(alpha) <= 3 and len(alpha) == len([t for t in tokens if not t.isdigit()]):
            if not any(t in _ROLE_LOCAL for t in alpha) and any(t in _FIRST_NAMES for t in alpha):
                names.update(t for t in alpha if len(t) >= 3)
        elif len(alpha) == 1 and len(tokens) == 1:
            word = alpha[0]
            if word in _FIRST_NAMES and word not in _AMBIGUOUS_FIRST:
                names.add(word)
            elif word[:-1] in _FIRST_NAMES and word[:-1] not in _AMBIGUOUS_FIRST and len(word) > 4:
                names.add(word[:-1])
        labels = domain.split(".")
        if len(labels) >= 2:
            labels = labels[:-1]
            if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL:
                labels = labels[:-1]
            label = labels[-1]
            if len(label) >= 4 and not label.isdigit() and not _generic_domain(label):
                orgs.add(label)
    return names, orgs


def _word_at(text: str, start: int, end: int) -> bool:
    return (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum())


_ORG_END_WORDS = frozenset(
    w.lower().rstrip(".") for w in (*DEFAULT_COMPANY_SUFFIXES, *DEFAULT_ORGANISATION_NOUNS, "Pty", "Limited", "Plc")
)
_WWW_LABEL = re.compile(r"www\.([a-z0-9-]{4,63})\.[a-z]{2,}")


def _propagated_spans(
    text: str, spans: list[_Span], c: _Compiled, out: list[_Span], *, people: bool, companies: bool
) -> None:
    """Names and organisations found once, or spelled by an address, hidden wherever else they occur."""
    emails = [(start, -neg_end) for start, neg_end, _r, kind, _l in spans if kind == "email"]
    names, orgs = _email_hints(text, emails) if emails else (set(), set())
    if not people:
        names = set()
    phrases: set[str] = set()
    org_names: set[str] = set()
    for start, neg_end, rank, kind, _label in spans:
        if kind == "person" and people:
            value = text[start:-neg_end]
            words = [w for w in value.split() if len(w) >= 3 and w[0].isupper() and not w.isupper()]
            if len(value.split()) > 1:
                phrases.add(value)
            # a given name, and the surname of "Given Surname", stand for the person elsewhere in the text: when
            # a context rule (greeting, header, signature) found the name, or the given name is a known one
            given = words[0].lower() if words else ""
            if given and given not in _AMBIGUOUS_FIRST and (rank <= 5 or given in _FIRST_NAMES):
                for word in {given, words[-1].lower()}:
                    if word not in _NAME_STOP and word not in c.vendors and word not in _AMBIGUOUS_FIRST:
                        names.add(word)
        elif kind == "customer" and companies:
            words = text[start:-neg_end].split()  # "Globex Corporation": Globex alone elsewhere is the same company
            while words and words[-1].lower() in _ORG_END_WORDS:
                words.pop()
            core = " ".join(words)
            if core and core != text[start:-neg_end] and len(core) >= 4 and core.lower() not in c.vendors:
                if len(words) > 1 or core.lower() not in _NAME_STOP:
                    org_names.add(core)
    lower = text.lower()
    if "www." in lower:  # a web site in a signature spells the organisation as an address does
        orgs |= {m.group(1) for m in _WWW_LABEL.finditer(lower) if not _generic_domain(m.group(1))}
    for org in org_names:
        pos = text.find(org)
        while pos != -1:
            if _word_at(text, pos, pos + len(org)):
                out.append((pos, -(pos + len(org)), 4, "customer", _org_label(c, org)))
            pos = text.find(org, pos + 1)
    for name in names:
        pos = lower.find(name)
        while pos != -1:
            end = pos + len(name)
            if _word_at(text, pos, end) and text[pos].isupper():
                out.append((pos, -end, 6, "person", "person"))
            pos = lower.find(name, end)
    for phrase in phrases:
        pos = text.find(phrase)
        while pos != -1:
            out.append((pos, -(pos + len(phrase)), 5, "person", "person"))
            pos = text.find(phrase, pos + 1)
    if orgs and companies:
        _org_spans(text, lower, orgs, c, out)


def _org_spans(text: str, lower: str, orgs: set[str], c: _Compiled, out: list[_Span]) -> None:
    found: set[str] = set()
    firsts = {org[0] for org in orgs}
    for m in _CAPITALISED_RUN.finditer(text):
        phrase = m.group()
        head = phrase[4:5] if phrase.startswith("The ") else phrase[:1]
        if head.lower() not in firsts:
            continue  # a match needs the organisation's first letter
        key = _NOT_LETTER.sub("", phrase.lower().removeprefix("the "))
        if not key or phrase.lower() in c.vendors:
            continue
        words = phrase.split()
        for org in orgs:
            if (
                key == org
                or (org.startswith(key) and len(key) >= 5 and len(words) >= 2)
                or (key.startswith(org) and len(org) >= 6)
            ):
                out.append((m.start(), -m.end(), 4, "customer", _org_label(c, phrase)))
                if len(words) >= 2:
                    found.add(" ".join(words[1:] if words[0] == "The" else words).lower())
                break
    variants = set(orgs) | {sep.join(p.split()) for p in found for sep in ("_", "-", "")}
    for variant in variants:
        pos = lower.find(variant)
        while pos != -1:
            end = pos + len(variant)
            hosted = pos > 0 and text[pos - 1] in "./@"  # in a host name: www.globex.com, mail.globex.com
            if _word_at(text, pos, end) and (
                variant in found or hosted or not text[pos].islower() or "_" in variant or "-" in variant
            ):
                out.append((pos, -end, 4, "customer", _org_label(c, text[pos:end])))
            pos = lower.find(variant, end)


def _extra_phone_spans(text: str, lower: str, out: list[_Span]) -> None:
    """Phones after a cue word (tel, fax, t., 📞), national numbers in pairs (0800 77 66 22), runs of numbers."""
    cues = [_PHONE_CUE.finditer(text)] if any(cue in lower for cue in _PHONE_CUE_GATES) else []
    for m in itertools.chain(*cues, _PHONE_LINE_CUE.finditer(text)):
        if 7 <= _digits(m.group("p")) <= 15:
            out.append((m.start("p"), -m.end("p"), 3, "phone", "phone"))
    for m in _NUMBER_RUN.finditer(text):
        for number_start, number_end in _split_numbers(m.group(), m.start()):
            out.append((number_start, -number_end, 3, "phone", "phone"))


def _split_numbers(run: str, offset: int) -> list[tuple[int, int]]:
    """A run of digit groups as numbers: a group starting with 0 or + after 7 digits starts the next one."""
    numbers, start, count, last_end = [], None, 0, 0
    for group in re.finditer(r"\+?[ \t]?\(?\d[\d()-]*", run):
        token = group.group()
        if start is not None and count >= 7 and token.lstrip("( \t")[:1] in ("0", "+"):
            numbers.append((start, last_end, count))
            start, count = None, 0
        if start is None:
            start = group.start()
        count += _digits(token)
        last_end = group.end()
    if start is not None:
        numbers.append((start, last_end, count))
    return [(offset + s, offset + e) for s, e, n in numbers if 8 <= n <= 15]


_PROSE_BEFORE = re.compile(r"[a-z]{2,}[ \t]$")
_PROSE_AFTER = re.compile(r"[ \t][a-z]{2,}\b|[,;)]|[ \t]*$")


def _in_prose(text: str, start: int, end: int) -> bool:
    """A capitalised word between lower-case words: a name, not a sentence start or a title ("from Grace listing")."""
    return bool(_PROSE_BEFORE.search(text, max(0, start - 20), start)) and bool(_PROSE_AFTER.match(text, end))


def _company_spans(text: str, c: _Compiled, out: list[_Span]) -> None:
    if c.suffix_re is None:
        return
    for m in c.suffix_re.finditer(text):
        window_start = max(0, m.start() - 80)
        head = _COMPANY_HEAD.search(text, window_start, m.start())
        if not head:
            continue
        head_text = head.group()
        words = head_text.split()
        skip, offset = 0, 0
        while skip < len(words) and words[skip].lower() in _COMPANY_LEAD_STOP:
            offset = head_text.index(words[skip], offset) + len(words[skip])
            skip += 1
        if skip == len(words):
            continue
        words = words[skip:]
        spaced = " " + " ".join(words).lower() + " "
        if any(f" {vendor} " in spaced for vendor in c.vendors):
            continue
        start = head.start() + head_text.index(words[0], offset)
        end = m.end()
        # "Pty Ltd": extend over a second suffix right after the first
        follow = c.suffix_re.match(text, end + 1) if text[end : end + 1] == " " else None
        if follow:
            end = follow.end()
        label = c.customer_labels.get(text[start:end].lower(), "customer")
        out.append((start, -end, 4, "customer", label))


# The noun first (sre skips to its capital at C speed), the capitalised words before it read backwards.
_ORG_OF_TAIL = rf"[ \t]+of[ \t]+(?:the[ \t]+)?[{UP}][\w&'’-]*(?:[ \t]+(?:and[ \t]+)?[{UP}][\w&'’-]*){{0,3}}"
# One flat alternation of words (each alternative starts with its literal, so sre skips to their capitals).
_ORG_NOUN = re.compile(
    "|".join(
        [
            f"{w}{_ORG_OF_TAIL}"
            for w in ("University", "College", "Institute", "Ministry", "Department", "Bank", "School", "Council")
        ]
        + [rf"{w}(?![\w-]|[ \t]+[{UP}])" for w in DEFAULT_ORGANISATION_NOUNS]
    )
)
_ORG_HEAD = re.compile(rf"(?:(?<![\w&'’.-])[{UP}][\w&'’-]*[ \t]+){{1,4}}$")
# Lines of a signature after the name: a job title, contact lines, then the organisation.
_TITLE_WORDS = frozenset(
    "manager engineer director officer lead head analyst consultant architect specialist administrator developer "
    "president vp ceo cto cio cfo coo ciso founder co-founder partner associate coordinator supervisor technician "
    "executive representative assistant advisor adviser owner principal chief senior junior staff intern "
    "sre devops support operations product project program programme account sales marketing".split()
)
_SIG_ORG_LINE = re.compile(rf"[ \t]*(?P<o>[{UP}][\w&'’.-]*(?:[ \t]+[\w&'’.-]+){{0,5}})[ \t]*")


_AT_ORG = re.compile(
    rf"[ \t]+(?:from|at|with|of)[ \t]+(?:the[ \t]+)?(?P<o>[{UP}][\w&'’-]*(?:[ \t]+[{UP}][\w&'’-]*){{0,3}})"
)


def _org_label(c: _Compiled, name: str) -> str:
    """The register's persona for a registered customer name, else `customer`."""
    if not c.customer_labels:
        return "customer"
    return c.customer_labels.get(_BLANKS.sub(" ", name.strip().lower()), "customer")


_BLANKS = re.compile(r"[ \t]+")
_NOT_LETTER = re.compile(r"[^a-z]")


def _organisation_spans(text: str, c: _Compiled, people: list[_Span], out: list[_Span]) -> None:
    """Organisations named by a noun ("... University", "University of ...") or on a signature's lines."""
    for m in _ORG_NOUN.finditer(text):
        if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] == "-"):
            continue
        if " of" in m.group() or "\tof" in m.group():
            start, words = m.start(), m.group().split()
        else:
            head = _ORG_HEAD.search(text, max(0, m.start() - 80), m.start())
            if not head:
                continue
            words = head.group().split() + [m.group()]
            while words and words[0].lower() in _COMPANY_LEAD_STOP:
                words = words[1:]
            start = m.end() - len(" ".join(words))
        if len(words) < 2 or any(w.lower() in c.vendors for w in words) or text[start : m.end()].split() != words:
            continue
        out.append((start, -m.end(), 4, "customer", _org_label(c, text[start : m.end()])))
    for _start, neg_end, _rank, _kind, _label in people:  # "Giulia from Contoso", "Hannah Schmidt at Initech"
        m = _AT_ORG.match(text, -neg_end)
        if m:
            words = m.group("o").split()
            if not any(
                w.lower() in c.vendors or w.lower() in _NAME_STOP or w.lower() in _PROPER_NOT_PERSON for w in words
            ):
                out.append((m.start("o"), -m.end("o"), 4, "customer", _org_label(c, m.group("o"))))
    for start, neg_end, _rank, _kind, _label in people:
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", -neg_end)
        if line_end == -1 or text[line_start:start].strip(" \t>-") or text[-neg_end:line_end].strip(" \t,"):
            continue  # a signature's name stands alone on its line
        pos = line_end + 1
        for _ in range(4):
            end = text.find("\n", pos)
            end = len(text) if end == -1 else end
            line = text[pos:end]
            if not line.strip():
                break
            words = re.findall(r"[A-Za-z][\w'’&.-]*", line)
            titled = any(w.lower().strip(".,") in _TITLE_WORDS for w in words)
            if not titled and not any(ch.isdigit() or ch in "@:/|" for ch in line) and not line.rstrip().endswith("."):
                m = _SIG_ORG_LINE.fullmatch(line)
                if m and len(m.group("o")) <= 60 and not any(w.lower() in c.vendors for w in m.group("o").split()):
                    out.append((pos + m.start("o"), -(pos + m.end("o")), 4, "customer", _org_label(c, m.group("o"))))
                    break
            pos = end + 1


_COMPANY_HEAD = re.compile(rf"(?:(?<![\w&'’.-])[{UP}0-9][\w&'’-]*(?:\.[\w&'’-]+)*[ \t]+){{1,5}}$")
_COMPANY_LEAD_STOP = frozenset(
    "the hi hello hey dear from at for our we re fw fwd subject customer tenant client to cc and or of by with "
    "on in thanks regards cheers attn about".split()
)


def _register_spans(text: str, c: _Compiled, out: list[_Span]) -> None:
    if c.account_re is not None:
        for m in c.account_re.finditer(text):
            out.append((m.start(), -m.end(), 0, "account", c.accounts[m.group().replace(" ", "").replace("-", "")]))
    if c.customer_re is not None:
        for m in c.customer_re.finditer(text):
            label = c.customer_labels.get(re.sub(r"[ \t]+", " ", m.group().lower()), "customer")
            out.append((m.start(), -m.end(), 4, "customer", label))
    if c.people_re is not None:
        for m in c.people_re.finditer(text):
            out.append((m.start(), -m.end(), 5, "person", "person"))


_NAME_GAP = re.compile(rf"[ \t]+(?:[{UP}]\.?[ \t]+)?")


def _blank(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with each span's characters replaced by NUL, which no PII rule matches (offsets unchanged)."""
    pieces, pos = [], 0
    for start, end, _kind in spans:
        pieces += [text[pos:start], "\0" * (end - start)]
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


def _overlaps(taken: list[tuple[int, int, str]], starts: list[int], start: int, end: int) -> bool:
    i = bisect_right(starts, start)
    return (i > 0 and taken[i - 1][1] > start) or (i < len(taken) and taken[i][0] < end)


def scrub(text: str, registers: ScrubRegisters | None = None) -> ScrubResult:
    """Replace the PII in `text`; deterministic for a given text and registers."""
    regs = registers or _DEFAULT_REGISTERS
    c = regs.compiled()
    spans: list[_Span] = []
    lower = text.lower() if text.isascii() else text.translate(ASCII_LOWER)
    credentials = credential_spans(text, lower)
    original = text
    if credentials:  # the PII rules read the text with its credentials blanked: nothing to find, nothing to skip
        text, lower = _blank(text, credentials), _blank(lower, credentials)
    _tech_spans(text, lower, c, spans)
    _register_spans(text, c, spans)
    if regs.detect_companies:
        _company_spans(text, c, spans)
    if regs.detect_people:
        _person_spans(text, c, spans)
        _context_person_spans(text, spans)
    # A credential wins over any PII span that overlaps it; what is derived from spans (display names, the
    # names and organisations an address spells) is derived from the spans left.
    starts = [start for start, _, _ in credentials]
    if credentials:
        spans = [span for span in spans if not _overlaps(credentials, starts, span[0], -span[1])]
    if regs.detect_people:
        emails = [(start, -neg_end) for start, neg_end, _r, kind, _l in spans if kind == "email"]
        if emails:
            _display_name_spans(text, emails, c.vendors, spans)
    if regs.detect_companies:
        people = [span for span in spans if span[3] == "person"] if regs.detect_people else []
        _organisation_spans(text, c, people, spans)
    if regs.detect_people or regs.detect_companies:
        found: list[_Span] = []
        if any(span[3] in ("person", "customer", "email") for span in spans):
            _propagated_spans(text, spans, c, found, people=regs.detect_people, companies=regs.detect_companies)
        if found:
            taken = set(spans)  # a name found again where it was found, as it was: one span
            spans += [
                span
                for span in found
                if (span[0], span[1]) not in taken
                and not (credentials and _overlaps(credentials, starts, span[0], -span[1]))
            ]
    spans += [(start, -end, -1, kind, kind) for start, end, kind in credentials]
    text = original
    if not spans:
        return ScrubResult(text, ())
    spans.sort()
    pieces: list[str] = []
    replacements: list[Replacement] = []
    pos = 0
    for start, neg_end, _rank, kind, label in spans:
        end = -neg_end
        if start < pos or end <= start:
            continue  # overlaps a span already taken (earlier start or longer)
        if (
            kind == "person"
            and replacements
            and replacements[-1].kind == "person"
            and _NAME_GAP.fullmatch(text, pos, start)
        ):
            replacements[-1] = Replacement(kind, replacements[-1].start, end, label)  # "{person} J {person}": one name
            pos = end
            continue
        pieces.append(text[pos:start])
        pieces.append("{" + label + "}")
        replacements.append(Replacement(kind, start, end, label))
        pos = end
    pieces.append(text[pos:])
    return ScrubResult("".join(pieces), tuple(replacements))
