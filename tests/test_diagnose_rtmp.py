"""The rtmp check: every code, the decision order, skipped rows, and the ingest URL rules."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook_service.diagnostics.facts import LocalStream, RtmpFacts
from webhook_service.diagnostics.rtmp import check_ingest_url, diagnose_rtmp, redact_ingest_url
from webhook_service.livepeer.facts import ApiStream

KEY = "4f2a-secret-stream-key-9c1e"
HOSTS = ("rtmp.livepeer.com",)
GOOD_URL = "rtmp://rtmp.livepeer.com/live"
LOCAL_IDLE = LocalStream(
    id="st1",
    state="idle",
    playback_id="pb1",
    record=True,
    playback_policy=None,
    playback_policy_webhook_id=None,
    last_started_at_ms=1,
    last_idle_at_ms=2,
)
LOCAL_ACTIVE = replace(LOCAL_IDLE, state="active", last_idle_at_ms=None)
API = ApiStream(id="st1", name="cam", playback_id="pb1", is_active=False, suspended=False)


def facts(**overrides):
    base = {"stream_id": "st1", "local": None, "api_configured": True, "api_stream": API}
    base.update(overrides)
    return RtmpFacts(**base)


def given_key(matches, **overrides):
    return facts(key_given=True, key_matches=matches, key_last4=KEY[-4:], **overrides)


NOW_MS = 1_764_086_400_000
CASES = [
    ("account suspended", facts(api_stream=None, account_suspended=True), "account_suspended"),
    (
        "suspended account beats an unknown stream",
        facts(api_stream=None, api_not_found=True, account_suspended=True),
        "account_suspended",
    ),
    (
        "API active with a fresh lastSeen: live",
        facts(api_stream=replace(API, is_active=True, last_seen_ms=NOW_MS - 30_000), now_ms=NOW_MS),
        "receiving",
    ),
    (
        "API still active but lastSeen over 90 s old: not live (stream.ts ACTIVE_TIMEOUT)",
        facts(api_stream=replace(API, is_active=True, last_seen_ms=NOW_MS - 91_000), now_ms=NOW_MS),
        "ready",
    ),
    ("unknown to API and to us", facts(api_stream=None, api_not_found=True), "stream_not_found"),
    (
        "unknown key, key-only lookup",
        given_key(None, stream_id=None, api_stream=None, api_not_found=True),
        "stream_not_found",
    ),
    (
        "404 for a stream we saw",
        facts(api_stream=None, api_not_found=True, local=LOCAL_IDLE),
        "stream_deleted",
    ),
    ("API row deleted", facts(api_stream=replace(API, deleted=True)), "stream_deleted"),
    (
        "deleted beats key mismatch",
        given_key(False, api_stream=None, api_not_found=True, local=LOCAL_IDLE),
        "stream_deleted",
    ),
    ("suspended", facts(api_stream=replace(API, suspended=True)), "stream_suspended"),
    (
        "suspended beats mismatch and bad URL",
        given_key(False, api_stream=replace(API, suspended=True), ingest_url="http://x/y"),
        "stream_suspended",
    ),
    ("key mismatch", given_key(False), "key_mismatch"),
    (
        "mismatch beats bad URL and liveness",
        given_key(False, api_stream=replace(API, is_active=True), ingest_url="rtmp://evil/live"),
        "key_mismatch",
    ),
    ("ingest host wrong", facts(ingest_url="rtmp://evil.example/live"), "ingest_url_invalid"),
    (
        "server URL with the key while the key field is set",
        given_key(True, ingest_url=f"{GOOD_URL}/{KEY}"),
        "ingest_url_invalid",
    ),
    (
        "bad URL judged while the API is down",
        facts(api_stream=None, api_error="timeout", ingest_url="rtmp://x.example/live"),
        "ingest_url_invalid",
    ),
    ("live by the API", facts(api_stream=replace(API, is_active=True)), "receiving"),
    (
        "live by webhooks while the API is down",
        facts(api_stream=None, api_error="timeout", local=LOCAL_ACTIVE),
        "receiving",
    ),
    (
        "live by webhooks without an API key",
        facts(api_configured=False, api_stream=None, local=LOCAL_ACTIVE),
        "receiving",
    ),
    ("API idle beats webhook active", facts(local=LOCAL_ACTIVE), "ready"),
    ("exists, no key given", facts(), "ready"),
    ("exists, key matches, good URL", given_key(True, ingest_url=GOOD_URL), "ready"),
    ("full push URL without key field", facts(ingest_url=f"{GOOD_URL}/{KEY}"), "ready"),
    (
        "no API key, seen idle",
        facts(api_configured=False, api_stream=None, local=LOCAL_IDLE),
        "no_api_key",
    ),
    ("no API key, never seen", facts(api_configured=False, api_stream=None), "no_api_key"),
    ("API failed, idle", facts(api_stream=None, api_error="HTTP 502", local=LOCAL_IDLE), "unknown"),
    ("API failed, never seen", facts(api_stream=None, api_error="not JSON"), "unknown"),
    ("key given but not comparable", given_key(None), "unknown"),
]


@pytest.mark.parametrize(("case", "fact", "code"), CASES, ids=[c[0] for c in CASES])
def test_rtmp_rows(case, fact, code):
    """Each fact set answers with the first rtmp row of the contract that holds."""
    verdict = diagnose_rtmp(fact)
    assert verdict.code == f"rtmp.{code}", case
    assert verdict.check == "rtmp"
    assert verdict.cause and verdict.fix
    expected = {"stream_not_found": "fail", "stream_deleted": "fail", "stream_suspended": "fail"}
    expected |= {"account_suspended": "fail"}
    expected |= {"key_mismatch": "fail", "ingest_url_invalid": "fail", "receiving": "ok"}
    expected |= {"ready": "ok", "no_api_key": "unknown", "unknown": "unknown"}
    assert verdict.status == expected[code]


def test_every_rtmp_code_is_reachable():
    """The table above reaches every rtmp code of the contract."""
    codes = {diagnose_rtmp(fact).code for _, fact, _ in CASES}
    rows = "account_suspended stream_not_found stream_deleted stream_suspended key_mismatch"
    rows += " ingest_url_invalid"
    rows += " receiving ready no_api_key unknown"
    assert codes == {f"rtmp.{row}" for row in rows.split()}


def test_deleted_cause_mentions_another_project():
    """A 404 for a known stream says a key of another project also gets 404."""
    verdict = diagnose_rtmp(facts(api_stream=None, api_not_found=True, local=LOCAL_IDLE))
    assert "another project" in verdict.cause
    assert verdict.evidence["api_status"] == 404


def test_unknown_carries_the_reason():
    """An API failure with nothing decisive answers rtmp.unknown with evidence.reason."""
    verdict = diagnose_rtmp(facts(api_stream=None, api_error="HTTP 502"))
    assert "HTTP 502" in verdict.evidence["reason"]


def test_live_source_is_reported():
    """The evidence says whether the API or the webhook records decided liveness."""
    assert diagnose_rtmp(facts(local=LOCAL_ACTIVE)).evidence["live_source"] == "api"
    down = facts(api_stream=None, api_error="timeout", local=LOCAL_ACTIVE)
    assert diagnose_rtmp(down).evidence["live_source"] == "webhooks"


def test_other_problems_go_into_evidence():
    """A bad URL noticed under a suspended stream is still named in the evidence."""
    verdict = diagnose_rtmp(facts(api_stream=replace(API, suspended=True), ingest_url="x"))
    assert verdict.evidence["ingest_url_problem"]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_stream_key_never_in_verdict(case):
    """Neither the key nor a URL embedding it appears in any verdict; only the last 4 may."""
    fact = replace(case[1], ingest_url=f"rtmp://u:{KEY}@rtmp.livepeer.com/live/{KEY}?k={KEY}")
    text = json.dumps(diagnose_rtmp(fact).as_dict())
    assert KEY not in text and KEY[:-4] not in text


VALID_URLS = [
    GOOD_URL,
    f"{GOOD_URL}/",
    "RTMP://RTMP.Livepeer.COM/live",
    "rtmps://rtmp.livepeer.com:443/live",
    "rtmp://rtmp.livepeer.com:1935/live",
    "rtmp://rtmp.livepeer.com./live",
    "  rtmp://rtmp.livepeer.com/live  ",
    f"{GOOD_URL}/{KEY}",
]


@pytest.mark.parametrize("url", VALID_URLS)
def test_valid_ingest_urls(url):
    """Livepeer's ingest URL is accepted whatever its case, port or trailing slash."""
    assert check_ingest_url(url, HOSTS) is None


INVALID_URLS = [
    ("", "empty"),
    ("   ", "empty"),
    ("rtmp.livepeer.com/live", "scheme"),
    ("http://rtmp.livepeer.com/live", "scheme"),
    ("srt://rtmp.livepeer.com/live", "scheme"),
    ("rtmp:///live", "no host"),
    ("rtmp://evil.example/live", "not a Livepeer"),
    ("rtmp://rtmp.livepeer.com.evil.example/live", "not a Livepeer"),
    ("rtmp://rtmp.livepeer.com", "not /live"),
    ("rtmp://rtmp.livepeer.com/", "not /live"),
    ("rtmp://rtmp.livepeer.com/app", "not /live"),
    ("rtmp://rtmp.livepeer.com/Live", "not /live"),
    ("rtmp://rtmp.livepeer.com//live", "not /live"),
    ("rtmp://rtmp.livepeer.com/live//k", "not /live"),
    (f"{GOOD_URL}/{KEY}/{KEY}", "twice"),
    (f"{GOOD_URL}/a/b", "more than"),
    (f"{GOOD_URL}/a/b/c", "more than"),
    ("rtmp://[::1/live", "cannot be parsed"),
    ("rtmp://rtmp.livepeer.com:port/live", "cannot be parsed"),
    ("rtmp://rtmp.livepeer.com:99999/live", "cannot be parsed"),
]


@pytest.mark.parametrize(("url", "problem"), INVALID_URLS)
def test_invalid_ingest_urls(url, problem):
    """Each wrong server URL is named, without echoing the path that may hold the key."""
    found = check_ingest_url(url, HOSTS)
    assert found is not None and problem in found
    assert KEY not in found


@pytest.mark.parametrize(
    ("url", "separate", "ok"),
    [
        (GOOD_URL, True, True),
        (f"{GOOD_URL}/", True, True),
        (f"{GOOD_URL}/{KEY}", False, True),
        (f"{GOOD_URL}/{KEY}", True, False),
        (f"{GOOD_URL}/anything", True, False),
    ],
)
def test_key_in_url_and_key_field(url, separate, ok):
    """/live/<x> is a full push URL alone, but a doubled key when the key field is set too."""
    assert (check_ingest_url(url, HOSTS, key_in_separate_field=separate) is None) is ok


def test_configured_hosts_are_case_insensitive():
    """RTMP_INGEST_HOSTS is matched without regard to case."""
    assert check_ingest_url("rtmp://Ingest.Example/live", ("INGEST.example",)) is None
    assert check_ingest_url(GOOD_URL, ("ingest.example",)) is not None
    assert check_ingest_url(GOOD_URL, ()) is not None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"rtmp://u:p@Rtmp.Livepeer.com:1935/live/{KEY}?x={KEY}",
            "rtmp://rtmp.livepeer.com:1935/live/<redacted>",
        ),
        (f"rtmp://host/{KEY}", "rtmp://host/<redacted>"),
        ("rtmp://[::1/live", "<unparseable>"),
    ],
)
def test_redacted_url(url, shown):
    """Evidence shows scheme, host, port and /live, never credentials, query or other segments."""
    assert redact_ingest_url(url) == shown


@settings(deadline=None)  # timing varies on loaded CI machines; correctness does not
@given(st.text(max_size=200))
def test_any_text_is_judged_without_raising(url):
    """Whatever the operator pastes, the check answers with a problem or None."""
    result = check_ingest_url(url, HOSTS, key_in_separate_field=True)
    assert result is None or isinstance(result, str)
    assert isinstance(redact_ingest_url(url), str)
    verdict = diagnose_rtmp(facts(ingest_url=url))
    assert verdict.code in {"rtmp.ready", "rtmp.ingest_url_invalid"}
