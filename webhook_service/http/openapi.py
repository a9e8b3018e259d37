"""OpenAPI 3.1 generated from the app itself: its URL map (every route, the ingest route
included), each view's `@documented` metadata and the models' JSON Schemas, so the description
cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from webhook_service.diagnostics.catalog import catalog
from webhook_service.http.schemas import Problem

F = TypeVar("F", bound=Callable[..., Any])
Body = type[Any] | str | dict[str, Any] | None
Auth = Literal["ops", "metrics", "signature"] | None
_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}
_STATUS_TEXT = {
    200: "OK",
    400: "Bad request (problem+json)",
    401: "Missing or invalid credentials (problem+json)",
    404: "Not found (problem+json)",
    413: "Body too large (problem+json)",
    429: "Too many wrong credentials from this address; see Retry-After (problem+json)",
    503: "Redis unavailable; retry later (problem+json)",
}


@dataclass(frozen=True)
class Param:
    """A query or header parameter."""

    name: str
    where: Literal["query", "header", "path"]  # a path one refines the rule's <name>
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Operation:
    """What the spec says about one view."""

    summary: str
    tag: str
    auth: Auth = None
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    # A model (pydantic model or dataclass), a media type for raw bodies, or a JSON Schema.
    response: Body = None
    errors: tuple[int, ...] = ()


def documented(
    summary: str,
    tag: str,
    *,
    auth: Auth = None,
    params: tuple[Param, ...] = (),
    body: type[BaseModel] | None = None,
    response: Body = None,
    errors: tuple[int, ...] = (),
) -> Callable[[F], F]:
    """Attach OpenAPI metadata to a view; every route must have it (a test checks)."""

    def mark(view: F) -> F:
        view.__openapi__ = Operation(  # type: ignore[attr-defined]
            summary, tag, auth, params, body, response, errors
        )
        return view

    return mark


# What /openapi.json answers: an OpenAPI document (not every field: the standard defines them).
OPENAPI_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["openapi", "info", "paths"],
    "properties": {
        "openapi": {"type": "string", "pattern": "^3\\.1\\."},
        "info": {"type": "object"},
        "paths": {"type": "object"},
        "components": {"type": "object"},
    },
}


class UndocumentedRouteError(Exception):
    """Raised when a route has no `@documented` metadata."""


def _models(app: Flask) -> list[type[Any]]:
    found: list[type[Any]] = [Problem]
    for op in [getattr(view, "__openapi__", None) for view in app.view_functions.values()]:
        for model in (op.body, op.response) if op else ():
            if isinstance(model, type) and model not in found:
                found.append(model)
    return found


def _content(model: Body, problem: bool = False) -> dict[str, Any]:
    if problem:
        return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    if isinstance(model, str):
        return {model: {"schema": {"type": "string"}}}
    if isinstance(model, dict):
        return {"application/json": {"schema": model}}
    if model is None:
        return {"application/json": {"schema": {"type": "object"}}}
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}


def _operation(op: Operation, path_params: list[str], endpoint: str) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": _content(op.response)},
    }
    # /api answers 429 to an address that presented too many wrong tokens (http/security.py).
    auth_errors = (401, 429) if op.auth == "ops" else (401,) if op.auth else ()
    for status in sorted({*op.errors, *auth_errors}):
        responses[str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": _content(None, problem=True),
        }
    refined = {p.name: p for p in op.params if p.where == "path"}
    parameters = [_path_param(name, refined.get(name)) for name in path_params] + [
        {"name": p.name, "in": p.where, "description": p.description, "schema": p.schema}
        for p in op.params
        if p.where != "path"
    ]
    spec: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": responses,
    }
    if parameters:
        spec["parameters"] = parameters
    if op.body is not None:
        spec["requestBody"] = {"required": True, "content": _content(op.body)}
    if op.auth == "ops":
        spec["security"] = [{"bearer": []}]
    elif op.auth == "metrics":
        spec["security"] = [{"bearer": []}, {}]  # {}: open unless METRICS_TOKEN is set
    elif op.auth == "signature":
        spec["security"] = [{"livepeerSignature": []}]
    else:
        spec["security"] = []
    return spec


def _path_param(name: str, param: Param | None) -> dict[str, Any]:
    """A path parameter of the rule, with its `Param` description and schema when given."""
    spec: dict[str, Any] = {"name": name, "in": "path", "required": True}
    if param is None:
        return {**spec, "schema": {"type": "string"}}
    return {**spec, "description": param.description, "schema": param.schema}


SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "OPS_API_TOKEN for /api/*; METRICS_TOKEN for /metrics.",
    },
    "livepeerSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Livepeer-Signature",
        "description": "t=<unix ms>,v1=<hex HMAC-SHA256 of the raw body>",
    },
}


def _paths(app: Flask) -> dict[str, dict[str, Any]]:
    """Every route of the URL map with its `@documented` operation, by path and method."""
    paths: dict[str, dict[str, Any]] = {}
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    shared = {r.endpoint for r in rules if sum(o.endpoint == r.endpoint for o in rules) > 1}
    for rule in rules:
        op: Operation | None = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
        if op is None:
            raise UndocumentedRouteError(f"{rule.rule} ({rule.endpoint}) has no @documented")
        path = _PATH_PARAM.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - _IGNORED_METHODS):
            params = _PATH_PARAM.findall(rule.rule)
            # A view on several rules: each operation id names its own path parameters.
            name = (
                "_by_".join([rule.endpoint, *params]) if rule.endpoint in shared else rule.endpoint
            )
            paths.setdefault(path, {})[method.lower()] = _operation(op, params, name)
    return dict(sorted(paths.items()))


def build_spec(app: Flask, version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route of `app`; raises for an undocumented one."""
    paths = _paths(app)
    _, schemas = models_json_schema(
        [(model, "serialization") for model in _models(app)],
        ref_template="#/components/schemas/{model}",
    )
    _list_verdict_codes(schemas.get("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "livepeer-webhooks",
            "version": version,
            "description": "Verified Livepeer webhook receiver: state, timelines, diagnosis.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": SECURITY_SCHEMES,
        },
        "security": [{"bearer": []}],
    }


def _list_verdict_codes(schemas: dict[str, Any]) -> None:
    """`Verdict.code` is one of the catalog's codes (the contract's table): said as an enum."""
    code = schemas.get("Verdict", {}).get("properties", {}).get("code")
    if code is not None:
        code["enum"] = [entry.code for entry in catalog()]


class OpenApiDocument:
    """The app's OpenAPI document, built once, on first use (every route is registered then)."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    @cached_property
    def spec(self) -> dict[str, Any]:
        return build_spec(self._app)
