"""The one WSGI edge every request passes: request id, timing, the standard headers, the log
line and metrics, and problem+json for a bug.

Like werkzeug's ProxyFix it wraps the Flask app. A route may register a fast path (a plain
WSGI app for POSTs to its exact path, the ingest route's): that skips Flask's routing and
request context, never this edge. Every route, fast or not, is also in Flask's URL map.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, current_app, request
from werkzeug.exceptions import MethodNotAllowed

from webhook_service.http.errors import problem_headers, problem_json, unexpected_error
from webhook_service.http.security import DEFAULT_CACHE_CONTROL, security_headers
from webhook_service.telemetry.requests import Exchange, record, request_id

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
EXCHANGE = "livepeer.exchange"  # the environ key of the request's Exchange
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class Edge:
    """WSGI middleware around the Flask app; `fast_routes` maps a path to its POST handler."""

    def __init__(self, app: WSGIApp, fast_routes: Mapping[str, WSGIApp]) -> None:
        self._app = app
        self._fast_routes = dict(fast_routes)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
        exchange = Exchange(
            request_id(environ.get("HTTP_X_REQUEST_ID")), method, path, environ.get("REMOTE_ADDR")
        )
        environ[EXCHANGE] = exchange
        https = environ.get("wsgi.url_scheme") == "https"

        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            exchange.status = int(status[:3])
            added = standard_headers(headers, https)
            added.append(("X-Request-ID", exchange.request_id))
            return start_response(status, headers + added, exc_info)

        fast = self._fast_routes.get(path) if method == "POST" else None
        if fast is not None:
            exchange.route = path
        try:
            answer = (fast or self._app)(environ, respond)
        except Exception as error:
            # exc_info only when headers were chosen already: WSGI lets them be replaced then.
            answer = _unexpected(error, respond, replace=exchange.status != 0)
        record(exchange, time.perf_counter() - started)
        return answer


def standard_headers(headers: list[tuple[str, str]], https: bool) -> list[tuple[str, str]]:
    """The security headers and Cache-Control every answer carries, but for those the view set
    itself (the status page sets its own Content-Security-Policy and caching)."""
    own = {name.lower() for name, _ in headers}
    standard = [*security_headers(https), DEFAULT_CACHE_CONTROL]
    return [(name, value) for name, value in standard if name.lower() not in own]


def _unexpected(error: Exception, respond: Callable[..., Any], *, replace: bool) -> list[bytes]:
    """Answer a bug as a 500 problem."""
    problem = unexpected_error(error)
    body = problem_json(problem)
    headers = [*problem_headers(problem), ("Content-Length", str(len(body)))]
    respond(STATUS_LINES[problem.status], headers, sys.exc_info() if replace else None)
    return [body]


def _note_route() -> None:
    """`before_request`, first of all: the matched route's pattern, for the log and metrics.

    A method the route does not serve matches no rule; its label is still the route's pattern
    (never the path: that holds ids a client made up).
    """
    exchange: Exchange | None = request.environ.get(EXCHANGE)
    if exchange is None:
        return
    rule = request.url_rule
    wrong_method = request.routing_exception
    if rule is None and isinstance(wrong_method, MethodNotAllowed) and wrong_method.valid_methods:
        adapter = current_app.url_map.bind_to_environ(request.environ)
        method = next(iter(wrong_method.valid_methods))
        rule, _ = adapter.match(method=method, return_rule=True)
    if rule is not None:
        exchange.route = rule.rule


def init_app(app: Flask, fast_routes: Mapping[str, WSGIApp]) -> None:
    """Put the edge around `app` (call after every route is registered)."""
    app.before_request_funcs.setdefault(None, []).insert(0, _note_route)
    app.wsgi_app = Edge(app.wsgi_app, fast_routes)  # type: ignore[method-assign]
