"""Credentials in ticket text: where they are and what kind, for the scrub to replace first.

`credential_spans(text)` finds, in the forms a ticket carries them (env exports, YAML/JSON/INI
lines, connection strings, basic-auth URLs, Authorization headers, curl flags, PEM blocks across
lines, webhook URLs, bare tokens):

- `private_key`: PEM/OpenSSH/PGP private key blocks (BEGIN..END, or the key lines when the END is
  cut off), PuTTY key files, SSH2 encrypted keys;
- `aws_access_key`: AWS access key ids (AKIA/ASIA/ABIA/ACCA/A3T.);
- `token` and `secret`: tokens and keys with a known shape (the detect-secrets 1.5.0 default
  plugins: Artifactory, Azure storage, Discord, GitHub, GitLab, JWT, Mailchimp, npm, OpenAI, PyPI,
  SendGrid, Slack tokens and webhooks, Square, Stripe, Telegram, Twilio; and from gitleaks'
  default rules: Google, Azure AD client secrets, Anthropic, Shopify, DigitalOcean, Vault,
  Grafana, Databricks, Atlassian, Linear, age, Teams/Discord/Google Chat webhooks);
- `password`: the password of `scheme://user:password@host` and `curl -u user:password`;
- any of them by the name it is assigned to (`password`, `secret`, `token`, `api_key`,
  `*_key`, `AccountKey`, `SessionToken`, `AWS Secret Access Key [None]:`, `Authorization:
  Bearer ...`), quoted or not, a quoted value across lines included; placeholders (`${VAR}`,
  `<password>`, `{{ var }}`, `****`) are kept;
- `secret`: a high-entropy base64 or hex string assigned to any other name, except names of ids,
  hashes and versions (`id`, `uuid`, `sha`, `etag`, `commit`, ...) and except in URL queries:
  instance ids, hashes in document URLs, UUIDs and version strings stay.

A value found once is also replaced wherever else it occurs in the same text. Every family is one
precompiled pattern behind a gate (literal substrings, or a short regex where a shape has no
literal); all gates are compiled into one Hyperscan database, so a text that holds no credential
costs one scan (about 2 us) and the Python patterns run only for the families it lets through.
Without Hyperscan (no wheel for the platform) the gates are tested in Python, with the same
answers. The text prefilter of include/itsm/textscan/prefilter.py is not used: its per-call
bookkeeping (remembered answers per thread) costs more than this whole check. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
import string
import threading
from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum

try:
    import hyperscan
except ImportError:  # no wheel for this platform: every gate is tested in Python
    hyperscan = None


class CredentialKind(StrEnum):
    """The placeholder a credential becomes (`{aws_access_key}`, `{secret}`, ...)."""

    AWS_ACCESS_KEY = "aws_access_key"
    SECRET = "secret"
    TOKEN = "token"
    PASSWORD = "password"
    PRIVATE_KEY = "private_key"


CREDENTIAL_KINDS = tuple(kind.value for kind in CredentialKind)
_K = CredentialKind


@dataclass(frozen=True, slots=True)
class _Family:
    """One credential shape. `pattern` runs only on a text the gate lets through: one of the literal `gates`
    occurs (any case when `caseless`), or `gate` (a regex) matches. `group` is the credential; `bounded`: a
    match right after a token character is not one; `tier`: on overlap the lower tier wins."""

    kind: CredentialKind
    pattern: re.Pattern[str]
    gates: tuple[str, ...] = ()
    gate: str = ""
    caseless: bool = False
    group: int = 0
    bounded: bool = True
    tier: int = 1

    def spans(self, text: str) -> list[Span]:
        out = []
        for m in self.pattern.finditer(text):
            start = m.start(self.group)
            if self.bounded and start and text[start - 1] in _TOKEN_CHAR:
                continue
            if self.group and _PLACEHOLDER.fullmatch(m.group(self.group)):
                continue
            out.append((start, m.end(self.group), self.kind.value))
        return out


def _family(kind: CredentialKind, gates: str, source: str, flags: int = 0, **options) -> _Family:
    return _Family(kind, re.compile(source, flags | re.ASCII), tuple(gates.split()), **options)


_TOKEN_CHAR = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_E = r"(?![A-Za-z0-9_-])"  # a token ends here
_PLACEHOLDER = re.compile(
    r"\$\{[^}]*\}|\$\(?[A-Za-z_][A-Za-z0-9_]*\)?|\{\{.*\}\}|<[^<>]+>|\[[^\[\]]+\]|%\(?\w*\)?s|\*+|x{3,}|X{3,}|•+|"
    r"\{[A-Za-z_][\w.-]*\}|(?:\.\.\.|…)|(?:redacted|masked|hidden|removed|none|null|nil|undefined|true|false)",
    re.I,
)
# Private keys: BEGIN..END (across lines, or escaped `\n` in JSON), or the key lines when the END is cut off.
_PRIVATE_KEYS = (
    _family(
        _K.PRIVATE_KEY,
        "PRIVATE",
        r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:.{0,20000}?-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:(?:\\n|\s){1,4}(?:[A-Za-z0-9+/=]{8,}|[A-Z][\w-]{1,30}:[^\n]{0,200}))+)",
        re.S,
        bounded=False,
        tier=0,
    ),
    _family(
        _K.PRIVATE_KEY,
        "PuTTY-User-Key",
        r"PuTTY-User-Key-File-\d:.{0,20000}?Private-MAC:[ \t]*[0-9a-fA-F]+",
        re.S,
        tier=0,
    ),
    _family(
        _K.PRIVATE_KEY,
        "SSH2",
        r"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----.{0,20000}?---- END SSH2 ENCRYPTED PRIVATE KEY ----",
        re.S,
        bounded=False,
        tier=0,
    ),
)
# Tokens and keys with a known shape: (kind, literal gates, pattern[, regex gate where no literal marks it]).
_SHAPED = tuple(
    _family(kind, gates, source, gate=gate[0] if gate else "")
    for kind, gates, source, *gate in (
        (
            _K.AWS_ACCESS_KEY,
            "AKIA ASIA ABIA ACCA A3T",
            r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        ),
        (_K.TOKEN, "ghp_ gho_ ghu_ ghs_ ghr_", rf"gh[pousr]_[A-Za-z0-9_]{{36,255}}{_E}"),
        (_K.TOKEN, "github_pat_", rf"github_pat_[A-Za-z0-9_]{{22,255}}{_E}"),
        (
            _K.TOKEN,
            "glpat- gldt- glft- glsoat- glrt- glcbt- glimt- glptt- glagent- gloas- glcsi-",
            rf"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas|csi)-[A-Za-z0-9_-]{{20,1024}}{_E}",
        ),
        (_K.TOKEN, "GR1348941", rf"GR1348941[A-Za-z0-9_-]{{20,50}}{_E}"),
        (_K.TOKEN, "xoxa- xoxb- xoxp- xoxo- xoxs- xoxr- xoxe-", rf"xox[abposre]-[A-Za-z0-9-]{{10,250}}{_E}"),
        (_K.TOKEN, "xapp-", rf"xapp-\d-[A-Za-z0-9-]{{10,250}}{_E}"),
        (
            _K.TOKEN,
            "hooks.slack.com",
            r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_+/-]{8,}",
        ),
        (_K.TOKEN, "/api/webhooks/", r"https?://(?:[\w-]+\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]+"),
        (_K.TOKEN, "webhook.office.com", r"https?://[\w.-]+\.webhook\.office\.com/webhookb2/[^\s\"'<>]+"),
        (_K.TOKEN, "/webhook/", r"https?://outlook\.office(?:365)?\.com/webhook/[^\s\"'<>]+"),
        (_K.TOKEN, "chat.googleapis.com", r"https?://chat\.googleapis\.com/v1/spaces/[^\s\"'<>]+"),
        (_K.TOKEN, "eyJ", r"eyJ[A-Za-z0-9_-]{8,}={0,2}\.[A-Za-z0-9_-]{4,}={0,2}(?:\.[A-Za-z0-9_+/=-]*)?"),
        (
            _K.TOKEN,
            "",
            rf"[MNO][A-Za-z0-9_-]{{23,25}}\.[A-Za-z0-9_-]{{6}}\.[A-Za-z0-9_-]{{27,38}}{_E}",
            r"[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.",
        ),
        (_K.SECRET, "", r"[0-9a-z]{32}-us\d{1,2}(?![\w-])", r"[0-9a-z]{32}-us[0-9]"),
        (_K.TOKEN, "npm_", rf"npm_[A-Za-z0-9]{{36}}{_E}"),
        (_K.SECRET, "T3BlbkFJ", r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{0,200}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
        (_K.SECRET, "sk-ant-", r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,}"),
        (_K.TOKEN, "pypi-AgE", r"pypi-AgE[A-Za-z0-9_-]{50,}"),
        (_K.SECRET, "SG.", rf"SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}{_E}"),
        (_K.SECRET, "sq0csp-", r"sq0csp-[0-9A-Za-z\\_-]{43}"),
        (_K.TOKEN, "sq0atp-", r"sq0atp-[0-9A-Za-z_-]{22,}"),
        (_K.SECRET, "k_live_ k_test_ k_prod_", rf"[sr]k_(?:live|test|prod)_[0-9A-Za-z]{{10,247}}{_E}"),
        (_K.TOKEN, "", r"(?<![\w:])\d{8,10}:[0-9A-Za-z_-]{35}(?![\w-])", r"[0-9]{8}:[0-9A-Za-z_-]{35}"),
        (_K.SECRET, "", r"(?:AC|SK)[a-z0-9]{32}(?![A-Za-z0-9])", r"(?:AC|SK)[a-z0-9]{32}"),
        (_K.SECRET, "AIza", r"AIza[0-9A-Za-z_-]{35}"),
        (_K.SECRET, "Q~", r"(?<![\w~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])"),
        (_K.TOKEN, "AKC", r"AKC[a-zA-Z0-9]{10,}(?![\w])"),
        (_K.SECRET, "shpat_ shpss_ shpca_ shppa_", rf"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{{32}}{_E}"),
        (_K.TOKEN, "_v1_", rf"do[opr]_v1_[a-f0-9]{{64}}{_E}"),
        (_K.TOKEN, "hvs. hvb.", rf"hv[sb]\.[A-Za-z0-9_-]{{24,}}{_E}"),
        (_K.TOKEN, ".atlasv1.", rf"[a-z0-9]{{14}}\.atlasv1\.[a-z0-9_=-]{{60,70}}{_E}"),
        (_K.TOKEN, "glc_ glsa_", r"gl(?:c|sa)_[A-Za-z0-9_+/]{32,400}={0,2}"),
        (_K.SECRET, "dapi", rf"dapi[a-h0-9]{{32}}(?:-\d)?{_E}"),
        (_K.TOKEN, "ATATT3", r"ATATT3[A-Za-z0-9_=-]{150,}"),
        (_K.TOKEN, "lin_api_", rf"lin_api_[A-Za-z0-9]{{40}}{_E}"),
        (_K.SECRET, "AGE-SECRET-KEY-1", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
        (_K.TOKEN, "ya29.", r"ya29\.[A-Za-z0-9_-]{20,}"),
        (_K.SECRET, "GOCSPX-", rf"GOCSPX-[A-Za-z0-9_-]{{28}}{_E}"),
        (_K.SECRET, "xkeysib-", rf"xkeysib-[a-f0-9]{{64}}-[A-Za-z0-9]{{16}}{_E}"),
        (_K.SECRET, "AccountKey=", r"(?<=AccountKey=)[A-Za-z0-9+/=]{86,88}"),
    )
)
_ARTIFACTORY_PASSWORD = _family(
    _K.TOKEN, "AP", r"(?:(?<=[\s=:\"])|^)AP[\dA-F][a-zA-Z0-9]{8,}(?=[\s\"]|$)", re.M, bounded=False
)
_URL_PASSWORD = _family(
    _K.PASSWORD,
    "://",
    r"://(?<=[A-Za-z0-9+.-]://)[^\s:/?#\[\]@\"'<>{}]{1,128}:([^\s/?#\[\]@\"'<>]{1,256})@",  # from ://: a fast skip
    group=1,
    bounded=False,
    tier=2,
)
_CURL_USER = _family(
    _K.PASSWORD,
    "-u --user --proxy-user",
    r"-(?<![^\s'\"]-)(?:u|-user|-proxy-user)[ =]['\"]?[^\s:'\"]{1,128}:([^\s'\"]{1,256})",
    group=1,
    bounded=False,
    tier=2,
)
_AUTH_HEADER = _family(
    _K.TOKEN,
    "authorization x-auth-token api-key private-token",
    r"(?i:authorization|proxy-authorization|x-auth-token|x-api-key|api-key|private-token)[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?:(?i:basic|bearer|token|digest|negotiate|apikey|sso-key|key|jwt)[ \t]+)?([A-Za-z0-9_\-.~+/=:%]{8,})",
    caseless=True,
    group=1,
    bounded=False,
    tier=2,
)
_BEARER = _family(
    _K.TOKEN, "bearer", r"[Bb](?<![\w-][Bb])(?i:earer)[ \t]+([A-Za-z0-9_\-.~+/]{20,}=*)", caseless=True, group=1, tier=2
)

# --------------------------------------------------------------------------- values assigned to a credential name

_STRONG_WORDS = ("password", "passwd", "passphrase", "passwort", "contraseña", "contrasena", "secret", "token")
_SHORT_WORDS = (
    "pass",
    "pwd",
    "apikey",
    "api_key",
    "api-key",
    "credential",
    "auth",
    "bearer",
    "key",
    "sig",
    "signature",
)
_KEYWORDS = tuple(sorted(set(_STRONG_WORDS + _SHORT_WORDS), key=len, reverse=True))  # longest first
_NAME_CHARSET = frozenset(string.ascii_letters + string.digits + "_.-")
_LINE_LEAD = re.compile(r"[ \t]*(?:[-*][ \t]+|export[ \t]+|set[ \t]+|\$[ \t]+)?[\"']?")
_PASSWORD_LIKE = re.compile(r"[\d\W_]|[a-z].*[A-Z]|[A-Z].*[a-z]")
_NAME_REST = re.compile(r"[A-Za-z0-9_.-]{0,80}")
_SEGMENT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# After the name: closing quotes or brackets, an `[None]`-style default (aws configure), more words of a spoken
# name ("Secret Access Key"), the operator, a YAML tag, then the value.
_ASSIGN = re.compile(
    r"(?P<words>(?:[ \t]+(?i:access|key|id|token|secret|phrase|value|string|code|api|client|auth|session)){0,3})"
    r"(?P<close>[\"'`\]]{0,2})[ \t]{0,4}(?:\[[^\]\n]{0,30}\][ \t]{0,4})?"
    r"(?P<op>:=|=>|===?|!==?|=|:(?!:)|,(?=[ \t]*[\"'])|\((?=[\"'])|[ \t](?=[ \t]*[\"']))[ \t]{0,4}"
    r"(?:!!?\w+[ \t]+)?"
    r"(?P<value>\"(?:[^\"\\\n]|\\.){0,2000}(?:\n[A-Za-z0-9+/=]{8,200}){0,60}\"|'(?:[^'\\\n]|\\.){0,2000}'"
    r"|`[^`\n]{0,2000}`|[^\s\"'`,;&<>)\]\\]{1,2000}(?P<rest>[^\n\"'`]{0,500}))"
)
_ID_SEGMENTS = frozenset(
    "id ids uuid guid arn arns name names type types file path paths dir url uri urls href link endpoint host port "
    "length len size count min max age expiry expires expiration expired ttl lifetime timeout rotation rotate "
    "policy policies enabled enable disabled required require hint prompt field fields label header headers "
    "format mode usage scope scopes status state created updated used last reset prefix suffix alias pair pairs "
    "region version spec provider source store manager location user username login email fingerprint hash "
    "algorithm algo cipher method kind class rule rules ref reference number no version".split()
)
_GENERIC_NAME_SKIP = frozenset(
    "id uuid guid sha sha1 sha256 sha512 md5 hash digest checksum etag commit revision rev version ver build image "
    "ref nonce fingerprint arn name key_id keyid request_id trace span".split()
)
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=_.~%-]+")

# --------------------------------------------------------------------------- high entropy in an assignment

_GENERIC = re.compile(
    r"(?P<op>[=:])[ \t]{0,3}(?P<q>[\"'`]?)(?:!!binary[ \t]+)?"
    r"(?P<value>[A-Za-z0-9+/]{20,2000}={0,2}|[0-9a-fA-F]{32,2000})(?![A-Za-z0-9+/=_.~-])(?P=q)"
)
_RESOURCE_ID = re.compile(r"[a-z]{1,12}-[0-9a-f]{8,17}")

Span = tuple[int, int, str]  # start, end, kind


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    size = len(value)
    return math.log2(size) - sum(n * math.log2(n) for n in map(value.count, set(value))) / size


class _Gates:
    """Which checks can find something in a text, from one Hyperscan scan of all their gates.

    Each check has literal gates (one must occur; any case for a caseless check) or a regex gate. Every
    pattern is ASCII-only (`re.ASCII`), so a scan of the UTF-8 bytes can only let too much through. Without
    Hyperscan (no wheel for the platform) each gate is tested with `in` or `re`: the same answers, slower.
    """

    def __init__(self, checks: list[_Family]) -> None:
        self.checks = checks
        self._database = None
        self._local = threading.local()
        self._lock = threading.Lock()

    def _compiled(self):
        if self._database is None:
            with self._lock:
                if self._database is None:
                    expressions, ids, flags = [], [], []
                    for check_id, check in enumerate(self.checks):
                        base = hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if check.caseless else 0)
                        for source in [re.escape(gate) for gate in check.gates] or [check.gate]:
                            expressions.append(source.encode("ascii"))
                            ids.append(check_id)
                            flags.append(base)
                    database = hyperscan.Database()
                    database.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
                    self._database = database
        return self._database

    def possible(self, text: str, lower: str) -> set[int]:
        if hyperscan is None:
            return {
                i
                for i, check in enumerate(self.checks)
                if (
                    any(gate in (lower if check.caseless else text) for gate in check.gates)
                    if check.gates
                    else re.search(check.gate, text)
                )
            }
        database = self._compiled()
        local = self._local
        if getattr(local, "scratch", None) is None:
            local.scratch = hyperscan.Scratch(database)
        hits: set[int] = set()
        database.scan(
            text.encode("utf-8", "surrogatepass"), match_event_handler=lambda i, *_: hits.add(i), scratch=local.scratch
        )
        return hits


# Gates only: the spans of these two checks come from _keyword_spans and _generic_spans. A non-ASCII keyword is
# gated by its ASCII start ("contrase").
_KEYWORD_CHECK = _Family(
    _K.SECRET, re.compile(""), gates=tuple(sorted({re.match("[ -~]*", w).group() for w in _KEYWORDS})), caseless=True
)
_GENERIC_CHECK = _Family(_K.SECRET, re.compile(""), gate=r"[=:][ \t]{0,3}[\"'`]?([A-Za-z0-9+/]{20}|[0-9a-fA-F]{32})")
_CHECKS = [*_PRIVATE_KEYS, *_SHAPED, _ARTIFACTORY_PASSWORD, _URL_PASSWORD, _CURL_USER, _AUTH_HEADER, _BEARER]
_GATES = _Gates([*_CHECKS, _KEYWORD_CHECK, _GENERIC_CHECK])
_KEYWORD_ID, _GENERIC_ID = len(_CHECKS), len(_CHECKS) + 1
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def credential_spans(text: str, lower: str | None = None) -> list[Span]:
    """Credentials in `text`: sorted, non-overlapping (start, end, kind); more specific finds win.

    `lower`: the text with A-Z lower-cased (and nothing else, so offsets stay), when the caller has it."""
    if lower is None:
        lower = text.lower() if text.isascii() else text.translate(ASCII_LOWER)
    possible = _GATES.possible(text, lower)
    if not possible:
        return []
    tiers: list[list[Span]] = [[], [], [], []]
    for i in sorted(possible):
        if i < len(_CHECKS):
            check = _CHECKS[i]
            spans = check.spans(text)
            if check is _ARTIFACTORY_PASSWORD:
                spans = [s for s in spans if _artifactory_password(text[s[0] : s[1]])]
            tiers[check.tier] += spans
    if _KEYWORD_ID in possible:
        _keyword_spans(text, lower, tiers[3])
    if _GENERIC_ID in possible:
        _generic_spans(text, tiers[3])
    spans = _resolve(tiers)
    return _propagate(text, spans) if spans else spans


def _artifactory_password(value: str) -> bool:
    return any(c.isdigit() for c in value[3:]) and any(c.islower() for c in value)


def _resolve(tiers: list[list[Span]]) -> list[Span]:
    """Tier by tier, each span that overlaps none already taken; the earlier start, then the longer, first."""
    taken: list[Span] = []
    starts: list[int] = []
    for tier in tiers:
        for start, end, kind in sorted(tier, key=lambda s: (s[0], -s[1])):
            if end <= start:
                continue
            i = bisect_right(starts, start)
            if (i and taken[i - 1][1] > start) or (i < len(taken) and taken[i][0] < end):
                continue
            taken.insert(i, (start, end, kind))
            starts.insert(i, start)
    return taken


def _propagate(text: str, spans: list[Span]) -> list[Span]:
    """Every other occurrence of a found value (8 characters or more) is the same credential."""
    extra: list[Span] = []
    values = {text[s:e]: k for s, e, k in spans if e - s >= 8 and "\n" not in text[s:e]}
    for value, kind in values.items():
        pos = text.find(value)
        while pos != -1:
            extra.append((pos, pos + len(value), kind))
            pos = text.find(value, pos + 1)
    return _resolve([spans, extra]) if len(extra) > len(values) else spans


def _kind_of(name: str) -> CredentialKind:
    lower = name.lower()
    if any(w in lower for w in ("pass", "pwd", "contras")):
        return _K.PASSWORD
    if any(w in lower for w in ("token", "bearer")) or (lower.endswith("auth") and "key" not in lower):
        return _K.TOKEN
    return _K.SECRET


def _segments(name: str) -> list[str]:
    return [s.lower() for s in _SEGMENT.findall(name)]


def _name_start(text: str, end: int, low: int) -> int:
    """Where the name (letters, digits, `_.-`) that ends at `end` starts, looking back no further than `low`."""
    start = end
    while start > low and text[start - 1] in _NAME_CHARSET:
        start -= 1
    return start


def _keyword_hits(lower: str) -> list[tuple[int, str]]:
    """(position, keyword) of every keyword in the lower-cased text, the longest at a position, none inside another."""
    found: dict[int, str] = {}
    for word in _KEYWORDS:  # longest first: "password" takes its position before "pass" can
        pos = lower.find(word)
        while pos != -1:
            found.setdefault(pos, word)
            pos = lower.find(word, pos + 1)
    hits, end = [], -1
    for pos in sorted(found):
        if pos >= end:
            hits.append((pos, found[pos]))
            end = pos + len(found[pos])
    return hits


def _keyword_spans(text: str, lower: str, out: list[Span]) -> None:
    done = -1
    for kw_start, word in _keyword_hits(lower):
        kw_end = kw_start + len(word)
        if kw_start < done:
            continue
        name_start = _name_start(text, kw_start, max(0, kw_start - 80))
        name_end = _NAME_REST.match(text, kw_end).end()
        name = text[name_start:name_end].rstrip(".-")
        name_end = name_start + len(name)
        if not name or not _keyword_in_name(text, kw_start, kw_end, word):
            continue
        segments = _segments(name)
        if not segments or segments[-1] in _ID_SEGMENTS or (len(segments) > 1 and segments[-2:] == ["key", "id"]):
            continue
        assign = _ASSIGN.match(text, name_end)
        if not assign:
            continue
        done = assign.end()
        quoted_name = name_start > 0 and text[name_start - 1] in "\"'`" or bool(assign.group("close"))
        op = assign.group("op")
        if op in (",", "(") and not quoted_name and op != "(":
            continue
        if op.isspace() and not text.startswith("--", max(0, name_start - 2)) and not quoted_name:
            continue
        start, end = assign.start("value"), assign.end("value")
        value = text[start:end]
        if value[:1] in "\"'`":
            start, end, value = start + 1, end - 1, value[1:-1]
        elif assign.group("rest") and _config_line(text, name_start, name):
            rest = value.split(" #", 1)[0].rstrip(" \t,;")
            end = start + len(rest)
            value = rest
        else:
            end = start + len(value) - len(assign.group("rest") or "")
            value = text[start:end]
        if _credential_value(value, name, spoken=bool(assign.group("words")) or _prose_name(name, quoted_name)):
            out.append((start, end, _kind_of(name + assign.group("words")).value))


def _keyword_in_name(text: str, start: int, end: int, word: str) -> bool:
    """A long keyword counts anywhere in a name; a short one (key, pass, auth, ...) only as a segment of it."""
    if word in _STRONG_WORDS:
        tail = text[end : end + 4].lower()
        return not (word == "secret" and tail.startswith("ar")) and not (word == "token" and tail.startswith("iz"))
    prev = text[start - 1] if start else " "
    first = text[start]
    if prev.isalpha() and not (prev.islower() and first.isupper()):
        return False
    nxt = text[end] if end < len(text) else " "
    if word in ("pass", "key", "credential") and nxt == "s":  # keys, credentials, pass(es)
        nxt = text[end + 1] if end + 1 < len(text) else " "
    return not nxt.isalpha() or (nxt.isupper() and not text[end - 1].isupper())


def _config_line(text: str, name_start: int, name: str) -> bool:
    """The name starts its line (after indentation, `- `, `export `, `$ `): the value runs to the end of it."""
    line = text[text.rfind("\n", 0, name_start) + 1 : name_start]
    return bool(_LINE_LEAD.fullmatch(line)) and ("_" in name or "-" in name or not name[:1].isupper() or name.isupper())


def _prose_name(name: str, quoted: bool) -> bool:
    return not quoted and name.isalpha() and not name.isupper() and name[1:].islower()


def _strong_name(name: str) -> bool:
    """A name that says credential outright (password, secret, token, api key, ...), not only key/auth/sig."""
    lower = name.lower()
    if any(word in lower for word in _STRONG_WORDS):
        return True
    segments = _segments(name)
    return bool({"pass", "pwd", "apikey", "credential", "credentials", "bearer"} & set(segments)) or any(
        a == "api" and b == "key" for a, b in zip(segments, segments[1:], strict=False)
    )


def _credential_value(value: str, name: str, spoken: bool) -> bool:
    value = value.strip()
    if not value or _PLACEHOLDER.fullmatch(value) or ("://" in value and "@" not in value):
        return False
    if value.isdigit() and len(value) <= 6:
        return False
    if value.startswith(("arn:", "alias/", "os.", "process.env", "env.", "!Ref", "!GetAtt", "!Sub", "{{resolve:")):
        return False
    if "(" in value and value.endswith(")") and not any(c in value for c in "!@#$%^&*+"):
        return False  # a function call: getenv("X")
    if _strong_name(name):
        if _kind_of(name) is _K.PASSWORD:
            # a spoken name ("Password: reset it") needs a value that looks like a password
            return len(value) >= 3 and not (spoken and not _PASSWORD_LIKE.search(value[1:]))
        return len(value) >= 8 and entropy(value) >= 3.0
    # key, auth, sig(nature): only a value that looks like a key
    if not _TOKEN_CHARS.fullmatch(value) or len(value) < 16 or _RESOURCE_ID.fullmatch(value):
        return False
    mixed = any(c.isdigit() for c in value) or (any(c.islower() for c in value) and any(c.isupper() for c in value))
    return mixed or (len(value) >= 20 and not any(c in value for c in "_-."))


def _generic_spans(text: str, out: list[Span]) -> None:
    """`out` may hold the keyword spans already found: a value they cover is not looked at again."""
    covered = {start for start, _, _ in out}
    for m in _GENERIC.finditer(text):
        value = m.group("value")
        if m.start("value") in covered:
            continue
        if m.group("op") == ":" and m.start() > 0 and text[m.start() - 1] == ":":
            continue
        head = text[max(0, m.start() - 80) : m.start()].rstrip(" \t\"'`]")
        name_start = _name_start(head, len(head), 0)
        if name_start == len(head):
            continue
        name = head[name_start:]
        before = head[:name_start]
        if before[-1:] in ("?", "&"):
            continue  # a URL query parameter: only a credential name makes it a secret
        segments = _segments(name)
        lower = name.lower()
        if (
            not segments
            or lower in _GENERIC_NAME_SKIP
            or any(s in _GENERIC_NAME_SKIP or s in _ID_SEGMENTS for s in segments)
        ):
            continue
        is_hex = all(c in "0123456789abcdefABCDEF" for c in value)
        has_digit = any(c.isdigit() for c in value)
        if is_hex:
            ok = has_digit and any(c.isalpha() for c in value) and entropy(value) >= 3.0
        else:
            ok = (
                has_digit
                and any(c.islower() for c in value)
                and any(c.isupper() for c in value)
                and entropy(value) >= 4.0
            )
        if ok:
            out.append((m.start("value"), m.end("value"), _K.SECRET.value))
