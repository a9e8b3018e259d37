"""Typed settings, read once from the environment; a bad value stops startup with one line.

Each field of `Settings` is declared once, with `setting(...)`: its environment variable, its
parser, its default and a one-line doc. `Settings.from_env`, `ENV_NAMES`, `check-config` and
the table in docs/configuration.md (`config.docs`) are all made from those declarations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any, Literal

from webhook_service.config import parse
from webhook_service.config.parse import ConfigError, Secret, setting, settings_class, spec_of

__all__ = ["DEFAULT_KEY_PREFIX", "ENV_NAMES", "LOG_FORMATS", "ConfigError", "Secret", "Settings"]

DEFAULT_KEY_PREFIX = "lp"
LOG_FORMATS = ("json", "text")


@settings_class
class Settings:
    """Everything the service reads from its environment, validated."""

    webhook_secrets: tuple[Secret, ...] = setting(
        "LIVEPEER_WEBHOOK_SECRET",
        parse.secrets,
        "the webhook's shared secret; comma-separated to accept several during a rotation",
        required="set it to the webhook's shared secret from Livepeer Studio "
        "(comma-separate several during a rotation)",
    )
    ops_tokens: tuple[Secret, ...] = setting(
        "OPS_API_TOKEN",
        parse.secrets,
        "bearer token(s) for `/api/*`; comma-separated",
        required="set it to the bearer token operators use for /api/* (for example the "
        "output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')",
    )
    # Not in repr: a Redis URL usually carries a password.
    redis_url: str | None = setting(
        "REDIS_URL",
        parse.redis_url,
        "`redis://`, `rediss://` (TLS, e.g. Heroku Redis) or `unix://`",
        default=None,
        note="`serve` starts an embedded Redis (development only)",
        repr=False,
    )
    redis_cluster: bool = setting(
        "REDIS_CLUSTER",
        parse.flag,
        "`true`: `REDIS_URL` names one node of a Redis Cluster",
        default=False,
    )
    redis_ssl_cert_reqs: Literal["required", "none"] = setting(
        "REDIS_SSL_CERT_REQS",
        parse.cert_reqs,
        "certificate check for `rediss://`: `required` or `none` (Heroku Redis's are self-signed)",
        default="required",
    )
    redis_key_prefix: str = setting(
        "REDIS_KEY_PREFIX",
        parse.key_prefix,
        "prefix of every key this service writes (letters, digits, `_.-`)",
        default=DEFAULT_KEY_PREFIX,
    )
    redis_timeout_seconds: float = setting(
        "REDIS_TIMEOUT_SECONDS",
        parse.seconds,
        "connect and command timeout; a stuck Redis becomes a fast `503`",
        default=2.0,
    )
    tolerance_seconds: int = setting(
        "WEBHOOK_TOLERANCE_SECONDS",
        parse.whole_number(minimum=1),
        "allowed clock skew of a delivery, past and future (inclusive)",
        default=300,
    )
    max_body_bytes: int = setting(
        "WEBHOOK_MAX_BODY_BYTES",
        parse.whole_number(minimum=1024),
        "larger request bodies get `413` (every POST route)",
        default=1_048_576,
    )
    livepeer_api_key: Secret | None = setting(
        "LIVEPEER_API_KEY",
        Secret,
        "enables live checks against the Livepeer API (diagnosis, `reconcile`)",
        default=None,
        note="those checks say `unknown` and how to enable them",
    )
    livepeer_api_url: str = setting(
        "LIVEPEER_API_URL",
        parse.http_url,
        "Livepeer API base; its exact host and port are trusted as configured (no address "
        "check: it may be a private address)",
        default="https://livepeer.studio/api",
    )
    livepeer_playback_url: str = setting(
        "LIVEPEER_PLAYBACK_URL",
        parse.http_url,
        "HLS base when playback info is unavailable (`{base}/hls/{playbackId}/index.m3u8`, the "
        "id encoded as one path segment); its exact host and port are trusted as configured",
        default="https://livepeercdn.studio",
    )
    public_url: str | None = setting(
        "PUBLIC_URL",
        parse.http_url,
        "the URL Livepeer is told to call; finds our webhook in the Livepeer API",
        default=None,
        note="the `webhooks` check uses local evidence only",
    )
    hls_first_segment_seconds: int = setting(
        "HLS_FIRST_SEGMENT_SECONDS",
        parse.whole_number(),
        "how long after `stream.started` an empty playlist is still normal",
        default=10,
    )
    recording_ready_timeout_seconds: int = setting(
        "RECORDING_READY_TIMEOUT_SECONDS",
        parse.whole_number(),
        'how long after `stream.idle` a missing recording is still "processing"',
        default=900,
    )
    webhook_silent_seconds: int = setting(
        "WEBHOOK_SILENT_SECONDS",
        parse.whole_number(minimum=1),
        "no delivery for this long makes the `webhooks` check warn",
        default=21600,
    )
    rtmp_ingest_hosts: tuple[str, ...] = setting(
        "RTMP_INGEST_HOSTS",
        parse.hosts,
        "hosts accepted as Livepeer RTMP ingest (comma-separated)",
        default=("rtmp.livepeer.com",),
    )
    probe_allowed_hosts: tuple[str, ...] = setting(
        "PROBE_ALLOWED_HOSTS",
        parse.allowed_hosts,
        "host suffixes probes may follow redirects to, besides the API and playback hosts; "
        "`host` allows port 443 only, `host:port` that port. A host under a suffix is "
        "resolved once and contacted at that address only if every address it resolves to is "
        "global (never loopback, private, link-local or the like). The exact host:port of "
        "`LIVEPEER_API_URL`, `LIVEPEER_PLAYBACK_URL` and of the gateway `ai-check --gateway` "
        "names are trusted as configured",
        default=("livepeer.studio", "livepeercdn.studio", "lp-playback.studio"),
    )
    stream_retention_days: int = setting(
        "STREAM_RETENTION_DAYS",
        parse.whole_number(minimum=1),
        "a stream with no event for this long is forgotten (Livepeer sends no deletion)",
        default=30,
    )
    probe_timeout_seconds: float = setting(
        "PROBE_TIMEOUT_SECONDS",
        parse.seconds,
        "timeout of each diagnosis call to the Livepeer API or CDN",
        default=3.0,
    )
    metrics_token: Secret | None = setting(
        "METRICS_TOKEN",
        Secret,
        "when set, `/metrics` needs it as a bearer token",
        default=None,
        note="open",
    )
    forwarded_allow_ips: str = setting(
        "FORWARDED_ALLOW_IPS",
        str,
        "proxies (IPs or CIDRs, or `*`) whose `X-Forwarded-For` is trusted",
        default="127.0.0.1",
    )
    auth_failure_limit: int = setting(
        "AUTH_FAILURE_LIMIT",
        parse.whole_number(),
        "wrong `/api` credentials one client address may present per window before its "
        "`/api` requests get `429`; `0`: no limit",
        default=30,
    )
    auth_failure_window_seconds: int = setting(
        "AUTH_FAILURE_WINDOW_SECONDS",
        parse.whole_number(minimum=1),
        "that window, from the first failure",
        default=300,
    )
    port: int = setting("PORT", parse.whole_number(minimum=1), "listen port", default=8000)
    web_concurrency: int = setting(
        "WEB_CONCURRENCY", parse.whole_number(minimum=1), "gunicorn worker processes", default=2
    )
    threads: int = setting(
        "GUNICORN_THREADS", parse.whole_number(minimum=1), "threads per worker", default=8
    )
    log_format: str = setting(
        "LOG_FORMAT",
        parse.log_format,
        "`json` (one object per line) or `text`",
        default="json",
        note="`text` under `livepeer-webhooks dev`",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str], only: Collection[str] | None = None) -> Settings:
        """Build settings from an environment mapping; raises ConfigError naming the variable.

        With `only` (field names), only those variables are read: the other fields keep their
        defaults, and required ones not asked for are empty.
        """
        fields = dataclasses.fields(cls)
        unknown = set(only or ()) - {f.name for f in fields}
        if unknown:
            raise ValueError(f"no such settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for f in fields:
            spec = spec_of(f)
            if only is None or f.name in only:
                values[f.name] = parse.read(env, spec, f.default)
            elif spec.required:
                values[f.name] = ()  # every required setting is a list of secrets
        return cls(**values)


# Every variable Settings.from_env reads (a test holds the two together), so harnesses that
# must keep the caller's settings out of a server they start need not keep a copy.
ENV_NAMES = tuple(spec_of(f).env for f in dataclasses.fields(Settings))
