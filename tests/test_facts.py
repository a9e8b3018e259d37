"""Rules that belong to Livepeer's facts themselves, written once (livepeer/facts.py)."""

from __future__ import annotations

import pytest

from webhook_service.livepeer.facts import WebhookLogEntry


@pytest.mark.parametrize(
    ("success", "status", "failed"),
    [
        (True, 200, False),
        (False, 500, True),
        (False, None, True),
        (None, 204, False),
        (None, 301, True),
        (None, 500, True),
        (None, None, True),  # no response at all: a timeout or a network error (DESIGN.md)
        (True, None, False),  # Livepeer's own `success` decides when it is given
        (False, 200, True),
    ],
)
def test_a_log_row_failed_when_no_2xx_came_back(success, status, failed):
    """`failed` is the one rule reconcile and the webhooks check share."""
    entry = WebhookLogEntry("log-1", "stream.started", 1, success, status)
    assert entry.failed is failed
