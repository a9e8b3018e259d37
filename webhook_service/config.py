"""Typed settings, read once from the environment; a bad value stops startup with one line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

DEFAULT_KEY_PREFIX = "lp"
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class ConfigError(Exception):
    """Raised when the environment is missing a required value or holds an invalid one."""


class Secret:
    """A string that never shows itself in repr, str or logs; `reveal()` is the only way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _secrets(env: Mapping[str, str], name: str, purpose: str) -> tuple[Secret, ...]:
    values = tuple(Secret(part.strip()) for part in env.get(name, "").split(",") if part.strip())
    if not values:
        raise ConfigError(f"{name} is not set: {purpose}")
    return values


def _optional_secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name, "").strip()
    return Secret(value) if value else None


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _list(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    raw = env.get(name, default)
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


def _url(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    raw = env.get(name, "").strip() or default
    if raw is None:
        return None
    if not re.match(r"^https?://[^\s/]+", raw):
        raise ConfigError(f"{name} must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _redis_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("REDIS_URL", "").strip()
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        # The URL may carry a password: name the scheme only.
        scheme = raw.split(":", 1)[0][:10]
        raise ConfigError(
            f"REDIS_URL must start with redis://, rediss:// or unix://, not {scheme!r}"
        )
    return raw


def _cert_reqs(env: Mapping[str, str]) -> Literal["required", "none"]:
    raw = env.get("REDIS_SSL_CERT_REQS", "required").strip().lower() or "required"
    if raw == "required":
        return "required"
    if raw == "none":
        return "none"
    raise ConfigError(f"REDIS_SSL_CERT_REQS must be 'required' or 'none', got {raw!r}")


def _key_prefix(env: Mapping[str, str]) -> str:
    raw = env.get("REDIS_KEY_PREFIX", "").strip() or DEFAULT_KEY_PREFIX
    if not _PREFIX_RE.match(raw):
        raise ConfigError(
            f"REDIS_KEY_PREFIX must be 1-32 letters, digits, '_', '.' or '-', got {raw!r}"
        )
    return raw


# Every variable Settings.from_env reads (a test holds the two together), so harnesses that
# must keep the caller's settings out of a server they start need not keep a copy.
ENV_NAMES = (
    "LIVEPEER_WEBHOOK_SECRET",
    "OPS_API_TOKEN",
    "REDIS_URL",
    "REDIS_CLUSTER",
    "REDIS_SSL_CERT_REQS",
    "REDIS_KEY_PREFIX",
    "REDIS_TIMEOUT_SECONDS",
    "WEBHOOK_TOLERANCE_SECONDS",
    "WEBHOOK_MAX_BODY_BYTES",
    "LIVEPEER_API_KEY",
    "LIVEPEER_API_URL",
    "LIVEPEER_PLAYBACK_URL",
    "PUBLIC_URL",
    "HLS_FIRST_SEGMENT_SECONDS",
    "RECORDING_READY_TIMEOUT_SECONDS",
    "WEBHOOK_SILENT_SECONDS",
    "RTMP_INGEST_HOSTS",
    "PROBE_ALLOWED_HOSTS",
    "STREAM_RETENTION_DAYS",
    "PROBE_TIMEOUT_SECONDS",
    "METRICS_TOKEN",
    "FORWARDED_ALLOW_IPS",
    "AUTH_FAILURE_LIMIT",
    "AUTH_FAILURE_WINDOW_SECONDS",
    "PORT",
    "WEB_CONCURRENCY",
    "GUNICORN_THREADS",
)


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment, validated."""

    webhook_secrets: tuple[Secret, ...]
    ops_tokens: tuple[Secret, ...]
    # Not in repr: a Redis URL usually carries a password.
    redis_url: str | None = field(default=None, repr=False)
    redis_cluster: bool = False
    redis_ssl_cert_reqs: Literal["required", "none"] = "required"
    redis_key_prefix: str = DEFAULT_KEY_PREFIX
    redis_timeout_seconds: float = 2.0
    tolerance_seconds: int = 300
    max_body_bytes: int = 1_048_576
    livepeer_api_key: Secret | None = None
    livepeer_api_url: str = "https://livepeer.studio/api"
    livepeer_playback_url: str = "https://livepeercdn.studio"
    public_url: str | None = None
    hls_first_segment_seconds: int = 10
    recording_ready_timeout_seconds: int = 900
    webhook_silent_seconds: int = 21600
    rtmp_ingest_hosts: tuple[str, ...] = ("rtmp.livepeer.com",)
    probe_allowed_hosts: tuple[str, ...] = (
        "livepeer.studio",
        "livepeercdn.studio",
        "lp-playback.studio",
    )
    stream_retention_days: int = 30
    probe_timeout_seconds: float = 3.0
    metrics_token: Secret | None = None
    forwarded_allow_ips: str = "127.0.0.1"
    # Wrong /api credentials one client address may present per window (0: no limit).
    auth_failure_limit: int = 30
    auth_failure_window_seconds: int = 300
    port: int = 8000
    web_concurrency: int = 2
    threads: int = 8

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; raises ConfigError naming the variable."""
        return cls(
            webhook_secrets=_secrets(
                env,
                "LIVEPEER_WEBHOOK_SECRET",
                "set it to the webhook's shared secret from Livepeer Studio "
                "(comma-separate several during a rotation)",
            ),
            ops_tokens=_secrets(
                env,
                "OPS_API_TOKEN",
                "set it to the bearer token operators use for /api/* (for example the "
                "output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            ),
            redis_url=_redis_url(env),
            redis_cluster=_bool(env, "REDIS_CLUSTER", False),
            redis_ssl_cert_reqs=_cert_reqs(env),
            redis_key_prefix=_key_prefix(env),
            redis_timeout_seconds=_float(env, "REDIS_TIMEOUT_SECONDS", 2.0),
            tolerance_seconds=_int(env, "WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1),
            max_body_bytes=_int(env, "WEBHOOK_MAX_BODY_BYTES", 1_048_576, minimum=1024),
            livepeer_api_key=_optional_secret(env, "LIVEPEER_API_KEY"),
            livepeer_api_url=_url(env, "LIVEPEER_API_URL", "https://livepeer.studio/api")
            or "https://livepeer.studio/api",
            livepeer_playback_url=_url(env, "LIVEPEER_PLAYBACK_URL", "https://livepeercdn.studio")
            or "https://livepeercdn.studio",
            public_url=_url(env, "PUBLIC_URL", None),
            hls_first_segment_seconds=_int(env, "HLS_FIRST_SEGMENT_SECONDS", 10),
            recording_ready_timeout_seconds=_int(env, "RECORDING_READY_TIMEOUT_SECONDS", 900),
            webhook_silent_seconds=_int(env, "WEBHOOK_SILENT_SECONDS", 21600, minimum=1),
            rtmp_ingest_hosts=_list(env, "RTMP_INGEST_HOSTS", "rtmp.livepeer.com"),
            probe_allowed_hosts=_list(
                env,
                "PROBE_ALLOWED_HOSTS",
                "livepeer.studio,livepeercdn.studio,lp-playback.studio",
            ),
            stream_retention_days=_int(env, "STREAM_RETENTION_DAYS", 30, minimum=1),
            probe_timeout_seconds=_float(env, "PROBE_TIMEOUT_SECONDS", 3.0),
            metrics_token=_optional_secret(env, "METRICS_TOKEN"),
            forwarded_allow_ips=env.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1",
            auth_failure_limit=_int(env, "AUTH_FAILURE_LIMIT", 30),
            auth_failure_window_seconds=_int(env, "AUTH_FAILURE_WINDOW_SECONDS", 300, minimum=1),
            port=_int(env, "PORT", 8000, minimum=1),
            web_concurrency=_int(env, "WEB_CONCURRENCY", 2, minimum=1),
            threads=_int(env, "GUNICORN_THREADS", 8, minimum=1),
        )
