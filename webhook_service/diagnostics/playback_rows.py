"""The playback check's rows: status, cause and fix of each code, in the contract's order.

Formatted with the values `playback._verdict` gives: stream, playback_id, sub, exp, fingerprint,
webhook, url, problem. The Livepeer behaviour each rests on is in docs/diagnosis.md.
"""

from __future__ import annotations

from webhook_service.diagnostics.verdict import Status

ROWS: dict[str, tuple[Status, str, str]] = {
    "content_unavailable": (
        "fail",
        "Livepeer's gate answers 404 \"Content not found\" to every viewer of stream '{stream}', "
        "whatever its policy: {problem}.",
        "Restore the stream (or the account) in Livepeer Studio, or give viewers a stream that "
        "exists; a deleted stream cannot be played again.",
    ),
    "no_api_key": (
        "unknown",
        "The playback policy is unknown: no LIVEPEER_API_KEY, and no delivery carried it.",
        "Set LIVEPEER_API_KEY (or wait for the stream's next delivery) and run the check again.",
    ),
    "origin_not_allowed": (
        "fail",
        "The viewer's page is on {problem}, which is not in the stream's "
        "playbackPolicy.allowedOrigins: Livepeer's gate answers 403 \"origin not in allowed "
        'origins", whatever the policy type.',
        "Add the page's origin exactly as browsers send it (scheme://host[:port], no path, no "
        "trailing slash) to playbackPolicy.allowedOrigins (PATCH /stream/{stream}), or play it "
        "from an allowed origin.",
    ),
    "origin_restricted": (
        "warn",
        "Stream '{stream}' has no access control, but its playbackPolicy.allowedOrigins limits "
        "where it plays: a browser on any other origin gets 403 (see evidence.allowed_origins).",
        "Run the check again with the page's origin (POST .../diagnosis/playback with "
        '{{"origin": "https://your.site"}}), or add "*" to allowedOrigins.',
    ),
    "public": (
        "ok",
        "Stream '{stream}' has no access control (policy public) and no origin restriction "
        "refuses the viewer: a 403 comes from elsewhere.",
        "Look at the account's concurrent-viewer limit (30 on the free tier) and in front of the "
        "player (a proxy, your own CDN or signed URLs); if the player gets 404, the account may "
        "be disabled (over a usage limit). Run the hls check.",
    ),
    "jwt_required": (
        "warn",
        "Stream '{stream}' plays only with a signed JWT, and no token was given to check.",
        "Run the check again with the viewer's token in the Livepeer-Jwt header (or POST it as "
        '"jwt", or the player\'s whole "url").',
    ),
    "jwt_malformed": (
        "fail",
        "The token is not one Livepeer's edge accepts: {problem}.",
        "Sign an ES256 JWT with the signing key's private key and the claims sub (playback id), "
        "pub (the key's publicKey exactly as Livepeer shows it) and exp, e.g. with signAccessJwt.",
    ),
    "jwt_expired": (
        "fail",
        "The token is outside the time the edge accepts: {problem}.",
        "Issue tokens that expire at most 7 days ahead, from a server whose clock is right "
        "(check NTP), and refresh them before exp.",
    ),
    "jwt_wrong_playback_id": (
        "fail",
        "The token's sub is '{sub}', but the stream's playback id is '{playback_id}'.",
        "Sign the token with sub set to the stream's playbackId (GET /stream/{stream}).",
    ),
    "jwt_bad_signature": (
        "fail",
        "The token's signature does not verify with the key in its pub claim: it was signed "
        "with another private key, or altered.",
        "Sign with the private key of the signing key whose publicKey is in pub, and pass the "
        "token on unmodified.",
    ),
    "jwt_key_disabled": (
        "fail",
        "The token's pub key ({fingerprint}) is a signing key of this project, but it is "
        'disabled: Livepeer\'s gate answers 403 "The public key is disabled or deleted".',
        "Enable the key (PATCH /access-control/signing-key/<id> with "
        '{{"disabled": false}}) or sign tokens with an enabled key.',
    ),
    "jwt_unknown_key": (
        "warn",
        "The token's pub key ({fingerprint}) is not a signing key of the project of "
        "LIVEPEER_API_KEY{problem}. Livepeer accepts a key of another project of the same "
        "account, and refuses a deleted key or another account's.",
        "Check which project created this key (Livepeer Studio, Developers -> Signing keys of "
        "each project) and that it was not deleted; copy its publicKey text exactly into pub.",
    ),
    "jwt_valid": (
        "ok",
        "The token verifies with its pub key, has sub '{sub}' and expires at {exp}{problem}.",
        "Nothing to fix in the token; check that the player sends it (jwt query parameter or "
        "Livepeer-Jwt header) and run the hls check.",
    ),
    "access_key_missing": (
        "fail",
        "The policy is webhook, and the viewer's request carries no access key: Livepeer's gate "
        'answers 403 "requires an access key" before the webhook is ever called.',
        "Make the player send the key: the accessKey query parameter of the playback URL, or a "
        "Livepeer-Access-Key header (if it does, give the key as access_key and check again).",
    ),
    "webhook_missing": (
        "fail",
        "The policy is webhook, but the access-control webhook {webhook} does not exist.",
        "Create a playback.accessControl webhook and PATCH /stream/{stream} with its id in "
        "playbackPolicy.webhookId, or make the policy public.",
    ),
    "webhook_points_here": (
        "fail",
        "The access-control webhook {webhook} calls this receiver ({url}), which cannot decide "
        "who may watch: every viewer is denied.",
        "Point the access-control webhook at your own service that answers "
        "playback.accessControl (2xx allows); keep this receiver for stream events.",
    ),
    "webhook_failing": (
        "fail",
        "The access-control webhook {webhook} is failing now ({problem}): viewers are denied.",
        "Make {url} answer 2xx within about 2 s (its logs show why it failed), then retry "
        "playback; Livepeer caches decisions for 120 s.",
    ),
    "webhook_ok": (
        "ok",
        "The access-control webhook {webhook} exists and is not failing: denials are its own.",
        "Read that service's logs for the viewer's playback.accessControl call: a non-2xx, a "
        'body like {{"ret": 403}} or an answer slower than ~2 s denies.',
    ),
}
