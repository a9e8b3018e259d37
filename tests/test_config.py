"""Settings from the environment: required values, validation, and secrets that hide themselves."""

from __future__ import annotations

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
