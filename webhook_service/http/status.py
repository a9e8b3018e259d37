"""The status page at `/` for a person (DESIGN.md "Status page"): three plain files, no build.

The page reads only the JSON API, with the ops token the operator types into it (kept in the
tab's sessionStorage, sent as a bearer header), so these routes serve files and nothing else:
no data, no token, no template. What it shows and why is in docs/operations.md "Status page".
"""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response

from webhook_service.http.openapi import documented

bp = Blueprint("status", __name__)

# Stricter than the API's `default-src 'none'` only where the page needs it: its own script and
# stylesheet (no inline code or style), fetch() to this origin, the login form posting here.
# Trusted Types make every HTML-parsing DOM sink (innerHTML, ...) throw: the script builds
# nodes with textContent, so a stream name or a rejection's detail can never become markup.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
# The page and its script must come from the same release: nothing of it is cached.
CACHE_CONTROL = "no-store"
PAGE_FOLDER = "status_page"


def _serve(name: str, mimetype: str) -> Response:
    """One of the page's files, read from the installed package, with the page's headers."""
    body = resources.files("webhook_service.http").joinpath(PAGE_FOLDER, name).read_bytes()
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.get("/")
@documented(
    "The status page for a person: streams, deliveries, delivery health, diagnoses (it reads "
    "the JSON API with the ops token typed into it)",
    "status page",
    response="text/html",
)
def page() -> Response:
    return _serve("index.html", "text/html")


@bp.get("/status.css")
@documented("The status page's stylesheet", "status page", response="text/css")
def stylesheet() -> Response:
    return _serve("status.css", "text/css")


@bp.get("/status.js")
@documented("The status page's script", "status page", response="text/javascript")
def script() -> Response:
    return _serve("status.js", "text/javascript")
