"""The `webhooks` check as a table: every code, the decision order, edges, hostile facts."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from webhook_service.diagnostics.facts import RejectionStats, WebhooksFacts
from webhook_service.diagnostics.webhooks import diagnose_webhooks
from webhook_service.livepeer.facts import ApiWebhook, WebhookLogEntry

NOW = 1_700_000_000_000
HOUR = 3_600_000
SILENT = 21_600
URL = "https://hooks.example.com/webhooks/livepeer"
PUBLIC_IP = "93.184.216.34"
EVENTS = ("stream.started", "stream.idle", "recording.ready", "recording.waiting")


def stats(counts: Any = None, last_at: Any = None, accepted: Any = NOW - 60_000) -> RejectionStats:
    return RejectionStats(
        counts=counts or {}, last_at_ms=last_at or {}, last_accepted_at_ms=accepted
    )


def rejected(reason: str, count: int, at: int = NOW - 1000, **more: Any) -> RejectionStats:
    return stats({reason: count}, {reason: at}, **more)


def hook(**fields: Any) -> ApiWebhook:
    base: dict[str, Any] = {
        "id": "wh-1",
        "url": URL,
        "events": EVENTS,
        "last_triggered_at_ms": NOW - 60_000,
        "last_failure_at_ms": None,
    }
    return ApiWebhook(**{**base, **fields})


def entry(at: Any, success: Any, status: Any, event: str = "stream.started") -> WebhookLogEntry:
    return WebhookLogEntry(
        id=f"log-{at}", event=event, created_at_ms=at, success=success, response_status=status
    )


def facts(**overrides: Any) -> WebhooksFacts:
    base: dict[str, Any] = {
        "now_ms": NOW,
        "silent_seconds": SILENT,
        "public_url": URL,
        "public_url_addresses": (PUBLIC_IP,),
        "public_url_error": None,
        "rejections": stats(),
        "webhook": hook(),
        "webhook_lookup_error": None,
        "recent_log": (),
        "api_configured": True,
    }
    base.update(overrides)
    return WebhooksFacts(**base)


FAILING_HOOK = hook(last_failure_at_ms=NOW - 60_000, last_failure_status=503)
FAILING_LOG = (entry(NOW - 5000, False, 503), entry(NOW - 9000, False, None))

CASES = [
    ("ok", facts(), "webhooks.ok"),
    ("localhost", facts(public_url="http://localhost:8000/webhooks/livepeer"), "url_not_public"),
    ("localhost_upper_case", facts(public_url="https://LOCALHOST/x"), "url_not_public"),
    ("localhost_trailing_dot", facts(public_url="https://localhost./x"), "url_not_public"),
    ("ip6_localhost", facts(public_url="https://ip6-localhost/x"), "url_not_public"),
    ("dot_localhost", facts(public_url="https://app.localhost/x"), "url_not_public"),
    ("literal_loopback", facts(public_url="https://127.0.0.1/x"), "url_not_public"),
    ("literal_ipv6_loopback", facts(public_url="https://[::1]:8000/x"), "url_not_public"),
    ("literal_private", facts(public_url="https://10.1.2.3/x"), "url_not_public"),
    ("literal_public_ip", facts(public_url="https://93.184.216.34/x"), "webhooks.ok"),
    ("literal_public_ipv6", facts(public_url="https://[2606:4700::1111]/x"), "webhooks.ok"),
    ("resolves_private_10", facts(public_url_addresses=("10.0.0.5",)), "url_not_public"),
    ("resolves_private_192", facts(public_url_addresses=("192.168.1.2",)), "url_not_public"),
    ("resolves_private_172", facts(public_url_addresses=("172.16.0.1",)), "url_not_public"),
    ("resolves_link_local", facts(public_url_addresses=("169.254.169.254",)), "url_not_public"),
    ("resolves_unspecified", facts(public_url_addresses=("0.0.0.0",)), "url_not_public"),
    ("resolves_reserved", facts(public_url_addresses=("240.0.0.1",)), "url_not_public"),
    ("resolves_ipv6_loopback", facts(public_url_addresses=("::1",)), "url_not_public"),
    ("resolves_ipv6_link_local", facts(public_url_addresses=("fe80::",)), "url_not_public"),
    ("resolves_ipv6_ula", facts(public_url_addresses=("fc00::",)), "url_not_public"),
    ("resolves_ipv6_unspecified", facts(public_url_addresses=("::",)), "url_not_public"),
    ("resolves_v4_mapped", facts(public_url_addresses=("::ffff:127.0.0.1",)), "url_not_public"),
    ("one_private_of_many", facts(public_url_addresses=(PUBLIC_IP, "10.0.0.1")), "url_not_public"),
    ("public_ipv6", facts(public_url_addresses=("2606:4700:4700::1111",)), "webhooks.ok"),
    ("no_host", facts(public_url="webhooks/livepeer"), "url_not_public"),
    ("http_is_only_noted", facts(public_url="http://hooks.example.com/x"), "webhooks.ok"),
    ("dns_failed_skips", facts(public_url_addresses=None, public_url_error="NXDOMAIN"), "ok"),
    (
        "not_public_beats_failing",
        facts(public_url="https://localhost/x", webhook=FAILING_HOOK),
        "url_not_public",
    ),
    ("status_failing", facts(webhook=FAILING_HOOK), "delivery_failing"),
    (
        "old_failure_is_history",
        facts(webhook=hook(last_failure_at_ms=NOW - HOUR, last_failure_status=500)),
        "webhooks.ok",
    ),
    ("log_head_failing", facts(recent_log=FAILING_LOG), "delivery_failing"),
    (
        "log_head_succeeded",
        facts(recent_log=(entry(NOW - 1000, True, 200), *FAILING_LOG)),
        "webhooks.ok",
    ),
    (
        "log_order_is_by_time",
        facts(recent_log=(entry(NOW - HOUR, True, 200), entry(NOW - 1000, False, 500))),
        "delivery_failing",
    ),
    (
        "log_without_success_flag_uses_status",
        facts(recent_log=(entry(NOW - 1000, None, 502),)),
        "delivery_failing",
    ),
    (
        "newer_log_success_beats_lagging_status",
        facts(webhook=FAILING_HOOK, recent_log=(entry(NOW - 1000, True, 200),)),
        "webhooks.ok",
    ),
    (
        "failing_beats_rejections",
        facts(webhook=FAILING_HOOK, rejections=rejected("missing_signature", 10)),
        "delivery_failing",
    ),
    ("unsigned", facts(rejections=rejected("missing_signature", 3)), "unsigned_deliveries"),
    ("two_unsigned_are_noise", facts(rejections=rejected("missing_signature", 2)), "ok"),
    ("mismatch", facts(rejections=rejected("signature_mismatch", 3)), "signature_mismatch"),
    (
        "timestamp_mismatch_counts_as_signature",
        facts(
            rejections=stats(
                {"signature_mismatch": 1, "timestamp_mismatch": 2},
                {"signature_mismatch": NOW - 5000, "timestamp_mismatch": NOW - 1000},
            )
        ),
        "signature_mismatch",
    ),
    ("stale", facts(rejections=rejected("stale", 3)), "clock_skew"),
    (
        "accepted_after_last_rejection_clears",
        facts(rejections=rejected("stale", 30, at=NOW - 5000, accepted=NOW - 4999)),
        "webhooks.ok",
    ),
    (
        "accepted_at_same_ms_does_not_clear",
        facts(rejections=rejected("stale", 3, at=NOW - 5000, accepted=NOW - 5000)),
        "clock_skew",
    ),
    (
        "older_than_an_hour_is_not_recent",
        facts(
            rejections=rejected("missing_signature", 9, at=NOW - HOUR - 1, accepted=NOW - 2 * HOUR)
        ),
        "webhooks.ok",
    ),
    (
        "exactly_an_hour_is_recent",
        facts(rejections=rejected("missing_signature", 9, at=NOW - HOUR, accepted=None)),
        "unsigned_deliveries",
    ),
    (
        "unused_reasons_only_go_into_evidence",
        facts(rejections=stats({"malformed": 50, "too_large": 5, "malformed_signature": 9})),
        "webhooks.ok",
    ),
    (
        "unsigned_beats_mismatch_beats_skew",
        facts(
            rejections=stats(
                {"missing_signature": 3, "signature_mismatch": 3, "stale": 3},
                {"missing_signature": NOW, "signature_mismatch": NOW, "stale": NOW},
            )
        ),
        "unsigned_deliveries",
    ),
    (
        "mismatch_beats_skew",
        facts(
            rejections=stats(
                {"signature_mismatch": 4, "stale": 3}, {"signature_mismatch": NOW, "stale": NOW}
            )
        ),
        "signature_mismatch",
    ),
    (
        "rejections_beat_not_subscribed",
        facts(webhook=hook(events=()), rejections=rejected("stale", 3)),
        "clock_skew",
    ),
    (
        "missing_recording_ready",
        facts(webhook=hook(events=("stream.started", "stream.idle"))),
        "not_subscribed",
    ),
    ("no_events", facts(webhook=hook(events=())), "not_subscribed"),
    ("webhook_not_found", facts(webhook=None), "not_registered"),
    (
        "not_registered_beats_rejections",
        facts(webhook=None, rejections=rejected("signature_mismatch", 9)),
        "not_registered",
    ),
    ("suspended_account", facts(account_suspended=True, webhook=None), "account_suspended"),
    (
        "suspended_beats_a_local_url",
        facts(account_suspended=True, public_url="http://localhost/x"),
        "account_suspended",
    ),
    (
        "redirected_405s",
        facts(recent_log=(entry(NOW - 5000, False, 405), entry(NOW - 9000, False, 405))),
        "redirected",
    ),
    (
        "redirected_beats_failing",
        facts(webhook=FAILING_HOOK, recent_log=(entry(NOW - 5000, False, 302),)),
        "redirected",
    ),
    (
        "an_old_405_is_not_recent",
        facts(recent_log=(entry(NOW - HOUR - 1, False, 405), entry(NOW - 1000, True, 200))),
        "webhooks.ok",
    ),
    (
        "signed_get_reached_ingest",
        facts(rejections=rejected("redirected_get", 1, accepted=NOW - 60_000)),
        "redirected",
    ),
    (
        "http_registration_with_no_2xx",
        facts(
            webhook=hook(url=URL.replace("https", "http")), recent_log=(entry(NOW - 1, False, 405),)
        ),
        "redirected",
    ),
    (
        "http_registration_that_works_is_fine",
        facts(
            webhook=hook(url=URL.replace("https", "http")), recent_log=(entry(NOW - 1, True, 200),)
        ),
        "webhooks.ok",
    ),
    ("lookup_failed_skips", facts(webhook=None, webhook_lookup_error="HTTP 502"), "ok"),
    (
        "not_subscribed_beats_silent",
        facts(webhook=hook(events=("stream.idle",)), rejections=stats(accepted=None)),
        "not_subscribed",
    ),
    ("never_accepted", facts(rejections=stats(accepted=None)), "silent"),
    (
        "never_accepted_with_few_rejections",
        facts(rejections=stats({"missing_signature": 2}, accepted=None)),
        "silent",
    ),
    ("silent_exactly_at_limit", facts(rejections=stats(accepted=NOW - SILENT * 1000)), "silent"),
    ("not_silent_1ms_before", facts(rejections=stats(accepted=NOW - SILENT * 1000 + 1)), "ok"),
    (
        "no_public_url_no_api",
        facts(public_url=None, public_url_addresses=None, webhook=None, api_configured=False),
        "webhooks.ok",
    ),
    (
        "no_counters_log_ok",
        facts(rejections=None, recent_log=(entry(NOW - 1000, True, 200),)),
        "webhooks.ok",
    ),
    ("no_counters_no_log", facts(rejections=None), "webhooks.unknown"),
    (
        "nothing_at_all",
        facts(public_url=None, rejections=None, webhook=None, api_configured=False),
        "webhooks.unknown",
    ),
]


def _code(short: str) -> str:
    return short if short.startswith("webhooks.") else f"webhooks.{short}"


@pytest.mark.parametrize(("name", "case", "code"), CASES, ids=[c[0] for c in CASES])
def test_decision_table(name: str, case: WebhooksFacts, code: str) -> None:
    """Each fact pattern answers with the first row of the DESIGN.md table that holds."""
    verdict = diagnose_webhooks(case)
    assert verdict.code == _code(code)
    assert verdict.check == "webhooks"
    assert verdict.cause and verdict.fix
    json.dumps(verdict.as_dict())


STATUSES = {
    "url_not_public": "fail",
    "delivery_failing": "fail",
    "unsigned_deliveries": "fail",
    "signature_mismatch": "fail",
    "clock_skew": "fail",
    "not_subscribed": "warn",
    "silent": "warn",
    "ok": "ok",
    "unknown": "unknown",
}


@pytest.mark.parametrize(("row", "status"), sorted(STATUSES.items()))
def test_every_code_is_reachable_with_its_status(row: str, status: str) -> None:
    """Every webhooks code of the contract is reached by the table, with its contract status."""
    case = next(c for _, c, code in CASES if _code(code) == f"webhooks.{row}")
    assert diagnose_webhooks(case).status == status


@pytest.mark.parametrize(
    ("log", "statuses", "fragment"),
    [
        (FAILING_LOG, [503, "no response"], "readyz"),
        ((entry(NOW, False, 401),), [401], "not retried"),
        ((entry(NOW, False, None),), ["no response"], "no answer"),
    ],
)
def test_failing_evidence_and_fix(log: Any, statuses: list[Any], fragment: str) -> None:
    """Failing statuses (newest first) go into evidence; the fix depends on the newest one."""
    verdict = diagnose_webhooks(facts(recent_log=log))
    assert verdict.evidence["failing_statuses"] == statuses
    assert fragment in verdict.fix
    assert "reconcile" in verdict.fix


def test_status_failing_evidence() -> None:
    """A failing webhook status puts its time and HTTP status into evidence."""
    evidence = diagnose_webhooks(facts(webhook=FAILING_HOOK)).evidence
    assert evidence["failing_statuses"] == [503]
    assert evidence["last_failure_at"] == "2023-11-14T22:12:20.000Z"


def test_rejection_evidence_lists_every_reason() -> None:
    """Rejection counts by reason, including ones no row uses, go into evidence."""
    counts = {"missing_signature": 4, "malformed": 7, "too_large": 1, "stale": 0}
    verdict = diagnose_webhooks(facts(rejections=stats(counts, {"missing_signature": NOW})))
    assert verdict.code == "webhooks.unsigned_deliveries"
    assert verdict.evidence["rejections_last_hour"] == {
        "missing_signature": 4,
        "malformed": 7,
        "too_large": 1,
    }
    assert verdict.evidence["rejected_last_hour"] == 4
    assert "LIVEPEER_WEBHOOK_SECRET" in verdict.fix


def test_not_subscribed_lists_missing_events() -> None:
    """not_subscribed names exactly the required events the webhook lacks."""
    verdict = diagnose_webhooks(facts(webhook=hook(events=("stream.idle", "asset.ready"))))
    assert verdict.evidence["events_missing"] == ["stream.started", "recording.ready"]


def test_webhook_not_found_says_so() -> None:
    """With no webhook matching PUBLIC_URL, not_registered says so and how to fix it."""
    verdict = diagnose_webhooks(facts(webhook=None))
    assert verdict.code == "webhooks.not_registered"
    assert "No webhook" in verdict.cause and "Create" in verdict.fix


@pytest.mark.parametrize(
    ("case", "note"),
    [
        (facts(rejections=stats(accepted=None)), "no delivery accepted since the counters began"),
        (facts(rejections=stats(accepted=NOW - SILENT * 1000 - 5000)), None),
    ],
)
def test_silent_evidence(case: WebhooksFacts, note: str | None) -> None:
    """silent says whether nothing was ever accepted, or how long ago the last one was."""
    evidence = diagnose_webhooks(case).evidence
    assert evidence.get("silent_note") == note
    if note is None:
        assert evidence["seconds_since_accepted"] == SILENT + 5


@pytest.mark.parametrize(
    ("case", "skipped", "hint"),
    [
        (facts(public_url=None), "url_not_public", "PUBLIC_URL"),
        (facts(webhook=None, api_configured=False), "delivery_failing", "LIVEPEER_API_KEY"),
        (facts(webhook=None, api_configured=False), "not_subscribed", "LIVEPEER_API_KEY"),
        (facts(public_url=None, webhook=None), "not_subscribed", "PUBLIC_URL"),
    ],
)
def test_skipped_rows_say_how_to_enable_them(case: WebhooksFacts, skipped: str, hint: str) -> None:
    """Rows skipped for a missing PUBLIC_URL or API key say in evidence how to enable them."""
    verdict = diagnose_webhooks(case)
    assert verdict.code == "webhooks.ok"
    assert hint in verdict.evidence["skipped"][skipped]


def test_http_url_is_noted() -> None:
    """An http:// PUBLIC_URL is noted in evidence, not failed."""
    verdict = diagnose_webhooks(facts(public_url="http://hooks.example.com/webhooks/livepeer"))
    assert verdict.code == "webhooks.ok"
    assert "https" in verdict.evidence["public_url_note"]
    assert "public_url_note" not in diagnose_webhooks(facts()).evidence


@pytest.mark.parametrize(
    ("address", "kind"),
    [("::1", "loopback"), ("fe80::", "link-local"), ("fc00::", "private"), ("10.0.0.1", "private")],
)
def test_not_public_names_the_address(address: str, kind: str) -> None:
    """url_not_public names the offending address and its kind."""
    verdict = diagnose_webhooks(facts(public_url_addresses=(PUBLIC_IP, address)))
    assert f"{address}, a {kind} address" in verdict.cause


def test_secrets_in_urls_stay_out_of_the_verdict() -> None:
    """Userinfo and query strings of PUBLIC_URL and the webhook URL never reach the verdict."""
    secret_url = "https://user:pw-s3cret@hooks.example.com/webhooks/livepeer?token=tok-s3cret"
    verdict = diagnose_webhooks(facts(public_url=secret_url, webhook=hook(url=secret_url)))
    text = json.dumps(verdict.as_dict())
    assert "s3cret" not in text
    assert verdict.evidence["public_url"] == URL


HOSTILE = [
    facts(public_url="http://[::1"),
    facts(public_url=""),
    facts(public_url="https://exa mple.com:99999/x"),
    facts(public_url_addresses=(None, 123, "not-an-ip", "fe80::1%eth0", "x" * 10_000)),
    facts(public_url_addresses=("",)),
    facts(rejections=stats({"stale": "many", "missing_signature": True}, {"stale": "now"})),
    facts(rejections=stats({"stale": -5, 7: 3}, {"stale": 10**30}, accepted="yesterday")),
    facts(rejections=RejectionStats(counts=None, last_at_ms=None, last_accepted_at_ms=None)),
    facts(recent_log=(entry("later", "no", "500"), entry(None, None, None), entry(-1, True, 200))),
    facts(webhook=hook(events=(None, 5), last_failure_at_ms=10**30, last_triggered_at_ms=10**30)),
    facts(webhook=hook(id=None, url=None, last_failure_error="e" * 100_000)),
    facts(now_ms=10**25, silent_seconds=-1),
    facts(silent_seconds="forever"),
]


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_facts_never_raise(case: WebhooksFacts) -> None:
    """Garbage in the facts gives a webhooks verdict with JSON-safe evidence, never an error."""
    verdict = diagnose_webhooks(case)
    assert verdict.code.startswith("webhooks.")
    json.dumps(verdict.as_dict())


def test_failing_status_beats_counters_of_a_healthy_receiver() -> None:
    """Livepeer's failing status wins over fresh local acceptances (the contract's row order)."""
    case = replace(facts(webhook=FAILING_HOOK), rejections=stats(accepted=NOW))
    assert diagnose_webhooks(case).code == "webhooks.delivery_failing"


RECONCILE = "livepeer-webhooks reconcile --since 2023-11-14T21:13:20.000Z"


@pytest.mark.parametrize(
    ("case", "code"),
    [
        (facts(), "webhooks.ok"),
        (facts(recent_log=FAILING_LOG), "webhooks.delivery_failing"),
        (facts(rejections=rejected("signature_mismatch", 5)), "webhooks.signature_mismatch"),
    ],
)
def test_missing_events_add_the_reconcile_command(case: WebhooksFacts, code: str) -> None:
    """Failed deliveries never applied here are counted and the fix names the command that
    recovers them, whichever row answers."""
    verdict = diagnose_webhooks(replace(case, missing_from_log=3, missing_since_ms=NOW - HOUR))
    assert verdict.code == code
    assert verdict.evidence["missing_from_log"] == 3
    assert verdict.evidence["reconcile_command"] == RECONCILE
    assert verdict.fix.endswith(f"Recover the 3 missed event(s): {RECONCILE}.")


@pytest.mark.parametrize(
    ("missing", "since", "expected"),
    [
        (0, None, {"missing_from_log": 0}),
        (None, NOW, {}),
        (-1, NOW, {}),
        ("3", NOW, {}),
        (True, NOW, {}),
        (2, None, {"missing_from_log": 2}),
        (2, 10**30, {"missing_from_log": 2}),
    ],
)
def test_no_reconcile_command_without_missing_events(
    missing: Any, since: Any, expected: Any
) -> None:
    """Nothing missing, unknown, or garbage: no command, and no crash."""
    verdict = diagnose_webhooks(facts(missing_from_log=missing, missing_since_ms=since))
    got = {
        k: v for k, v in verdict.evidence.items() if k in ("missing_from_log", "reconcile_command")
    }
    assert got == expected and "reconcile --since" not in verdict.fix
