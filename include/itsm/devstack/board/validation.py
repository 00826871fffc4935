"""Checks every request against Atlassian's published contracts, as real Jira Cloud would.

The OpenAPI document (2.4 MB) and the ADF schema are loaded once per process. The spec itself
is not validated (a few of Atlassian's components fail a strict spec validator, see
specs/README.md); requests are validated strictly, as Jira's JSON binding reads them: an empty
query parameter counts as absent, and the caller (app.py) hands over the body with null members
dropped and an integer transition id as its text (Jackson's scalar coercion).
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import jsonschema
from jsonschema.exceptions import best_match

SPECS = Path(__file__).resolve().parent.parent / "specs"


class RequestInvalid(Exception):
    """The request breaks the published contract; carries Jira's error body parts."""

    def __init__(self, messages: list[str], errors: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(messages) or json.dumps(errors))
        self.messages = messages
        self.errors = errors or {}


@lru_cache(maxsize=1)
def _openapi():
    from jsonschema_path import SchemaPath
    from openapi_core import Config, OpenAPI

    spec = json.loads((SPECS / "jira-platform-v3.json").read_text())
    # The published servers entry is https://your-domain.atlassian.net; match any host.
    spec["servers"] = [{"url": "/"}]
    return OpenAPI(SchemaPath.from_dict(spec), config=Config(spec_validator_cls=None))


@lru_cache(maxsize=1)
def _adf_validator() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads((SPECS / "adf-schema-v1-full.json").read_text()))


def warm_up() -> None:
    """Load both contracts now, so the first request is not the slow one."""
    _openapi()
    _adf_validator()


def _describe(exc: BaseException) -> tuple[str, dict[str, str]]:
    """A readable message (and per-field errors) from an openapi-core validation error."""
    errors: dict[str, str] = {}
    cause = exc.__cause__ or exc.__context__
    for schema_error in getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", None) or []:
        where = ".".join(str(p) for p in schema_error.absolute_path) or "body"
        errors[where] = schema_error.message[:300]
    message = str(exc)
    if cause is not None and str(cause) not in message:
        message = f"{message}: {cause}"
    return message[:500], errors


@lru_cache(maxsize=1)
def _request_class():
    """openapi-core's werkzeug request, reading the query and body as Jira's JSON binding does."""
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
    from openapi_core.datatypes import RequestParameters
    from werkzeug.datastructures import Headers, ImmutableMultiDict

    class AsJiraReadsIt(WerkzeugOpenAPIRequest):
        def __init__(self, request, body: object) -> None:
            super().__init__(request)
            present = [(k, v) for k, v in request.args.items(multi=True) if v != ""]
            self.parameters = RequestParameters(
                query=ImmutableMultiDict(present), header=Headers(request.headers), cookie=request.cookies
            )
            self._json = None if body is None else json.dumps(body).encode()

        @property
        def body(self) -> bytes | None:
            return self._json

    return AsJiraReadsIt


def validate_request(flask_request, body: object = None) -> None:
    """Raise RequestInvalid unless the request, with its parsed JSON `body` (already normalised the way
    Jackson binds it), matches the Jira v3 OpenAPI operation."""
    from openapi_core.exceptions import OpenAPIError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openapi-core warns about the OAuth2 scheme on every call
        try:
            _openapi().validate_request(_request_class()(flask_request, body))
        except OpenAPIError as exc:
            message, errors = _describe(exc)
            raise RequestInvalid([message], errors) from exc


def adf_errors(document: object) -> str | None:
    """Why `document` is not a valid ADF doc, or None when it is."""
    if not isinstance(document, dict):
        return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    error = best_match(_adf_validator().iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"Invalid Atlassian Document at '{where}': {error.message[:300]}"


def check_adf(field: str, document: object) -> None:
    problem = adf_errors(document)
    if problem:
        raise RequestInvalid([], {field: problem})
