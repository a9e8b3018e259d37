"""How one setting is declared and read: the Secret type, the value parsers, `setting()`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, dataclass_transform, overload
from urllib.parse import quote

from webhook_service.urls import split_host_port

T = TypeVar("T")
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


_TOKEN_CHARS = r"A-Za-z0-9_\-"


def redact_tokens(text: str, values: Iterable[str]) -> str:
    """`text` with each of `values` (and its URL-quoted form) replaced by [redacted] where it
    stands as a whole token: a short secret must not garble the words around it."""
    for value in values:
        for form in {value, quote(value, safe="")} if value else ():
            edge = rf"(?<![{_TOKEN_CHARS}]){re.escape(form)}(?![{_TOKEN_CHARS}])"
            text = re.sub(edge, "[redacted]", text)
    return text


# Parsers. Each gets a stripped, non-empty value (empty means unset: the default) and returns
# it typed, or raises ValueError with the rest of the sentence "<VARIABLE> must be ...".


def whole_number(minimum: int = 0) -> Callable[[str], int]:
    """A parser of whole numbers no smaller than `minimum`."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"must be a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"must be greater than 0, got {raw!r}")
    return value


def flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"must be true or false, got {lowered!r}")


def hosts(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


def allowed_hosts(raw: str) -> tuple[str, ...]:
    """PROBE_ALLOWED_HOSTS: comma-separated `host` or `host:port` entries, normalised."""
    entries = (split_host_port(part) for part in raw.split(",") if part.strip())
    return tuple(f"{host}:{port}" if port else host for host, port in entries)


def secrets(raw: str) -> tuple[Secret, ...]:
    return tuple(Secret(part.strip()) for part in raw.split(",") if part.strip())


def http_url(raw: str) -> str:
    if not re.match(r"^https?://[^\s/]+", raw):
        raise ValueError(f"must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        # The URL may carry a password: name the scheme only.
        scheme = raw.split(":", 1)[0][:10]
        raise ValueError(f"must start with redis://, rediss:// or unix://, not {scheme!r}")
    return raw


def cert_reqs(raw: str) -> Literal["required", "none"]:
    lowered = raw.lower()
    if lowered == "required":
        return "required"
    if lowered == "none":
        return "none"
    raise ValueError(f"must be 'required' or 'none', got {lowered!r}")


def key_prefix(raw: str) -> str:
    if not _PREFIX_RE.match(raw):
        raise ValueError(f"must be 1-32 letters, digits, '_', '.' or '-', got {raw!r}")
    return raw


def log_format(raw: str) -> str:
    # Not refused: an unknown format logs JSON (telemetry.logs), and check-config warns.
    return raw.lower()


@dataclass(frozen=True)
class Spec:
    """What one Settings field reads (its dataclasses metadata): variable, parser, doc."""

    env: str
    parse: Callable[[str], Any]
    doc: str
    required: str = ""  # for a required field: what to set it to, said when it is missing
    note: str = ""  # what the default means, for the docs table


@overload
def setting(env: str, parse: Callable[[str], T], doc: str, *, required: str) -> T: ...
@overload
def setting(
    env: str, parse: Callable[[str], T], doc: str, *, default: T, note: str = "", repr: bool = True
) -> T: ...
def setting(
    env: str,
    parse: Callable[[str], Any],
    doc: str,
    *,
    default: Any = dataclasses.MISSING,
    required: str = "",
    note: str = "",
    repr: bool = True,
) -> Any:
    """Declare a Settings field: its variable, parser, default (none: required) and doc."""
    spec = Spec(env, parse, doc, required, note)
    return dataclasses.field(default=default, repr=repr, metadata={"setting": spec})


def spec_of(f: dataclasses.Field[Any]) -> Spec:
    spec = f.metadata["setting"]
    assert isinstance(spec, Spec)
    return spec


def read(env: Mapping[str, str], spec: Spec, default: Any) -> Any:
    """One variable, parsed; empty or unset gives the default. Raises ConfigError."""
    raw = env.get(spec.env, "").strip()
    try:
        value = spec.parse(raw) if raw else default
    except ValueError as error:
        raise ConfigError(f"{spec.env} {error}") from None
    if spec.required and not (raw and value):  # unset, or only commas and spaces
        raise ConfigError(f"{spec.env} is not set: {spec.required}")
    return value


# A frozen dataclass, declared so type checkers treat `setting` as they treat `field`: a field
# without `default=` is required, and each default is checked against its field's type.
@dataclass_transform(frozen_default=True, field_specifiers=(setting,))
def settings_class(cls: type[T]) -> type[T]:
    """Make `cls` the frozen dataclass of settings declared with `setting(...)`."""
    return dataclass(frozen=True)(cls)
