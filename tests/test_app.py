"""The app factory's wiring: services registered once by type, and closed with the app."""

from __future__ import annotations

import pytest
import svcs
from helpers import make_settings
from services import service

from webhook_service import close_app, create_app
from webhook_service.diagnostics.diagnostician import Diagnostician
from webhook_service.livepeer.api import LivepeerApi
from webhook_service.store import Store


def test_services_are_registered_by_type(app):
    """Routes look services up by type; the Livepeer API only exists with an API key."""
    assert isinstance(service(app, Store), Store)
    assert isinstance(service(app, Diagnostician), Diagnostician)
    with pytest.raises(svcs.exceptions.ServiceNotFoundError):
        service(app, LivepeerApi)


def test_readiness_is_built_from_the_registered_pings(client):
    """/readyz pings every service that has a health ping: the Store (Redis)."""
    with client.application.app_context():
        names = [ping.name for ping in svcs.flask.get_pings()]
    assert names == ["webhook_service.store.Store"]
    assert client.get("/readyz").status_code == 200


def test_closing_the_app_closes_its_pools(redis_url, key_prefix):
    """close_app stops the diagnosis thread pools and disconnects the Redis pool."""
    app = create_app(make_settings(redis_url, key_prefix))
    doctor, store = service(app, Diagnostician), service(app, Store)
    assert store.ping()
    pool = store._client.connection_pool
    assert any(c._sock is not None for c in pool._available_connections)
    close_app(app)
    for threads in (doctor.sources.pool, doctor._checks):
        with pytest.raises(RuntimeError, match="shutdown"):
            threads.submit(print)
    assert all(c._sock is None for c in pool._available_connections)
