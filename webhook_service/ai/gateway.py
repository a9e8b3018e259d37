"""The HTTP client `ai-check` drives its checklist (ai/checklist.py) with: an AI gateway, or
Livepeer Studio's generate API, at a base URL. Every request has a timeout; none is retried.
"""

from __future__ import annotations

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from webhook_service.ai.checklist import Answer, NoAnswerError

# The gateway is named by the operator on the command line, so these requests deliberately do
# not go through probe.Prober's host allowlist: that guards server routes against SSRF (a URL
# from a request body), and a CLI run by the operator has no such attacker.
DEFAULT_GET_TIMEOUT = 10.0
DEFAULT_POST_TIMEOUT = 30.0
MAX_BODY_BYTES = 65_536


class Gateway:
    """A gateway (or Studio's generate API) at a base URL; every request times out, none is
    retried or redirected."""

    def __init__(
        self,
        base_url: str,
        *,
        get_timeout: float = DEFAULT_GET_TIMEOUT,
        post_timeout: float = DEFAULT_POST_TIMEOUT,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.get_timeout, self.post_timeout = get_timeout, post_timeout
        self._headers = {"User-Agent": "livepeer-webhooks ai-check"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._pool = urllib3.PoolManager(retries=False)

    def url(self, pipeline: str) -> str:
        return f"{self.base_url}/{pipeline}"

    def get(self, pipeline: str) -> Answer:
        """GET the pipeline route (a live gateway answers 405: the route takes POST only)."""
        return self._send("GET", pipeline, None, None, self.get_timeout)

    def post(self, pipeline: str, body: bytes, content_type: str, *, quick: bool = False) -> Answer:
        """POST a request to the pipeline route; `quick`: a probe, on the GET's timeout."""
        timeout = self.get_timeout if quick else self.post_timeout
        return self._send("POST", pipeline, body, content_type, timeout)

    def _send(
        self, method: str, pipeline: str, body: bytes | None, ctype: str | None, timeout: float
    ) -> Answer:
        headers = dict(self._headers, **({"Content-Type": ctype} if ctype else {}))
        connect = min(timeout, DEFAULT_GET_TIMEOUT)
        limit = urllib3.Timeout(connect=connect, read=timeout)
        try:
            response = self._pool.request(
                method,
                self.url(pipeline),
                body=body,
                headers=headers,
                timeout=limit,
                redirect=False,
                preload_content=False,
            )
            try:
                content = response.read(MAX_BODY_BYTES)
            finally:
                response.close()  # not back to the pool: the rest of a long body is unread
        except ReadTimeoutError:
            raise NoAnswerError("hung", f"no answer within {timeout:g} s") from None
        except NewConnectionError as error:  # before ConnectTimeoutError: it subclasses it
            raise NoAnswerError("unreachable", _reason(error)) from None
        except ConnectTimeoutError:
            raise NoAnswerError("unreachable", f"no connection within {connect:g} s") from None
        except SSLError as error:
            raise NoAnswerError("unreachable", f"TLS failed: {_reason(error)}") from None
        except ProtocolError:
            raise NoAnswerError("unreachable", "the connection closed without an answer") from None
        except HTTPError as error:
            raise NoAnswerError("unreachable", _reason(error)) from None
        return Answer(response.status, content, response.headers.get("Content-Type"))


def _reason(error: Exception) -> str:
    text = str(error)
    if "Name or service not known" in text or "NameResolution" in type(error).__name__:
        return "DNS lookup failed"
    if "Connection refused" in text:
        return "connection refused (nothing listens on that port)"
    return text.rpartition(": ")[2][:200] or type(error).__name__
