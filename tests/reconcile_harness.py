"""An outage to recover from: the app served over HTTP, a fake Livepeer whose resends really
deliver (re-signed) to the app's ingest route, and helpers to log missed deliveries.

As Livepeer does (cannon.ts resendWebhook), a resend goes to the logged row's `request.url`,
signed with the row's secret: only rows that went to PUBLIC_URL reach the app.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

from fake_livepeer import FAKE_API_KEY, FakeLivepeer
from helpers import SECRET, TOKEN, LiveApp, auth, delivery, make_settings, now_ms, post_delivery
from services import service

from webhook_service import close_app, create_app
from webhook_service.config import Secret
from webhook_service.http.schemas import iso_from_ms
from webhook_service.livepeer.api import LivepeerApi
from webhook_service.livepeer.probe import Prober
from webhook_service.reconcile.runner import Reconciler
from webhook_service.store import Store
from webhook_service.urls import same_url

PUBLIC_URL = "https://93.184.216.34/webhooks/livepeer"  # a literal public IP: no DNS needed
HOOK = "wh-ours"
MINUTE = 60_000


class FakeClock:
    """Monotonic time that `sleep` moves forward instantly; can interrupt a run like Ctrl-C."""

    def __init__(self, interrupt_on_sleep: int | None = None) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []
        self._interrupt = interrupt_on_sleep

    def __call__(self) -> float:
        # Real time plus what was slept: API deadlines derived from it stay in the future.
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self._interrupt is not None and len(self.sleeps) >= self._interrupt:
            raise KeyboardInterrupt
        self.offset += seconds


class Outage:
    """The service (real Redis, real HTTP) and what Livepeer's log shows about our webhook."""

    def __init__(
        self, redis_url: str, key_prefix: str, fake: FakeLivepeer, **overrides: Any
    ) -> None:
        options: dict[str, Any] = {
            "livepeer_api_key": Secret(FAKE_API_KEY),
            "livepeer_api_url": fake.url,
            "livepeer_playback_url": fake.cdn_url,
            "public_url": PUBLIC_URL,
            "probe_timeout_seconds": 5.0,
            **overrides,
        }
        self.env = {
            "LIVEPEER_WEBHOOK_SECRET": SECRET,
            "OPS_API_TOKEN": TOKEN,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": key_prefix,
            "LIVEPEER_API_KEY": FAKE_API_KEY if options["livepeer_api_key"] else "",
            "LIVEPEER_API_URL": fake.url,
            "PUBLIC_URL": options["public_url"] or "",
        }
        self.app = create_app(make_settings(redis_url, key_prefix, **options))
        self.client = self.app.test_client()
        self.store = service(self.app, Store)
        self.live = LiveApp(self.app)
        self.fake = fake
        self.hook = fake.add_webhook(PUBLIC_URL, HOOK, sharedSecret=SECRET)
        self.elsewhere: list[str] = []  # resends that went to another URL than PUBLIC_URL
        fake.on_resend = self.deliver

    def stop(self) -> None:
        self.live.stop()
        close_app(self.app)

    def deliver(self, url: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
        """What Livepeer does on a resend: POST the re-signed body to the row's URL (the app
        stands behind PUBLIC_URL); answers the receiver's status and body."""
        if not same_url(url, PUBLIC_URL):
            self.elsewhere.append(url)
            return 404, "not this service"
        request = urllib.request.Request(
            f"{self.live.url}/webhooks/livepeer", data=body.encode(), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def missed(
        self,
        event: str = "stream.started",
        stream_id: str | None = "s1",
        *,
        minutes_ago: int = 10,
        status: int | None = 503,
        attempts: int = 1,
        url: str | None = None,
        secret: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A delivery Livepeer logged as failed (`attempts` rows) that never reached Redis;
        returns the newest row, the one reconcile resends. `url` and `secret`: what the webhook
        had then (default: what it has now)."""
        created = now_ms() - minutes_ago * MINUTE
        body = delivery(event, stream_id, created_at=created, timestamp=created, **extra)
        row: dict[str, Any] = {}
        for attempt in range(attempts):
            row = self.fake.add_log(
                HOOK,
                body,
                status=status,
                created_at=created + attempt + 1,
                url=url,
                shared_secret=secret,
            )
        return row

    def recovered_by_retry(self, stream_id: str = "s2", minutes_ago: int = 20) -> None:
        """A delivery that failed once, then Livepeer's own retry was applied."""
        created = now_ms() - minutes_ago * MINUTE
        body = delivery("stream.started", stream_id, created_at=created)
        self.fake.add_log(HOOK, body, status=503, created_at=created + 1)
        assert post_delivery(self.client, body).status_code == 200
        self.fake.add_log(HOOK, body, status=200, created_at=created + 5_000)

    def reconcile(self, **body: Any) -> tuple[int, dict[str, Any]]:
        body.setdefault("since", iso_from_ms(now_ms() - 60 * MINUTE))
        response = self.client.post("/api/reconcile", json=body, headers=auth())
        return response.status_code, response.get_json()

    def api(self) -> LivepeerApi:
        settings = self.app.config["SETTINGS"]
        prober = Prober.from_settings(settings, call_timeout=5.0)
        return LivepeerApi(prober, settings.livepeer_api_key, settings.livepeer_api_url)

    def reconciler(self, clock: FakeClock | None = None) -> Reconciler:
        """A Reconciler on the real API client and store, optionally on a fake clock."""
        api = self.api()
        if clock is None:
            return Reconciler(api, self.store)
        return Reconciler(api, self.store, clock=clock, sleep=clock.sleep)

    def stream(self, stream_id: str) -> dict[str, Any] | None:
        response = self.client.get(f"/api/streams/{stream_id}", headers=auth())
        return response.get_json() if response.status_code == 200 else None

    def resent_log_ids(self) -> list[str]:
        return [log_id for hook, log_id in self.fake.resends if hook == HOOK]
