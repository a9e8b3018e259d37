"""The `recording` check as a table: every code, the decision order, time edges, hostile facts."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from webhook_service.diagnostics.facts import RecordingFacts, TimelineFacts
from webhook_service.diagnostics.recording import diagnose_recording
from webhook_service.livepeer.facts import ApiSession

NOW = 1_700_000_000_000
TIMEOUT = 900
SID = "sess-1"
HLS = "https://cdn.example/recordings/sess-1/index.m3u8"
MP4 = "https://cdn.example/recordings/sess-1/output.mp4"
STARTED = NOW - 3_600_000
IDLE = NOW - 60_000


def timeline(started: Any = STARTED, idle: Any = IDLE, **more: Any) -> TimelineFacts:
    return TimelineFacts(last_started_at_ms=started, last_idle_at_ms=idle, **more)


def facts(**overrides: Any) -> RecordingFacts:
    base: dict[str, Any] = {
        "stream_id": "str-1",
        "now_ms": NOW,
        "ready_timeout_seconds": TIMEOUT,
        "record": True,
        "live": False,
        "latest_session_id": SID,
        "latest_session_created_ms": STARTED,
        "api_session": None,
        "stored_session": None,
        "timeline": timeline(),
        "api_configured": True,
        "api_error": None,
    }
    base.update(overrides)
    return RecordingFacts(**base)


def api(**fields: Any) -> ApiSession:
    return ApiSession(**{"id": SID, **fields})


READY_TL = timeline(recording_ready={SID: {"recording_url": HLS, "mp4_url": MP4, "at": NOW}})

CASES = [
    ("not_enabled", facts(record=False), "recording.not_enabled"),
    (
        "not_enabled_beats_live_and_ready",
        facts(record=False, live=True, timeline=READY_TL),
        "recording.not_enabled",
    ),
    (
        "no_sessions_per_api",
        facts(latest_session_id=None, timeline=timeline(None, None)),
        "recording.no_sessions",
    ),
    (
        "no_sessions_per_local_records",
        facts(latest_session_id=None, timeline=timeline(None, None), api_configured=False),
        "recording.no_sessions",
    ),
    ("still_live", facts(live=True), "recording.still_live"),
    ("still_live_beats_ready", facts(live=True, timeline=READY_TL), "recording.still_live"),
    ("ready_from_timeline", facts(timeline=READY_TL), "recording.ready"),
    (
        "ready_from_stored_session",
        facts(stored_session={"id": SID, "recording_status": "ready", "mp4_url": MP4}),
        "recording.ready",
    ),
    (
        "ready_from_api",
        facts(api_session=api(recording_status="ready", recording_url=HLS)),
        "recording.ready",
    ),
    (
        "api_ready_outweighs_missing_idle",
        facts(timeline=timeline(idle=None), api_session=api(recording_url=HLS)),
        "recording.ready",
    ),
    (
        "ready_beats_failed",
        facts(timeline=replace(READY_TL, failed_sessions={SID: "task.failed"})),
        "recording.ready",
    ),
    (
        "failed_asset",
        facts(timeline=timeline(failed_sessions={SID: "asset.failed"})),
        "recording.failed",
    ),
    (
        "failed_task",
        facts(timeline=timeline(failed_sessions={SID: "task.failed"})),
        "recording.failed",
    ),
    ("failed_per_api", facts(api_session=api(recording_status="failed")), "recording.failed"),
    (
        "failed_beats_no_media",
        facts(api_session=api(recording_status="failed", source_segments=0)),
        "recording.failed",
    ),
    ("no_media_per_api", facts(api_session=api(source_segments=0)), "recording.no_media"),
    (
        "no_media_per_stored_session",
        facts(stored_session={"id": SID, "source_segments": 0}),
        "recording.no_media",
    ),
    (
        "api_segments_outweigh_stored_zero",
        facts(
            api_session=api(source_segments=12), stored_session={"id": SID, "source_segments": 0}
        ),
        "recording.processing",
    ),
    (
        "no_media_beats_not_idle",
        facts(timeline=timeline(idle=None), api_session=api(source_segments=0)),
        "recording.no_media",
    ),
    (
        "no_idle_after_start_and_no_api_session_is_unknown",
        facts(timeline=timeline(idle=STARTED - 1)),
        "recording.unknown",
    ),
    (
        "no_idle_received_ends_at_the_api_lastSeen",
        facts(timeline=timeline(idle=None), api_session=api(last_seen_ms=NOW - 120_000)),
        "recording.processing",
    ),
    (
        "no_idle_received_long_ago_is_overdue",
        facts(timeline=timeline(idle=None), api_session=api(last_seen_ms=NOW - 3_600_000)),
        "recording.overdue",
    ),
    (
        "not_idle_stuck_active",
        facts(live_stuck=True, last_seen_ms=NOW - 600_000),
        "recording.not_idle",
    ),
    (
        "not_idle_beats_overdue",
        facts(live_stuck=True, timeline=timeline(idle=NOW - 7_200_000)),
        "recording.not_idle",
    ),
    (
        "no_media_beats_not_idle",
        facts(live_stuck=True, api_session=api(source_segments=0)),
        "recording.no_media",
    ),
    (
        "not_enabled_per_session",
        facts(record=True, api_session=api(record=False)),
        "recording.not_enabled",
    ),
    (
        "stream_flag_off_now_but_session_recorded",
        facts(record=False, api_session=api(record=True), timeline=READY_TL),
        "recording.ready",
    ),
    (
        "stored_session_flag_when_the_api_has_none",
        facts(record=True, stored_session={"id": SID, "record": False}),
        "recording.not_enabled",
    ),
    (
        "deleted_per_api_beats_ready",
        facts(api_session=api(recording_status="deleted", recording_url=HLS)),
        "recording.deleted",
    ),
    (
        "deleted_by_asset_deleted",
        facts(timeline=replace(READY_TL, deleted_sessions=frozenset({SID}))),
        "recording.deleted",
    ),
    (
        "skipped_stale_session",
        facts(
            timeline=timeline(idle=NOW - 60_000),
            api_session=api(recording_status="none", record=True, last_seen_ms=NOW - 4 * 3_600_000),
        ),
        "recording.skipped",
    ),
    (
        "none_without_a_late_idle_is_overdue",
        facts(
            timeline=timeline(idle=NOW - 3_000_000),
            api_session=api(recording_status="none", record=True, last_seen_ms=NOW - 3_100_000),
        ),
        "recording.overdue",
    ),
    ("account_suspended_is_unknown", facts(account_suspended=True), "recording.unknown"),
    (
        "idle_at_same_time_as_start_wins",
        facts(timeline=timeline(started=IDLE, idle=IDLE)),
        "recording.processing",
    ),
    (
        "waiting_proves_the_session_ended",
        facts(timeline=timeline(idle=None, recording_waiting=frozenset({SID}))),
        "recording.processing",
    ),
    (
        "api_waiting_proves_the_session_ended",
        facts(timeline=timeline(idle=None), api_session=api(recording_status="waiting")),
        "recording.processing",
    ),
    (
        "overdue_one_ms_past_timeout",
        facts(timeline=timeline(idle=NOW - TIMEOUT * 1000 - 1)),
        "recording.overdue",
    ),
    (
        "processing_exactly_at_timeout",
        facts(timeline=timeline(idle=NOW - TIMEOUT * 1000)),
        "recording.processing",
    ),
    ("processing_just_idle", facts(), "recording.processing"),
    (
        "api_ready_without_url_is_processing",
        facts(api_session=api(recording_status="ready")),
        "recording.processing",
    ),
    (
        "waiting_with_ready_status_is_processing",
        facts(
            timeline=timeline(recording_waiting=frozenset({SID})),
            stored_session={"id": SID, "recording_status": "ready"},
        ),
        "recording.processing",
    ),
    (
        "waiting_past_timeout_is_overdue",
        facts(
            timeline=timeline(idle=NOW - 3_600_000 + 1, recording_waiting=frozenset({SID})),
            api_session=api(recording_status="waiting"),
        ),
        "recording.overdue",
    ),
    (
        "api_only_overdue_from_last_seen",
        facts(timeline=timeline(None, None), api_session=api(last_seen_ms=NOW - 7_200_000)),
        "recording.overdue",
    ),
    (
        "api_only_processing_from_last_seen",
        facts(timeline=timeline(None, None), api_session=api(last_seen_ms=NOW - 120_000)),
        "recording.processing",
    ),
    (
        "other_sessions_failure_is_ignored",
        facts(timeline=timeline(failed_sessions={"old-session": "asset.failed"})),
        "recording.processing",
    ),
    (
        "other_sessions_recording_is_ignored",
        facts(timeline=timeline(recording_ready={"old-session": {"recording_url": HLS}})),
        "recording.processing",
    ),
    (
        "mismatched_api_session_is_ignored",
        facts(api_session=ApiSession(id="old-session", recording_url=HLS)),
        "recording.processing",
    ),
    (
        "waiting_without_any_time_is_processing",
        facts(live=None, timeline=timeline(None, None, recording_waiting=frozenset({SID}))),
        "recording.processing",
    ),
    (
        "api_failed_and_nothing_local_is_unknown",
        facts(
            record=None,
            live=None,
            latest_session_id=None,
            timeline=timeline(None, None),
            api_error="timeout",
        ),
        "recording.unknown",
    ),
    (
        "no_api_and_no_records_is_unknown",
        facts(
            record=None,
            live=None,
            latest_session_id=None,
            timeline=timeline(None, None),
            api_configured=False,
        ),
        "recording.unknown",
    ),
    (
        "live_unknown_skips_not_idle",
        facts(live=None, timeline=timeline(idle=None)),
        "recording.unknown",
    ),
]


@pytest.mark.parametrize(("name", "case", "code"), CASES, ids=[c[0] for c in CASES])
def test_decision_table(name: str, case: RecordingFacts, code: str) -> None:
    """Each fact pattern answers with the first row of the DESIGN.md table that holds."""
    verdict = diagnose_recording(case)
    assert verdict.code == code
    assert verdict.check == "recording"
    assert verdict.cause and verdict.fix
    json.dumps(verdict.as_dict())


def test_every_code_is_reachable() -> None:
    """The table above reaches every recording code of the contract."""
    reached = {code for _, _, code in CASES}
    expected = {
        "not_enabled", "no_sessions", "still_live", "deleted", "ready", "failed", "no_media",
        "not_idle", "skipped", "overdue", "processing", "unknown",
    }  # fmt: skip
    assert reached == {f"recording.{code}" for code in expected}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("recording.not_enabled", "fail"),
        ("recording.no_sessions", "warn"),
        ("recording.still_live", "warn"),
        ("recording.ready", "ok"),
        ("recording.failed", "fail"),
        ("recording.no_media", "warn"),
        ("recording.not_idle", "fail"),
        ("recording.deleted", "fail"),
        ("recording.skipped", "fail"),
        ("recording.overdue", "fail"),
        ("recording.processing", "warn"),
        ("recording.unknown", "unknown"),
    ],
)
def test_statuses_follow_the_contract(code: str, status: str) -> None:
    """Each code carries the status the contract gives it."""
    case = next(c for _, c, expected in CASES if expected == code)
    assert diagnose_recording(case).status == status


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (facts(timeline=READY_TL), {"recording_url": HLS, "mp4_url": MP4}),
        (facts(api_session=api(mp4_url=MP4)), {"mp4_url": MP4, "url_source": "api"}),
        (facts(stored_session={"id": SID, "recording_url": HLS}), {"url_source": "deliveries"}),
    ],
)
def test_ready_evidence_holds_the_urls(case: RecordingFacts, expected: dict[str, Any]) -> None:
    """A ready verdict puts the recording's URLs and where they came from into evidence."""
    evidence = diagnose_recording(case).evidence
    assert expected.items() <= evidence.items()
    assert evidence["session_id"] == SID


def test_overdue_evidence_has_times_and_timeout() -> None:
    """Overdue evidence names the session, the idle time, seconds since idle and the timeout."""
    verdict = diagnose_recording(facts(timeline=timeline(idle=NOW - 1_000_000)))
    assert verdict.code == "recording.overdue"
    assert verdict.evidence["seconds_since_idle"] == 1000
    assert verdict.evidence["ready_timeout_seconds"] == TIMEOUT
    assert verdict.evidence["idle_at"] == "2023-11-14T21:56:40.000Z"
    assert verdict.evidence["idle_source"] == "stream.idle"
    assert f"{TIMEOUT} s" in verdict.cause


def test_failed_evidence_names_the_failure_and_api_status() -> None:
    """A failed verdict says which event (or API status) showed the failure."""
    case = facts(
        timeline=timeline(failed_sessions={SID: "asset.failed"}),
        api_session=api(recording_status="waiting"),
    )
    verdict = diagnose_recording(case)
    assert verdict.evidence["failure"] == "asset.failed"
    assert verdict.evidence["api_recording_status"] == "waiting"
    assert SID in verdict.fix


@pytest.mark.parametrize(
    ("case", "key", "fragment"),
    [
        (facts(api_configured=False), "api", "LIVEPEER_API_KEY"),
        (facts(api_error="HTTP 502"), "api_error", "HTTP 502"),
    ],
)
def test_api_state_goes_into_evidence(case: RecordingFacts, key: str, fragment: str) -> None:
    """Without the API, evidence says why and how to enable it; the local verdict still holds."""
    verdict = diagnose_recording(case)
    assert verdict.code == "recording.processing"
    assert fragment in verdict.evidence[key]


def test_unknown_without_api_key_says_how_to_enable() -> None:
    """With nothing to decide on and no API key, the fix says to set LIVEPEER_API_KEY."""
    case = facts(record=None, live=None, latest_session_id=None, timeline=timeline(None, None))
    verdict = diagnose_recording(replace(case, api_configured=False))
    assert verdict.code == "recording.unknown"
    assert "LIVEPEER_API_KEY" in verdict.fix
    assert verdict.evidence["reason"]


HOSTILE = [
    facts(
        stored_session={"id": SID, "recording_url": 123, "mp4_url": ["x"], "source_segments": True}
    ),
    facts(stored_session={"id": None, "source_segments": "0"}),
    facts(stored_session="not a dict"),
    facts(timeline=timeline(recording_ready={SID: "garbage"})),
    facts(timeline=timeline(recording_ready={SID: {"recording_url": "   "}})),
    facts(timeline=timeline(failed_sessions={SID: 5})),
    facts(timeline=timeline(started=10**20, idle=-(10**20))),
    facts(timeline=timeline(started="yesterday", idle=b"now")),
    facts(now_ms=10**20, ready_timeout_seconds=-5),
    facts(ready_timeout_seconds="900"),
    facts(latest_session_id="", api_session=ApiSession(id="", source_segments=-1)),
    facts(api_session=api(recording_status=7, last_seen_ms=10**30)),
    facts(api_error="x" * 100_000),
    facts(live="yes", record="no"),
]


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_facts_never_raise(case: RecordingFacts) -> None:
    """Garbage in the facts gives a recording verdict with JSON-safe evidence, never an error."""
    verdict = diagnose_recording(case)
    assert verdict.code.startswith("recording.")
    json.dumps(verdict.as_dict())
