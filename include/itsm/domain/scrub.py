"""PII scrubbing before anything reaches the SPM board (DESIGN section 6, seed "PII Scrubbing").

`scrub(text, registers)` replaces, in one left-to-right resolution of candidate spans:

- AWS account ids (12 digits, also `3182-7465-0011` / `318 274 650 011`, inside ARNs and sign-in
  URLs) -> the account's type from the org register (`{prod-account}`, `{dr-account}`, ...), an
  unknown account-shaped number -> `{account}`; a 12-digit number named as something else
  (order, invoice, tracking, phone, ...) or shaped as a YYYYMMDDhhmm timestamp is kept;
- IPv4/IPv6 addresses, CIDRs and EC2 host names (`ip-10-0-1-5`) -> the network tier of the
  discovered VPC that holds them (`{prod-vpc}`), else `{private-ip}` / `{public-ip}` /
  `{private-network}` / `{public-network}`; `0.0.0.0/0`, loopback and the metadata address are
  kept (they are meaning, not identity); so are dotted version numbers after "version", "v", ...;
- e-mail addresses -> `{email}`; phone numbers (international and local formats) -> `{phone}`;
- customer names (register names and aliases -> the customer's persona label; company-like
  names ending in Ltd/Limited/Inc/Pty/LLC/GmbH/... -> `{customer}`);
- person names: greetings, closings and signatures, `From: Name <mail>` headers, `@mentions`,
  `Name Surname | Title` lines, "spoke with Name", `Name wrote:`, known first names followed by
  a surname, and the people register -> `{person}`.

Everything else is kept: resource ids, ARNs without an account, versions, timestamps, ticket
keys, regions, service names, error codes. Pure and deterministic; every pattern is
precompiled and anchored at a token start (no nested unbounded repetition), so the run time is
linear in the text length. Replacements carry kind, span and label, never the original value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from include.itsm.domain.inventory import AccountInfo
from include.itsm.domain.scrub_config import DEFAULT_COMPANY_SUFFIXES, DEFAULT_VENDORS, CustomerEntry, NetworkTier, ScrubConfig

KINDS = ("account", "arn_account", "ip", "cidr", "email", "phone", "person", "customer")


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
        accounts=account_map, customers=customers, networks=networks, people=list(config.people),
        company_suffixes=config.company_suffixes, vendors=config.vendors, detect_people=config.detect_people,
        detect_companies=config.detect_companies, unknown_accounts=config.unknown_accounts,
    )  # fmt: skip


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
_ARN = re.compile(r"arn:aws[\w-]{0,20}:[\w-]{0,40}:[\w-]{0,40}:(\d{12}):")
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
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10")
)
_KEEP_IPS = frozenset({"0.0.0.0", "0.0.0.0/0", "127.0.0.1", "169.254.169.254", "255.255.255.255", "::/0", "::1", "::"})


_NAME_AFTER = rf"(?=[ \t]*(?:\n|$|\||,|<|\(|!|:|[ \t]-))"


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
_BEFORE_BODY = _by_first_letter([
    ("", _GREETING_WORDS, rf"[ \t]+{_TITLE}({_NAME}|[a-z]{{3,12}}(?=[ \t]*(?:[,!]|[ \t]-))){_NAME_AFTER}"),
    ("", _CLOSING_WORDS, rf"[ \t]*[,.!]?[ \t]*(?:\n[ \t]*){{0,2}}{_TITLE}({_NAME}){_NAME_AFTER}"),
    (r"(?<![^\n].)", _HEADER_WORDS, rf"[ \t]*:[ \t]*\"?{_TITLE}({_NAME})\"?[ \t]*(?=<|$|\n|,|\()"),
    ("", _CONTEXT_WORDS, rf":?[ \t]+{_TITLE}({_NAME})"),
])
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
_MENTION = re.compile(r"@(?<![\w@.]@)(?P<n>[A-Za-z][\w.-]{0,40}[A-Za-z0-9]|[A-Za-z])(?![\w@])")
_MENTION_KEEP = frozenset({"here", "channel", "everyone", "all", "team", "oncall", "on-call", "sre", "ops", "devops"})
_NAME_STOP = frozenset(
    "team all there everyone folks guys support ops sre devops folks everybody you again both again ok okay thanks "
    "and the a an for from with service desk customer tenant client regards cheers best hi hello dear morning "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december aws amazon azure google okta slack jira confluence pagerduty datadog "
    "security platform network cloud finance engineering infrastructure operations admin administrator "
    "root sir madam colleagues partner partners crew mate mates people teams will".split()
)  # fmt: skip
# Common given names (English, Māori, Pacific, Asian, European) recognised with a following capitalised surname,
# or alone where the word is not also an ordinary English word.
_FIRST_NAMES = frozenset(
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
)  # fmt: skip
# Given names that are also ordinary words (or AWS/product words): only with a surname or in a context rule.
_AMBIGUOUS_FIRST = frozenset(
    "will may mark bill grant rose june april summer chase hope faith sky page mercy joy dawn "
    "art frank gene jack drew dean max ray rich rob pat sue ken don lee jean kim ali hans te wei li ming jun "
    "yan hui lei xin mei anh duc hoa dan tim ian joe".split()
)  # fmt: skip
_FIRST_SURNAME = re.compile(r"(?P<n>" + _name_not_after(r"\w@.#/-") + r")(?![\w@.-]\w)")


def _norm_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network | None:
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
            _words_re([(s[0], re.escape(s[1:])) for s in suffixes], r"(?<=[ \t].)", ignore_case=False) if suffixes else None
        )
        self.vendors = {v.lower() for v in regs.vendors}
        self._ip_cache: dict[str, str | None] = {}

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
    return re.compile(rf"{_first_char_class({first for first, _ in words}, flags)}{before}(?{'i' if ignore_case else ''}:{body})(?![\w])")


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
        alternatives = [r"(?!\d)" if digit == "" else "[ -]?" + digit + rest(child) for digit, child in sorted(node.items())]
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return "(?:" + "|".join(digit + r"(?<!\d.)" + rest(child) for digit, child in sorted(trie.items()) if digit) + ")"


_DEFAULT_REGISTERS = ScrubRegisters()


# --------------------------------------------------------------------------- the scrubber

# On overlap the earlier start wins, then the longer span, then the lower rank.
_Span = tuple[int, int, int, str, str]  # start, -end, rank, kind, label


def _tech_spans(text: str, c: _Compiled, out: list[_Span]) -> None:
    regs = c.regs
    if "arn:aws" in text:
        for m in _ARN.finditer(text):
            out.append((m.start(1), -m.end(1), 0, "arn_account", c.accounts.get(m.group(1), "account")))
    if "ip-" in text:
        for m in _HOST.finditer(text):
            label = c.network_label(m.group(1).replace("-", "."))
            if label:
                out.append((m.start(), -m.end(), 2, "ip", label))
    _v6_spans(text, c, out)
    for m in _TECH.finditer(text):
        group = m.lastgroup
        if group == "email":
            local = _LOCAL_PART.search(text, max(0, m.start() - 64), m.start())
            if local:
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
    first = _BEFORE_NAME_AT_START.match(text)
    for m in ([first] if first else []) + list(_BEFORE_NAME.finditer(text)):
        if _name_ok(m.group(m.lastindex)):
            out.append((m.start(m.lastindex), -m.end(m.lastindex), 5, "person", "person"))
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
            continue
        if any(w.lower() in _NAME_STOP for w in words):
            words = words[:1]
            if words[0].lower() in _AMBIGUOUS_FIRST:
                continue
        end = start + len(" ".join(words)) if len(words) > 1 else start + len(words[0])
        if text[start:end].replace("\t", " ") != " ".join(words):
            end = start + len(words[0])
        out.append((start, -end, 6, "person", "person"))


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


_COMPANY_HEAD = re.compile(rf"(?:(?<![\w&'’.-])[{UP}0-9][\w&'’-]*(?:\.[\w&'’-]+)*[ \t]+){{1,5}}$")
_COMPANY_LEAD_STOP = frozenset(
    "the hi hello hey dear from at for our we re fw fwd subject customer tenant client to cc and or of by with "
    "on in thanks regards cheers attn about".split()
)  # fmt: skip


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


def scrub(text: str, registers: ScrubRegisters | None = None) -> ScrubResult:
    """Replace the PII in `text`; deterministic for a given text and registers."""
    regs = registers or _DEFAULT_REGISTERS
    c = regs.compiled()
    spans: list[_Span] = []
    _tech_spans(text, c, spans)
    _register_spans(text, c, spans)
    if regs.detect_companies:
        _company_spans(text, c, spans)
    if regs.detect_people:
        _person_spans(text, c, spans)
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
        pieces.append(text[pos:start])
        pieces.append("{" + label + "}")
        replacements.append(Replacement(kind, start, end, label))
        pos = end
    pieces.append(text[pos:])
    return ScrubResult("".join(pieces), tuple(replacements))
