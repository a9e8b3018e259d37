"""Settings from the environment: required values, validation, and secrets that hide themselves."""

from __future__ import annotations

import dataclasses

import pytest

from webhook_service.config import ENV_NAMES, ConfigError, Secret, Settings

BASE = {"LIVEPEER_WEBHOOK_SECRET": "s1, s2 ,", "OPS_API_TOKEN": "t1"}


def test_defaults_and_lists():
    """Comma-separated secrets become several; defaults match the documented table."""
    settings = Settings.from_env(BASE)
    assert [s.reveal() for s in settings.webhook_secrets] == ["s1", "s2"]
    assert settings.tolerance_seconds == 300 and settings.max_body_bytes == 1_048_576
    assert settings.redis_url is None and settings.redis_ssl_cert_reqs == "required"
    assert settings.rtmp_ingest_hosts == ("rtmp.livepeer.com",)
    assert settings.port == 8000 and settings.web_concurrency == 2


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OPS_API_TOKEN": "t"}, "LIVEPEER_WEBHOOK_SECRET"),
        ({"LIVEPEER_WEBHOOK_SECRET": " , ", "OPS_API_TOKEN": "t"}, "LIVEPEER_WEBHOOK_SECRET"),
        ({"LIVEPEER_WEBHOOK_SECRET": "s"}, "OPS_API_TOKEN"),
        ({**BASE, "REDIS_URL": "http://x"}, "REDIS_URL"),
        ({**BASE, "REDIS_CLUSTER": "maybe"}, "REDIS_CLUSTER"),
        ({**BASE, "REDIS_SSL_CERT_REQS": "optional"}, "REDIS_SSL_CERT_REQS"),
        ({**BASE, "WEBHOOK_TOLERANCE_SECONDS": "5m"}, "WEBHOOK_TOLERANCE_SECONDS"),
        ({**BASE, "WEBHOOK_MAX_BODY_BYTES": "10"}, "WEBHOOK_MAX_BODY_BYTES"),
        ({**BASE, "PORT": "0"}, "PORT"),
        ({**BASE, "PUBLIC_URL": "ftp://x"}, "PUBLIC_URL"),
        ({**BASE, "REDIS_KEY_PREFIX": "a{b}"}, "REDIS_KEY_PREFIX"),
        ({**BASE, "REDIS_TIMEOUT_SECONDS": "0"}, "REDIS_TIMEOUT_SECONDS"),
        ({**BASE, "PROBE_TIMEOUT_SECONDS": "soon"}, "PROBE_TIMEOUT_SECONDS"),
        ({**BASE, "STREAM_RETENTION_DAYS": "0"}, "STREAM_RETENTION_DAYS"),
        ({**BASE, "GUNICORN_THREADS": "many"}, "GUNICORN_THREADS"),
        ({**BASE, "LIVEPEER_API_URL": "livepeer.studio"}, "LIVEPEER_API_URL"),
    ],
)
def test_bad_environment_names_the_variable(env, named):
    """Each missing or invalid value raises ConfigError with one line naming the variable."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(named) and "\n" not in str(caught.value)


def test_redis_url_password_is_not_echoed():
    """A bad REDIS_URL error names the scheme, never the URL with its password."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**BASE, "REDIS_URL": "redis-ish://:hunter2@host"})
    assert "hunter2" not in str(caught.value)


def test_settings_repr_hides_secrets():
    """repr(settings) shows no secret, token or API key."""
    settings = Settings.from_env(
        {
            **BASE,
            "LIVEPEER_API_KEY": "api-key-x",
            "METRICS_TOKEN": "mt-y",
            "REDIS_URL": "rediss://:redis-pw-z@host:6380",
        }
    )
    text = repr(settings) + str(settings.webhook_secrets)
    assert "redis-pw-z" not in text
    for secret in ("s1", "s2", "t1", "api-key-x", "mt-y"):
        assert f"'{secret}'" not in text and secret not in text.replace("Secret", "")
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


class ReadRecorder(dict):
    """An environment that notes every name looked up in it."""

    def __init__(self, values):
        super().__init__(values)
        self.read = set()

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)


def test_env_names_are_exactly_what_settings_read():
    """config.ENV_NAMES (which test and bench harnesses keep out of the servers they start)
    lists every variable from_env reads, and nothing else."""
    env = ReadRecorder({"LIVEPEER_WEBHOOK_SECRET": "s", "OPS_API_TOKEN": "t"})
    Settings.from_env(env)
    assert env.read == set(ENV_NAMES)
    assert len(ENV_NAMES) == len(set(ENV_NAMES))


def test_from_env_with_nothing_set_gives_the_declared_defaults():
    """Each default is declared once: from_env with only the required values equals direct
    construction with the same values."""
    secrets = {"webhook_secrets": (Secret("s1"), Secret("s2")), "ops_tokens": (Secret("t1"),)}
    assert Settings.from_env(BASE) == Settings(**secrets)
    assert Settings.from_env(BASE).log_format == "json"


@pytest.mark.parametrize("name", [n for n in ENV_NAMES if n not in BASE])
def test_an_empty_value_means_the_default(name):
    """A variable set to blanks counts as unset: the declared default applies."""
    assert Settings.from_env({**BASE, name: "  "}) == Settings.from_env(BASE)


def test_every_field_declares_one_variable():
    """Each Settings field names its variable, a parser and a one-line doc; names are unique."""
    fields = dataclasses.fields(Settings)
    specs = [f.metadata["setting"] for f in fields]
    assert [s.env for s in specs] == list(ENV_NAMES) and len(ENV_NAMES) == len(fields)
    assert all(s.doc and "\n" not in s.doc and callable(s.parse) for s in specs)
    assert "LOG_FORMAT" in ENV_NAMES


def test_required_fields_stay_required_in_direct_construction():
    """Settings(...) without the secrets or the tokens is a TypeError, as before."""
    with pytest.raises(TypeError):
        Settings(webhook_secrets=(Secret("s"),))


@pytest.mark.parametrize(
    ("only", "env", "expected"),
    [
        (("tolerance_seconds",), {"WEBHOOK_TOLERANCE_SECONDS": "60"}, {"tolerance_seconds": 60}),
        (("port",), {"PORT": "9000"}, {"port": 9000, "webhook_secrets": (), "ops_tokens": ()}),
        (
            ("webhook_secrets",),
            {"LIVEPEER_WEBHOOK_SECRET": "a,b"},
            {"webhook_secrets": (Secret("a"), Secret("b")), "ops_tokens": ()},
        ),
        (("redis_url",), {"REDIS_URL": "redis://h:1/0"}, {"redis_url": "redis://h:1/0"}),
    ],
)
def test_only_reads_the_named_fields(only, env, expected):
    """from_env(only=...) reads those variables and no other; the rest keep their defaults, and
    required ones not asked for are empty."""
    bad_elsewhere = {n: "not-valid-anywhere" for n in ENV_NAMES} | env
    recorder = ReadRecorder(bad_elsewhere)
    settings = Settings.from_env(recorder, only=only)
    field_env = {f.name: f.metadata["setting"].env for f in dataclasses.fields(Settings)}
    assert recorder.read == {field_env[name] for name in only}
    for name, value in expected.items():
        assert getattr(settings, name) == value
    assert settings.stream_retention_days == 30 and settings.log_format == "json"


def test_only_still_requires_what_it_asks_for():
    """A required field named in `only` must be set."""
    with pytest.raises(ConfigError, match="^LIVEPEER_WEBHOOK_SECRET is not set"):
        Settings.from_env({"OPS_API_TOKEN": "t"}, only=("webhook_secrets",))


def test_only_with_an_unknown_field_name_is_a_programming_error():
    """A misspelt field name in `only` raises ValueError, not a silent default."""
    with pytest.raises(ValueError, match="no such settings: prot"):
        Settings.from_env(BASE, only=("prot",))


@pytest.mark.parametrize(("raw", "value"), [("json", "json"), ("TEXT", "text"), ("xml", "xml")])
def test_log_format(raw, value):
    """LOG_FORMAT is read case-insensitively; an unknown one is kept (check-config warns)."""
    assert Settings.from_env({**BASE, "LOG_FORMAT": raw}).log_format == value
