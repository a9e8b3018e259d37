"""Heroku Redis: rediss:// against a real TLS redis-server with a self-signed certificate.

Heroku Redis serves TLS with a self-signed certificate, so `REDIS_SSL_CERT_REQS=none` must
work, while the default `required` must refuse that server with an error that says why.
The servers here listen on TLS only (`--port 0`): every command in these tests went over TLS.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import shutil
import subprocess
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from helpers import SECRET, TOKEN, auth, delivery, free_port, post_delivery
from redisproc import wait_for_ping

from tools import tool_missing
from webhook_service.config import Settings
from webhook_service.ingest.events import parse_delivery
from webhook_service.ingest.stream_update import build_update
from webhook_service.store import StorageError, Store, connect
from webhook_service.telemetry.logs import JsonFormatter

PASSWORD = "heroku-pw-Zq8xT3vL"
WRONG_PASSWORD = "wrong-pw-Kd5nR2sW"
START_TIMEOUT_SECONDS = 10.0


# A real TLS redis-server ----------------------------------------------------------------------
@dataclass(frozen=True)
class TlsRedis:
    """A running redis-server that speaks TLS only, with the self-signed certificate `cert`."""

    port: int
    cert: Path
    password: str | None

    def url(self, password: str | None = None) -> str:
        auth_part = f":{password}@" if password else ""
        return f"rediss://{auth_part}127.0.0.1:{self.port}/0"

    def trusting_client(self) -> redis.Redis:
        """A client that trusts the certificate explicitly (for setup and cleanup only)."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            ssl=True,
            ssl_cert_reqs="required",
            ssl_ca_certs=str(self.cert),
            socket_connect_timeout=1,
            socket_timeout=1,
        )


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, valid now, signed by its own key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "redis.crt", directory / "redis.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _start_tls_redis(directory: Path, password: str | None) -> Iterator[TlsRedis]:
    """Start redis-server on TLS only, yield it once it answers, stop it afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        tool_missing("redis-server is not on PATH for the rediss:// tests", "apt-get install redis")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = _self_signed_certificate(directory)
    for _attempt in range(3):  # free_port() can race with another process taking the port
        server = TlsRedis(free_port(), cert, password)
        log_path = directory / f"redis-{server.port}.log"
        args = [
            binary,
            "--bind", "127.0.0.1",
            "--port", "0",
            "--tls-port", str(server.port),
            "--tls-cert-file", str(cert),
            "--tls-key-file", str(key),
            "--tls-ca-cert-file", str(cert),
            "--tls-auth-clients", "no",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
        ]  # fmt: skip
        if password:
            args += ["--requirepass", password]
        with log_path.open("wb") as log:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            if wait_for_ping(process, server.trusting_client, START_TIMEOUT_SECONDS):
                yield server
                return
        finally:
            _stop(process)
        output = log_path.read_text(errors="replace")
        if "Bad directive" in output and "tls" in output:
            tool_missing(f"{binary} was built without TLS support", "Debian's redis has it")
        if "Address already in use" not in output:
            pytest.fail(f"redis-server with TLS did not start:\n{output[-2000:]}")
    pytest.fail("redis-server with TLS found no free port in 3 attempts")


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """A TLS-only redis-server without a password, private to this module."""
    yield from _start_tls_redis(tmp_path_factory.mktemp("tls-redis"), password=None)


@pytest.fixture(scope="module")
def tls_redis_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """A TLS-only redis-server with `requirepass`, like Heroku Redis."""
    yield from _start_tls_redis(tmp_path_factory.mktemp("tls-redis-pw"), password=PASSWORD)


def _cleanup(server: TlsRedis, prefix: str) -> None:
    client = server.trusting_client()
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def prefix(tls_redis: TlsRedis) -> Iterator[str]:
    """A key prefix of this test's own on the TLS server; its keys are deleted afterwards."""
    value = f"lptls-{uuid.uuid4().hex[:10]}"
    yield value
    _cleanup(tls_redis, value)


@pytest.fixture
def pw_prefix(tls_redis_with_password: TlsRedis) -> Iterator[str]:
    """The same, on the password-protected TLS server."""
    value = f"lptls-{uuid.uuid4().hex[:10]}"
    yield value
    _cleanup(tls_redis_with_password, value)


# Helpers ----------------------------------------------------------------------------------------
def env_for(url: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "LIVEPEER_WEBHOOK_SECRET": SECRET,
        "OPS_API_TOKEN": TOKEN,
        "REDIS_URL": url,
        "REDIS_KEY_PREFIX": prefix,
        **extra,
    }


def settings_for(url: str, prefix: str, **extra: str) -> Settings:
    return Settings.from_env(env_for(url, prefix, **extra))


@pytest.fixture
def app_client(make_app):
    """A test client of an app built on `settings` (closed after the test)."""
    return lambda settings: make_app(settings).test_client()


@pytest.fixture
def check_config(runner):
    """Run `livepeer-webhooks check-config` with exactly these settings (others unset)."""
    unset: dict[str, str | None] = {
        name: None
        for name in ("REDIS_SSL_CERT_REQS", "REDIS_CLUSTER", "LIVEPEER_API_KEY", "PUBLIC_URL")
    }
    return lambda env: runner.invoke(["check-config"], env={**unset, **env})


def apply_event(store: Store, stream_id: str, event_id: str) -> bool:
    """Apply a real stream.started through the production parse/build path; True if duplicate."""
    now = time.time_ns() // 1_000_000
    body = {
        "id": event_id,
        "event": "stream.started",
        "timestamp": now,
        "createdAt": now - 100,
        "stream": {"id": stream_id, "name": "heroku", "playbackId": "pbheroku"},
    }
    update = build_update(parse_delivery(json.dumps(body).encode()), received_at_ms=now)
    return store.apply(update).duplicate


def redis_fail_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("FAIL redis:")]


# REDIS_SSL_CERT_REQS=none: Heroku's self-signed certificate is accepted -------------------------
def test_store_over_tls_with_cert_reqs_none(tls_redis, prefix):
    """With REDIS_SSL_CERT_REQS=none a rediss:// Store pings, applies an event, reads it back."""
    settings = settings_for(tls_redis.url(), prefix, REDIS_SSL_CERT_REQS="none")
    assert settings.redis_ssl_cert_reqs == "none"
    store = Store(connect(settings), prefix)

    assert store.ping() is True
    assert apply_event(store, "tls-s1", "tls-e1") is False
    assert apply_event(store, "tls-s1", "tls-e1") is True  # dedupe works over TLS too
    stream = store.get_stream("tls-s1")
    assert stream is not None
    assert stream["state"] == "active" and stream["name"] == "heroku"
    assert [e["id"] for e in store.stream_events("tls-s1", 10)] == ["tls-e1"]


def test_app_over_tls_with_cert_reqs_none(app_client, tls_redis, prefix):
    """The whole app accepts a signed delivery and is ready over rediss:// with cert reqs none."""
    client = app_client(settings_for(tls_redis.url(), prefix, REDIS_SSL_CERT_REQS="none"))
    body = delivery(stream_id="tls-app")

    response = post_delivery(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"id": body["id"], "event": "stream.started", "duplicate": False}
    assert client.get("/readyz").status_code == 200
    stream = client.get("/api/streams/tls-app", headers=auth())
    assert stream.status_code == 200 and stream.get_json()["state"] == "active"


def test_check_config_passes_with_cert_reqs_none(tls_redis, prefix, check_config):
    """check-config pings the self-signed TLS server when REDIS_SSL_CERT_REQS=none."""
    result = check_config(env_for(tls_redis.url(), prefix, REDIS_SSL_CERT_REQS="none"))
    assert result.exit_code == 0, result.output
    assert "ok   redis: PING answered" in result.output


# Default `required`: the same server is refused, with an error that says why ---------------------
def test_default_cert_reqs_refuses_self_signed_server_quickly_and_clearly(tls_redis, prefix):
    """With the default `required` PING fails fast with a StorageError naming the certificate."""
    settings = settings_for(tls_redis.url(), prefix)
    assert settings.redis_ssl_cert_reqs == "required"
    store = Store(connect(settings), prefix)

    started = time.monotonic()
    with pytest.raises(StorageError) as excinfo:
        store.ping()
    assert time.monotonic() - started < 5
    message = str(excinfo.value)
    assert "certificate verification failed" in message
    assert "REDIS_SSL_CERT_REQS=none" in message


def test_default_cert_reqs_app_is_not_ready(app_client, tls_redis, prefix, caplog):
    """/readyz is 503 and a delivery 503 + Retry-After; the log line names the certificate."""
    caplog.set_level(logging.WARNING)
    client = app_client(settings_for(tls_redis.url(), prefix))

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.content_type == "application/problem+json"
    posted = post_delivery(client, delivery(stream_id="tls-refused"))
    assert posted.status_code == 503 and posted.headers.get("Retry-After")
    assert any("certificate verification failed" in r.getMessage() for r in caplog.records)


def test_check_config_fails_on_self_signed_certificate(tls_redis, prefix, check_config):
    """check-config exits 1 with a FAIL redis line that mentions the certificate."""
    result = check_config(env_for(tls_redis.url(), prefix))
    assert result.exit_code == 1, result.output
    [line] = redis_fail_lines(result.output)
    assert "certificate" in line and "REDIS_SSL_CERT_REQS" in line


# The password in a rediss:// URL never shows ---------------------------------------------------
def test_heroku_shaped_url_with_password_works_with_cert_reqs_none(
    tls_redis_with_password, pw_prefix
):
    """rediss://:password@host with cert reqs none authenticates and stores, like on Heroku."""
    url = tls_redis_with_password.url(PASSWORD)
    settings = settings_for(url, pw_prefix, REDIS_SSL_CERT_REQS="none")
    store = Store(connect(settings), pw_prefix)
    assert store.ping() is True
    assert apply_event(store, "tls-pw", "tls-pw-e1") is False
    assert store.get_stream("tls-pw") is not None


@pytest.mark.parametrize(
    ("password", "cert_reqs"),
    [(PASSWORD, "required"), (WRONG_PASSWORD, "none")],
    ids=["certificate-refused", "wrong-password"],
)
def test_password_never_appears_in_errors_or_logs(
    app_client, tls_redis_with_password, pw_prefix, caplog, check_config, password, cert_reqs
):
    """A rediss:// URL's password is in no error message, traceback, response, log or CLI line."""
    caplog.set_level(logging.DEBUG)
    env = env_for(tls_redis_with_password.url(password), pw_prefix, REDIS_SSL_CERT_REQS=cert_reqs)
    settings = Settings.from_env(env)
    shown: list[str] = []

    with pytest.raises(StorageError) as excinfo:
        Store(connect(settings), pw_prefix).ping()
    shown.append(str(excinfo.value))
    shown.append("".join(traceback.format_exception(excinfo.value)))

    client = app_client(settings)
    for response in (
        client.get("/readyz"),
        post_delivery(client, delivery(stream_id="tls-pw-leak")),
        client.get("/api/streams", headers=auth()),
    ):
        assert response.status_code == 503
        shown.append(response.get_data(as_text=True))
        shown.append(str(response.headers))

    result = check_config(env)
    assert result.exit_code == 1
    [fail_line] = redis_fail_lines(result.output)
    shown.append(result.output)

    formatter = JsonFormatter()
    shown.extend(formatter.format(record) for record in caplog.records)

    if cert_reqs == "required":
        assert "certificate" in str(excinfo.value) and "certificate" in fail_line
    assert any("storage unavailable" in r.getMessage() for r in caplog.records)
    leaks = [text for text in shown if password in text]
    assert not leaks, f"the Redis password leaked into: {leaks}"
