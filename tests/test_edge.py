"""One edge for every route: the ingest route and an API route answer the same bad requests
with the same problem shapes and headers; every route is in Flask's URL map."""

from __future__ import annotations

import logging

import pytest
from flask.cli import routes_command
from helpers import SECRET, auth, delivery, make_settings, signed

from webhook_service import close_app, create_app
from webhook_service.http.security import SECURITY_HEADERS
from webhook_service.store import Store, connect

INGEST = "/webhooks/livepeer"
LEAK = "sk-should-not-leak"
# Headers every answer carries whatever the route; values that differ per request excluded.
SHARED = {*SECURITY_HEADERS, "Cache-Control", "Content-Type", "X-Request-ID"}


class BrokenStore(Store):
    """A store that fails in a way no code path expects (a bug, not an outage)."""

    def apply(self, update):
        raise RuntimeError(f"bug with secret-looking data {LEAK}")

    def list_streams(self, state, limit, cursor):
        raise RuntimeError(f"bug with secret-looking data {LEAK}")


@pytest.fixture
def broken_app(redis_url, key_prefix):
    settings = make_settings(redis_url, key_prefix)
    app = create_app(settings, store=BrokenStore(connect(settings), key_prefix))
    yield app
    close_app(app)


def _signed_delivery():
    raw, headers = signed(delivery(), SECRET)
    return {"data": raw, "headers": headers}


def _too_large(authorised: bool):
    headers = {"Content-Type": "application/json", **(auth() if authorised else {})}
    return {"data": b"x" * 1_048_577, "headers": headers}


# (case, ingest request, API request, status): the same fault sent to both kinds of route.
CASES = [
    ("wrong method", ("GET", INGEST, dict), ("DELETE", "/api/streams", dict), 405),
    (
        "oversized body",
        ("POST", INGEST, lambda: _too_large(False)),
        ("POST", "/api/diagnosis/ai", lambda: _too_large(True)),
        413,
    ),
    (
        "unexpected error",
        ("POST", INGEST, _signed_delivery),
        ("GET", "/api/streams", lambda: {"headers": auth()}),
        500,
    ),
]


@pytest.mark.parametrize(("case", "ingest", "api", "status"), CASES, ids=[c[0] for c in CASES])
def test_ingest_and_api_routes_answer_alike(broken_app, caplog, case, ingest, api, status):
    """The same bad request gets the same status, problem type and title, and the same headers
    from the ingest route (answered ahead of Flask) and from an API route (answered by Flask)."""
    client = broken_app.test_client()
    caplog.set_level(logging.INFO)
    answers = []
    for method, path, make_kwargs in (ingest, api):
        response = client.open(path, method=method, **make_kwargs())
        assert response.status_code == status, (path, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert set(problem) == {"type", "title", "status", "detail"} and problem["detail"]
        assert LEAK not in response.get_data(as_text=True)
        assert SHARED <= set(response.headers.keys()), SHARED - set(response.headers.keys())
        answers.append((problem["type"], problem["title"], problem["status"], response.headers))
    (ingest_type, ingest_title, _, ingest_headers), (api_type, api_title, _, api_headers) = answers
    assert (ingest_type, ingest_title) == (api_type, api_title)
    for name in SECURITY_HEADERS.keys() | {"Cache-Control", "Content-Type"}:
        assert ingest_headers[name] == api_headers[name], name
    if status == 405:
        assert "POST" in ingest_headers["Allow"] and "GET" in api_headers["Allow"]
    lines = [r for r in caplog.records if r.name == "webhook_service.request"]
    assert [line.status for line in lines] == [status, status]
    assert [line.route for line in lines] == [ingest[1], api[1]]
    if status == 500:
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 2 and all(r.exc_info is not None for r in errors)
        assert not hasattr(lines[0], "outcome")  # a bug is no delivery outcome


def test_every_route_is_in_the_url_map(app):
    """`flask routes` lists the ingest route like any other: one registry of routes."""
    rules = {(rule.rule, method) for rule in app.url_map.iter_rules() for method in rule.methods}
    assert (INGEST, "POST") in rules
    listed = app.test_cli_runner().invoke(routes_command).output
    assert INGEST in listed and "ingest.receive" in listed


def test_the_flask_view_of_the_ingest_route_answers_as_the_fast_path(app, redis_url):
    """The ingest route reached through Flask (a server without the edge's fast path) gives the
    same answer: the view and the fast path are one handler."""
    raw, headers = signed(delivery(), SECRET)
    fast = app.test_client().post(INGEST, data=raw, headers=headers)
    with app.test_request_context(INGEST, method="POST", data=raw, headers=headers):
        through_flask = app.full_dispatch_request()
    assert fast.status_code == through_flask.status_code == 200
    assert fast.get_json()["duplicate"] is False
    assert through_flask.get_json() == {**fast.get_json(), "duplicate": True}
