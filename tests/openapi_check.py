"""Every answer a test receives is checked against the app's own /openapi.json.

`CheckedClient` is the test client of every app in the suite (conftest installs it): after each
request it finds the operation in the OpenAPI document and checks that the status is one the
document lists, and that the body validates against the documented schema. A route whose
answers drift from its description fails whichever test happened to call it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from werkzeug.exceptions import HTTPException

from webhook_service.http.openapi import build_spec

_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
# Statuses no operation lists: a bug (500, itself a problem+json answer the edge makes) and
# methods or paths no route serves (they match no operation).
UNDOCUMENTED_STATUSES = {500}


class SpecMismatch(AssertionError):
    """Raised when an answer is not what the OpenAPI document says the route answers."""


_SPECS: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}


def spec_of(app: Flask) -> dict[str, Any]:
    """The app's OpenAPI document; the same code makes the same document, so it is cached by
    the app's routes (the suite builds thousands of apps)."""
    key = tuple(sorted((rule.rule, rule.endpoint) for rule in app.url_map.iter_rules()))
    if key not in _SPECS:
        _SPECS[key] = build_spec(app)
    return _SPECS[key]


def _operation(app: Flask, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """(path template, operation) of the route that served `method path`, or None."""
    try:
        rule, _ = app.url_map.bind("localhost").match(path, method, return_rule=True)
    except HTTPException:
        return None
    template = _PATH_PARAM.sub(r"{\1}", rule.rule)
    operation = spec_of(app)["paths"].get(template, {}).get(method.lower())
    return (template, operation) if operation is not None else None


def check_answer(app: Flask, method: str, path: str, response: Any) -> None:
    """Raise SpecMismatch unless `response` is one the document allows for the route."""
    if method in {"HEAD", "OPTIONS"}:
        return
    found = _operation(app, method, path)
    if found is None or response.status_code in UNDOCUMENTED_STATUSES:
        return
    template, operation = found
    where = f"{method} {template} answered {response.status_code}"
    documented = operation["responses"].get(str(response.status_code))
    if documented is None:
        listed = ", ".join(operation["responses"])
        raise SpecMismatch(f"{where}, which /openapi.json does not list ({listed})")
    content = documented.get("content", {})
    media = response.mimetype
    if media not in content:
        raise SpecMismatch(f"{where} as {media}; documented: {', '.join(content) or 'none'}")
    schema = content[media].get("schema", {})
    if media.endswith("json"):
        body = json.loads(response.get_data(as_text=True))
        _validate(spec_of(app), schema, body, where)


def _validate(spec: dict[str, Any], schema: dict[str, Any], body: Any, where: str) -> None:
    root = {"allOf": [schema], "components": spec["components"]}
    errors = sorted(Draft202012Validator(root).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        at = "/".join(str(part) for part in first.absolute_path) or "(the body)"
        raise SpecMismatch(f"{where}; at {at}: {first.message[:300]}")


class CheckedClient(FlaskClient):
    """A Flask test client that checks every answer against the app's OpenAPI document."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        check_answer(self.application, request.method, request.path, response)
        return response


def install() -> None:
    """Make CheckedClient the test client of every Flask app (conftest calls this once)."""
    Flask.test_client_class = CheckedClient
