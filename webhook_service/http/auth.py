"""Bearer-token checks for /api/*: constant-time against every configured token."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from flask import current_app, request
from svcs.flask import get as service

from webhook_service.config import Secret
from webhook_service.http.errors import UnauthorizedError
from webhook_service.http.security import AuthFailureLimiter, client_bucket


def token_matches(presented: str, tokens: Sequence[Secret]) -> bool:
    """True if `presented` equals one of `tokens`; compares with all of them, in constant time."""
    candidate = presented.encode("utf-8", "surrogateescape")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(candidate, token.reveal().encode())
    return matched


def require_bearer(tokens: Sequence[Secret]) -> None:
    """Raise UnauthorizedError unless the request carries one of `tokens` as a bearer token.

    Only the Authorization header is read: a token in a query string ends up in access logs.
    """
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise UnauthorizedError("send Authorization: Bearer <OPS_API_TOKEN>")
    if not token_matches(presented.strip(), tokens):
        raise UnauthorizedError("the bearer token is not valid")


def require_ops_token() -> None:
    """`before_request` guard of the /api blueprints: one of OPS_API_TOKEN, rate-limited.

    A client address that presented wrong credentials AUTH_FAILURE_LIMIT times in the window
    gets 429 for every /api request until the window ends, a right token included: letting
    that through would tell a guesser which guess was right. A missing header guesses
    nothing and is not counted. Never applied to the ingest route (Livepeer drops on a 4xx).
    """
    limiter = service(AuthFailureLimiter)
    client = client_bucket(request.remote_addr)
    limiter.check(client)
    try:
        require_bearer(current_app.config["SETTINGS"].ops_tokens)
    except UnauthorizedError:
        if "Authorization" in request.headers:
            limiter.record_failure(client)
        raise
