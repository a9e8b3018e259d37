"""The generated OpenAPI document: valid 3.1, complete, and honoured by the live app."""

from __future__ import annotations

import json

import pytest
import schemathesis
from helpers import TOKEN, make_settings
from hypothesis import HealthCheck, given, settings
from openapi_check import SpecMismatch, check_answer
from openapi_spec_validator import validate
from schemathesis.checks import positive_data_acceptance

from webhook_service import close_app, create_app
from webhook_service.http.openapi import UndocumentedRouteError, build_spec


def test_spec_is_valid_openapi_31(client):
    """/openapi.json validates as OpenAPI 3.1 and lists every route of the app's URL map, the
    ingest route among them (and it does answer POST there)."""
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    rules = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in client.application.url_map.iter_rules()
        if rule.endpoint != "static"
    }
    assert set(spec["paths"]) == rules | {"/webhooks/livepeer"}
    assert list(spec["paths"]["/webhooks/livepeer"]) == ["post"]
    assert client.post("/webhooks/livepeer").status_code == 401  # served, unsigned
    for name in ("Stream", "Event", "Problem", "IngestAck"):
        assert name in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_document_describes_itself_as_an_object(client):
    """/openapi.json is documented as the JSON object it is, and its answer validates."""
    spec = client.get("/openapi.json").get_json()
    schema = spec["paths"]["/openapi.json"]["get"]["responses"]["200"]["content"]
    assert schema["application/json"]["schema"]["type"] == "object"


class _Answer:
    """A response as check_answer reads it."""

    def __init__(self, status, body, mimetype="application/json"):
        self.status_code, self.mimetype, self._body = status, mimetype, json.dumps(body)

    def get_data(self, as_text=False):
        return self._body


@pytest.mark.parametrize(
    ("status", "body", "mimetype", "says"),
    [
        (418, {}, "application/json", "does not list"),
        (200, {"streams": "nope", "next_cursor": None}, "application/json", "not of type"),
        (200, {"streams": []}, "application/json", "next_cursor"),
        (200, {"streams": [], "next_cursor": None}, "text/html", "as text/html"),
        (401, {"type": "x"}, "application/problem+json", "required"),
    ],
)
def test_the_suite_checks_answers_against_the_document(app, status, body, mimetype, says):
    """Every test client checks its answers (tests/openapi_check.py): a wrong status, media
    type or body shape is refused, so the document cannot drift from what routes send."""
    with pytest.raises(SpecMismatch, match=says):
        check_answer(app, "GET", "/api/streams", _Answer(status, body, mimetype))
    check_answer(app, "GET", "/api/streams", _Answer(200, {"streams": [], "next_cursor": None}))


def test_an_undocumented_route_is_refused(app):
    """Adding a route without @documented makes spec generation fail, so docs cannot drift."""
    app.add_url_rule("/undocumented", "undocumented", lambda: "x")
    with pytest.raises(UndocumentedRouteError):
        build_spec(app)


@pytest.fixture(scope="module")
def fuzz_app(redis_url):
    prefix = "lpt-schemathesis"
    # schemathesis's ignored_auth check re-sends every accepted request with a wrong token, a
    # hundred times and more: the failed-auth limit is tested in test_security.py, not here.
    app = create_app(make_settings(redis_url, prefix, auth_failure_limit=0))
    yield app
    close_app(app)
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_live_app_honours_its_schema(fuzz_app):
    """Generated requests (authorised) to every operation get no 5xx and schema-true answers.

    Driven without schemathesis's pytest plugin (it does not load under pytest 9); examples are
    bounded and derandomised so the run is quick and repeatable.
    """
    operations = _operations(fuzz_app)
    assert len(operations) >= 8  # schemathesis leaves out /openapi.json itself
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case):
            case.call_and_validate(
                headers={"Authorization": f"Bearer {TOKEN}"},
                # A cursor must be one the service issued and a delivery must be signed: both
                # are checked beyond what a schema can say, and answered with a 400/401 problem.
                excluded_checks=[positive_data_acceptance],
            )

        exercise()
