"""The generated OpenAPI document: valid 3.1, complete, and honoured by the live app."""

from __future__ import annotations

import pytest
import schemathesis
from helpers import TOKEN, make_settings
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import positive_data_acceptance

from webhook_service import create_app
from webhook_service.telemetry.openapi import UndocumentedRouteError, build_spec


def test_spec_is_valid_openapi_31(client):
    """/openapi.json validates as OpenAPI 3.1 and lists every route of the app: Flask's and the
    ingest endpoint that answers ahead of Flask (and does answer POST there)."""
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
