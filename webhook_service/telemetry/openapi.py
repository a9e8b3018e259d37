"""OpenAPI 3.1 generated from the app itself: its URL map, each view's `@documented` metadata
and the pydantic models' JSON Schemas, so the description cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from webhook_service.http.schemas import Problem

F = TypeVar("F", bound=Callable[..., Any])
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
    where: Literal["query", "header"]
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
    response: type[BaseModel] | str | None = None  # a model, or a media type for raw bodies
    errors: tuple[int, ...] = ()


def documented(
    summary: str,
    tag: str,
    *,
    auth: Auth = None,
    params: tuple[Param, ...] = (),
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | str | None = None,
    errors: tuple[int, ...] = (),
) -> Callable[[F], F]:
    """Attach OpenAPI metadata to a view; every route must have it (a test checks)."""

    def mark(view: F) -> F:
        view.__openapi__ = Operation(  # type: ignore[attr-defined]
            summary, tag, auth, params, body, response, errors
        )
        return view

    return mark


_ROUTES_EXTENSION = "openapi.wsgi_routes"


@dataclass(frozen=True)
class WsgiRoute:
    """A route answered outside Flask's URL map (the ingest endpoint), described all the same."""

    rule: str
    method: str
    endpoint: str
    operation: Operation


def add_route(app: Flask, rule: str, method: str, endpoint: str, operation: Operation) -> None:
    """Describe a route that `app` serves through a WSGI app of its own, not a view."""
    app.extensions.setdefault(_ROUTES_EXTENSION, []).append(
        WsgiRoute(rule, method, endpoint, operation)
    )


def wsgi_routes(app: Flask) -> list[WsgiRoute]:
    """The routes `add_route` described."""
    routes: list[WsgiRoute] = app.extensions.get(_ROUTES_EXTENSION, [])
    return routes


class UndocumentedRouteError(Exception):
    """Raised when a route has no `@documented` metadata."""


def _models(app: Flask) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = [Problem]
    views = [getattr(view, "__openapi__", None) for view in app.view_functions.values()]
    for op in [*views, *(route.operation for route in wsgi_routes(app))]:
        for model in (op.body, op.response) if op else ():
            if isinstance(model, type) and model not in found:
                found.append(model)
    return found


def _content(model: type[BaseModel] | str | None, problem: bool = False) -> dict[str, Any]:
    if problem:
        return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    if isinstance(model, str):
        return {model: {"schema": {"type": "string"}}}
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
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in path_params
    ] + [
        {"name": p.name, "in": p.where, "description": p.description, "schema": p.schema}
        for p in op.params
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


def build_spec(app: Flask, version: str = "0.1.0") -> dict[str, Any]:
    """The OpenAPI 3.1 document for every route of `app`; raises for an undocumented one."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        op: Operation | None = getattr(app.view_functions[rule.endpoint], "__openapi__", None)
        if op is None:
            raise UndocumentedRouteError(f"{rule.rule} ({rule.endpoint}) has no @documented")
        path = _PATH_PARAM.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - _IGNORED_METHODS):
            paths.setdefault(path, {})[method.lower()] = _operation(
                op, _PATH_PARAM.findall(rule.rule), rule.endpoint
            )
    for route in wsgi_routes(app):
        paths.setdefault(route.rule, {})[route.method.lower()] = _operation(
            route.operation, [], route.endpoint
        )
    _, schemas = models_json_schema(
        [(model, "serialization") for model in _models(app)],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "livepeer-webhooks",
            "version": version,
            "description": "Verified Livepeer webhook receiver: state, timelines, diagnosis.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
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
            },
        },
        "security": [{"bearer": []}],
    }
