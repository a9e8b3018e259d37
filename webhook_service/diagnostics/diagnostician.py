"""Run a check end to end: gather its facts (gather.py), decide (the pure checks), count it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import svcs

from webhook_service.config import Settings
from webhook_service.diagnostics import gather
from webhook_service.diagnostics.facts import ViewerRequest
from webhook_service.diagnostics.hls import diagnose_hls
from webhook_service.diagnostics.playback import diagnose_playback
from webhook_service.diagnostics.recording import diagnose_recording
from webhook_service.diagnostics.rtmp import diagnose_rtmp
from webhook_service.diagnostics.sources import Sources
from webhook_service.diagnostics.verdict import Diagnosis, Verdict, worst
from webhook_service.diagnostics.webhooks import diagnose_webhooks
from webhook_service.livepeer.api import LivepeerApi
from webhook_service.livepeer.probe import Prober
from webhook_service.store import Store
from webhook_service.telemetry.metrics import count_verdict, probe_observer

# Each check keeps to its own deadline; this only guards against a bug leaving a thread stuck.
DEADLINE_SLACK = 15.0


class Diagnostician:
    """The diagnosis routes' single entry point: one method per check."""

    def __init__(
        self, sources: Sources, checks: ThreadPoolExecutor, count: Callable[[Verdict], None]
    ) -> None:
        self.sources = sources
        # A pool of its own: checks wait on outside calls in sources.pool, never on each other,
        # so a busy pool can only queue work, not deadlock it.
        self._checks = checks
        self._count = count  # told of every verdict (the diagnosis metric)

    def _counted(self, verdict: Verdict) -> Verdict:
        self._count(verdict)
        return verdict

    def rtmp(self, stream_id: str | None, key: str | None, ingest_url: str | None) -> Verdict:
        """Would the encoder's push be accepted? By stream id, or by key alone."""
        facts = gather.gather_rtmp(self.sources, stream_id, key, ingest_url)
        return self._counted(diagnose_rtmp(facts))

    def hls(self, stream_id: str) -> Verdict:
        """Why the HLS manifest is empty or refused."""
        return self._counted(diagnose_hls(gather.gather_hls(self.sources, stream_id)))

    def playback(
        self, stream_id: str, jwt: str | None, viewer: ViewerRequest | None = None
    ) -> Verdict:
        """Why Livepeer's access control denies a viewer (with what the viewer sent, if given)."""
        facts = gather.gather_playback(self.sources, stream_id, jwt, viewer)
        return self._counted(diagnose_playback(facts))

    def recording(self, stream_id: str) -> Verdict:
        """Where the latest session's recording is."""
        facts = gather.gather_recording(self.sources, stream_id)
        return self._counted(diagnose_recording(facts))

    def webhooks(self) -> Verdict:
        """Whether Livepeer's deliveries reach this receiver and verify."""
        return self._counted(diagnose_webhooks(gather.gather_webhooks(self.sources)))

    def stream(self, stream_id: str, jwt: str | None) -> Diagnosis:
        """Every stream check in parallel."""
        pool = self._checks
        futures = [
            pool.submit(self.rtmp, stream_id, None, None),
            pool.submit(self.hls, stream_id),
            pool.submit(self.playback, stream_id, jwt),
            pool.submit(self.recording, stream_id),
        ]
        verdicts = [f.result(timeout=DEADLINE_SLACK) for f in futures]
        return Diagnosis(stream_id, worst(v.status for v in verdicts), verdicts)

    def close(self) -> None:
        """Stop both pools and close the sources' connections."""
        self._checks.shutdown(wait=False, cancel_futures=True)
        self.sources.close()


def register(registry: svcs.Registry, settings: Settings, store: Store) -> Diagnostician:
    """Register the Diagnostician (closed with the registry) and, with an API key, the API."""
    prober = Prober.from_settings(
        settings,
        call_timeout=settings.probe_timeout_seconds,
        observer=probe_observer(settings.livepeer_api_url),
    )
    api = LivepeerApi.from_settings(settings, prober)
    if api is not None:
        registry.register_value(LivepeerApi, api)
    # Outside calls and whole checks get separate pools (see Diagnostician).
    calls = ThreadPoolExecutor(max_workers=32, thread_name_prefix="probe")
    checks = ThreadPoolExecutor(max_workers=16, thread_name_prefix="check")
    doctor = Diagnostician(Sources(settings, store, api, prober, calls), checks, count_verdict)
    registry.register_value(Diagnostician, doctor, on_registry_close=doctor.close)
    return doctor
