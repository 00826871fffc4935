"""Credentials in ticket text: detect-secrets (a pinned test dependency) as the reference scanner.

Every secret detect-secrets 1.5.0 finds with its default plugins, in the real-text corpus (dev split) and in generated
tickets carrying credentials in the forms tickets carry them, must be gone after our scrub; each planted
credential must also be replaced by the placeholder of its kind. Strings the corpus labels `keep` (its
request ids and a YAML number that detect-secrets also reports) are the only exception.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

from include.itsm.scrub import secrets
from include.itsm.scrub.domain import scrub

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real" / "pii.jsonl"
FILE_TYPES = (".txt", ".yaml", ".py", ".env")  # how detect-secrets reads the text changes what its keyword rule finds


def detect_secrets_finds(text: str, directory: Path) -> set[str]:
    """Secret values detect-secrets reports in `text` read as each of FILE_TYPES."""
    found: set[str] = set()
    with default_settings():
        for suffix in FILE_TYPES:
            (directory / f"ticket{suffix}").write_text(text, encoding="utf-8")
            collection = SecretsCollection(root=str(directory))
            collection.scan_file(f"ticket{suffix}")
            found |= {s.secret_value for name in collection.files for s in collection[name] if s.secret_value}
    return found


def _items() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _without_placeholders(text: str) -> str:
    """The scrubbed text with its placeholders blanked: a secret value "password" is not in "{password}"."""
    return re.sub(r"\{[a-z_-]+\}", "\x00", text)


def test_every_secret_detect_secrets_finds_in_the_corpus_is_scrubbed(tmp_path: Path) -> None:
    """On the dev split: the test split is scored once for the report (bench.accuracy_pii), never asserted on,
    so that nothing in the scrub is fitted to it."""
    leaks = []
    for item in _items():
        if item["split"] != "dev":
            continue
        out = _without_placeholders(scrub(item["text"]).text)
        for value in detect_secrets_finds(item["text"], tmp_path):
            if value in out and value not in item["keep"]:
                leaks.append((item["id"], value[:30]))
    assert leaks == []


# --------------------------------------------------------------------------- generated tickets

RNG = random.Random(20261206)
ALNUM = string.ascii_letters + string.digits


def rand(chars: str, n: int) -> str:
    return "".join(RNG.choice(chars) for _ in range(n))


def b64url(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def pem() -> str:
    body = "\n".join(rand(ALNUM + "+/", 64) for _ in range(6))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"


def shapes() -> list[tuple[str, str]]:
    """(kind, value) of every credential shape, freshly drawn."""
    upper_digits = string.ascii_uppercase + string.digits
    lower_digits = string.ascii_lowercase + string.digits
    jwt = f"eyJ{b64url({'alg': 'HS256', 'typ': 'JWT'})[3:]}.{b64url({'sub': rand(ALNUM, 8), 'iat': 1700000000})}.{rand(ALNUM + '-_', 43)}"
    return [
        ("aws_access_key", "AKIA" + rand(upper_digits, 16)),
        ("aws_access_key", "ASIA" + rand(upper_digits, 16)),
        ("secret", rand(ALNUM + "+/", 40)),
        ("token", "ghp_" + rand(ALNUM, 36)),
        ("token", "glpat-" + rand(ALNUM, 20)),
        ("token", "xoxb-" + rand(string.digits, 11) + "-" + rand(string.digits, 13) + "-" + rand(ALNUM, 24)),
        (
            "token",
            f"https://hooks.slack.com/services/T{rand(upper_digits, 8)}/B{rand(upper_digits, 8)}/{rand(ALNUM, 24)}",
        ),
        ("token", jwt),
        ("token", "npm_" + rand(ALNUM, 36)),
        ("token", f"{RNG.randrange(10**8, 10**9)}:AA{rand(ALNUM + '_-', 33)}"),
        ("token", f"M{rand(ALNUM, 23)}.{rand(ALNUM, 6)}.{rand(ALNUM, 27)}"),
        ("secret", "sk_live_" + rand(ALNUM, 24)),
        ("secret", f"SG.{rand(ALNUM, 22)}.{rand(ALNUM, 43)}"),
        ("secret", "SK" + rand(lower_digits, 32)),
        ("secret", rand("0123456789abcdef", 32) + "-us12"),
        ("secret", "AIza" + rand(ALNUM + "_-", 35)),
        ("secret", f"sk-{rand(ALNUM, 20)}T3BlbkFJ{rand(ALNUM, 20)}"),
        ("token", "pypi-AgEIcHlwaS5vcmc" + rand(ALNUM, 70)),
        ("secret", "sq0csp-" + rand(ALNUM, 43)),
        ("private_key", pem()),
    ]


# Forms a ticket carries a credential in; {v} is the value. The kind a form implies is checked where the form
# itself decides it (a password field), otherwise the shape's kind is.
FORMS = [
    "Hi team, the deploy job still fails. Our CI uses:\n\n    export API_TOKEN={v}\n\nThanks,\nPriya",
    "config.yaml (prod):\n\napp:\n  region: ap-southeast-2\n  api_key: {v}\n  retries: 3\n",
    '{{"service": "billing", "credentials": {{"client_secret": "{v}"}}, "timeout": 30}}',
    "[default]\nregion = us-west-2\naws_secret_access_key = {v}\n",
    'curl -s -H "Authorization: Bearer {v}" https://api.internal/v1/orders',
    "Here is the webhook/token we rotated yesterday: {v} - please confirm the old one is revoked.",
    'ENV var SLACK_BOT_TOKEN="{v}" is set on the worker; builds since 09:00 fail.',
]


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for kind, value in shapes():
        for form in FORMS:
            if kind == "private_key" and "\n" not in form[:60]:
                continue  # a PEM block is pasted on lines of its own
            cases.append((kind, value, form.format(v=value)))
    password = rand(ALNUM, 10) + "!9"
    cases += [
        ("password", password, f"DB_PASSWORD={password}\nDB_HOST=db.internal"),
        ("password", password, f"connection string: postgresql://app:{password}@db.internal:5432/orders"),
        ("password", password, f"curl -u deploy:{password} https://artifacts.internal/upload"),
        ("password", password, f'password = "{password}"'),
    ]
    return cases


CASES = _cases()


@pytest.mark.parametrize("kind, value, text", CASES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(CASES)])
def test_generated_credentials_are_scrubbed_and_typed(kind: str, value: str, text: str, tmp_path: Path) -> None:
    out = scrub(text).text
    assert value not in out
    assert "{" + kind + "}" in out or kind in ("aws_access_key", "secret", "token")  # a field name may retype it
    assert any("{" + k + "}" in out for k in secrets.CREDENTIAL_KINDS)
    leaked = [found for found in detect_secrets_finds(text, tmp_path) if found in _without_placeholders(out)]
    assert leaked == []


def test_typed_placeholders_follow_the_shape() -> None:
    for kind, value in shapes():
        out = scrub(f"value: {value}").text if kind != "private_key" else scrub(value).text
        assert "{" + kind + "}" in out, (kind, out)


@pytest.mark.parametrize(
    "text",
    [
        "Instance i-0a1b2c3d4e5f60718 in vpc-0abc1234def567890 failed its status check",
        "See https://github.com/Yelp/detect-secrets/blob/5e141933554a0b74e7341841f318be21e895339c/README.md",
        '"commit": "8b1118b376c313ed420e5133ba91307817ed52c2", "version": "1.29.3-eks-ae9a62a"',
        '"eventID": "24ba271e-d595-4e66-a7fd-9c16cbf8abae", "requestID": "9D767BCC3B4E7487"',
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
        "password: <your password here>",
        "pk_live_j5krY8XTgIcDaHDb3YrsAfCl is the publishable key (public by design)",
        "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "Reset your password in the console, then run aws sts get-caller-identity.",
    ],
)
def test_ids_hashes_versions_and_placeholders_are_kept(text: str) -> None:
    assert secrets.credential_spans(text) == []


def test_a_value_found_once_is_replaced_everywhere() -> None:
    value = rand(ALNUM, 32)
    out = scrub(f"api_key: '{value}'\nthen later: allowlisted_id: '{value}'").text
    assert value not in out and out.count("{secret}") == 2


def test_without_hyperscan_the_same_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [item["text"] for item in _items()] + [text for _, _, text in CASES]
    with_engine = [secrets.credential_spans(t) for t in texts]
    monkeypatch.setattr(secrets, "hyperscan", None)
    assert [secrets.credential_spans(t) for t in texts] == with_engine


@pytest.mark.timeout(60)
def test_pathological_input_finishes() -> None:
    """Catastrophic backtracking on these shapes would run for hours; a hang guard, not a speed
    measurement (bench/ measures speed)."""
    blob = ("password=" + "a" * 3000 + " " + "-----BEGIN PRIVATE KEY-----" + "x" * 5000 + " eyJ" + "a" * 4000) * 20
    assert isinstance(secrets.credential_spans(blob), list)
