"""The recording check's rows: status, cause and fix of each code, in the contract's order.

Formatted with `recording._verdict`'s values: stream_id, session_id, failure, timeout. The
Livepeer behaviour each rests on is in docs/diagnosis.md.
"""

from __future__ import annotations

from webhook_service.diagnostics.verdict import Status

ROWS: dict[str, tuple[Status, str, str]] = {
    "not_enabled": (
        "fail",
        "Recording was off for the latest session (its `record` flag, copied from the stream "
        "when it began), so Livepeer made no recording of it.",
        "Turn recording on before the next broadcast (PATCH /stream/{stream_id} with "
        '{{"record": true}}, or the Studio dashboard; only while the stream is idle); past '
        "sessions cannot be recorded later.",
    ),
    "no_sessions": (
        "warn",
        "The stream has never been live, so there is no session to record.",
        "Start the encoder on rtmp://rtmp.livepeer.com/live/<stream key>; if the push is "
        "refused, run the `rtmp` diagnosis.",
    ),
    "still_live": (
        "warn",
        "The stream is live now; Livepeer makes the recording only after it goes idle.",
        "Stop the encoder when the broadcast is over; the recording is usually ready about "
        "5 minutes after stream.idle.",
    ),
    "deleted": (
        "fail",
        "The latest session's recording was deleted (its asset {session_id}): its old URLs "
        "no longer play.",
        "A deleted recording cannot be restored; record the next broadcast, or check who deleted "
        "asset {session_id} (Livepeer Studio's asset list, the asset.deleted webhook).",
    ),
    "ready": (
        "ok",
        "The latest session's recording is ready.",
        "Nothing to fix: play evidence.recording_url (HLS) or download evidence.mp4_url.",
    ),
    "failed": (
        "fail",
        "Livepeer could not make the latest session's recording ({failure}).",
        "Read the error of asset {session_id} (GET /asset/{session_id}) in Livepeer Studio; "
        "a failed recording is not retried, so contact Livepeer support if it matters.",
    ),
    "no_media": (
        "warn",
        "The latest session received no media (0 source segments), so no recording is made.",
        "Check that the encoder really sent video (its log and bitrate) and run the `rtmp` "
        "diagnosis; the next session that carries media will be recorded.",
    ),
    "not_idle": (
        "fail",
        "The Livepeer API still reports the stream active although no media has arrived for "
        "over 90 s (its lastSeen): the session is not closed yet, and its recording starts only "
        "after Livepeer's clean-up closes it.",
        "Stop the encoder if it still runs; Livepeer's clean-up job closes the session and sends "
        "stream.idle (usually within minutes). If it stays active, contact Livepeer support with "
        "the stream id {stream_id}.",
    ),
    "skipped": (
        "fail",
        "Livepeer skipped the latest session's recording: the session was closed more than 3 h "
        "after its media stopped, and Livepeer does not record such a stale session "
        "(recordingStatus none).",
        "Nothing recovers it. Stop encoders cleanly so streams go idle within minutes (a "
        "stream.idle more than 3 h late means the stream was left active).",
    ),
    "overdue": (
        "fail",
        "The stream went idle more than {timeout} s ago (RECORDING_READY_TIMEOUT_SECONDS) and "
        "neither a recording nor a failure has been reported.",
        "Check the session's recordingStatus (GET /session/{session_id}) and asset "
        "{session_id}; if Livepeer shows it ready, recover the missed recording.ready with "
        "POST /api/reconcile.",
    ),
    "processing": (
        "warn",
        "The session has ended and Livepeer is still making its recording (usually within "
        "about 5 minutes of stream.idle).",
        "Wait; if no recording.ready arrives within {timeout} s of stream.idle "
        "(RECORDING_READY_TIMEOUT_SECONDS), this check turns into recording.overdue.",
    ),
}
