"""The diagnosis tests' harness: an app wired to the fake Livepeer, fed signed deliveries
through the real ingest route, asked through the real diagnosis routes."""

from __future__ import annotations

import base64
import json
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fake_livepeer import FAKE_API_KEY
from helpers import auth, make_settings, now_ms, post_delivery

from webhook_service.config import Secret

PUBLIC_URL = "https://93.184.216.34/webhooks/livepeer"  # a literal public IP: no DNS needed


class Harness:
    """An app wired to the fake Livepeer (or to no API), plus helpers to feed and ask it."""

    def __init__(self, make_app, redis_url, key_prefix, fake, *, api=True, **overrides):
        settings = make_settings(
            redis_url,
            key_prefix,
            livepeer_api_key=Secret(FAKE_API_KEY) if api else None,
            livepeer_api_url=f"{fake.url}",
            livepeer_playback_url=fake.cdn_url,
            probe_timeout_seconds=1.0,
            **overrides,
        )
        self.client = make_app(settings).test_client()
        self.fake = fake

    def deliver(self, event, stream_id, created_at=None, **extra):
        body = {
            "id": f"{event.replace('.', '-')}-{stream_id}-{created_at or 0}-{len(extra)}",
            "webhookId": "wh",
            "createdAt": created_at or now_ms() - 100,
            "timestamp": now_ms(),
            "event": event,
        }
        if stream_id is not None:
            body["stream"] = {"id": stream_id, "playbackId": f"pb{stream_id}", "record": True}
        for key, value in extra.items():
            if key == "stream":
                body["stream"].update(value)
            else:
                body[key] = value
        response = post_delivery(self.client, body)
        assert response.status_code == 200, response.get_data(as_text=True)

    def check(self, stream_id, check, **headers):
        response = self.client.get(
            f"/api/streams/{stream_id}/diagnosis/{check}", headers={**auth(), **headers}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def rtmp(self, body, stream_id=None):
        path = f"/api/streams/{stream_id}/diagnosis/rtmp" if stream_id else "/api/diagnosis/rtmp"
        response = self.client.post(path, json=body, headers=auth())
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def webhooks(self):
        response = self.client.get("/api/diagnosis/webhooks", headers=auth())
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()


@pytest.fixture
def make(make_app, redis_url, key_prefix, fake):
    """Builds a Harness: `make()` with the API key, `make(api=False)` without one."""
    return lambda **kw: Harness(make_app, redis_url, key_prefix, fake, **kw)


def codes(verdict, expected):
    """Assert the verdict's code (printing the whole verdict when it differs); return it."""
    assert verdict["code"] == expected, json.dumps(verdict, indent=1)
    assert verdict["cause"] and verdict["fix"]
    return verdict


def es256_key():
    """A P-256 signing key: (private key, publicKey as Livepeer shows it: base64 of the PEM)."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(pem).decode()


def token(private, pub, sub, exp_offset=3600):
    """A viewer JWT as Livepeer's SDK signs one (signAccessJwt): ES256, sub, pub, exp."""
    now = int(time.time())
    claims = {"sub": sub, "pub": pub, "exp": now + exp_offset, "iat": now, "action": "pull"}
    return pyjwt.encode(claims, private, algorithm="ES256")
