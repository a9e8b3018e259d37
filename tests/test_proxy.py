"""The client address behind proxies (pure)."""

from __future__ import annotations

import pytest

from webhook_service.http.proxy import client_address, parse_trusted


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("127.0.0.1", "203.0.113.9", "127.0.0.1", "203.0.113.9"),
        ("127.0.0.1", "198.51.100.1, 203.0.113.9", "127.0.0.1", "203.0.113.9"),
        ("10.0.0.5", "203.0.113.9", "127.0.0.1", "10.0.0.5"),
        ("10.0.0.5", "203.0.113.9", "10.0.0.0/8", "203.0.113.9"),
        ("10.0.0.5", "203.0.113.9", "*", "203.0.113.9"),
        ("127.0.0.1", "not-an-ip", "127.0.0.1", "127.0.0.1"),
        ("127.0.0.1", None, "127.0.0.1", "127.0.0.1"),
        ("::1", "2001:db8::1", "::1", "2001:db8::1"),
    ],
)
def test_client_address(peer, xff, trusted, expected):
    """X-Forwarded-For counts only from trusted peers, and only its last hop."""
    assert client_address(peer, xff, parse_trusted(trusted)) == expected
