"""The webhooks check's rows: status, cause and fix of each code, in the contract's order.

Formatted with `{detail}` (the row's finding). The Livepeer behaviour each rests on is in
docs/diagnosis.md.
"""

from __future__ import annotations

from webhook_service.diagnostics.verdict import Status

ROWS: dict[str, tuple[Status, str, str]] = {
    "account_suspended": (
        "fail",
        'The Livepeer account is suspended (the API answers 403 "user is suspended"): Livepeer '
        "drops every event of a suspended account, so no webhook fires.",
        "Contact Livepeer support about the suspension; nothing here can make webhooks arrive.",
    ),
    "url_not_public": (
        "fail",
        "Livepeer skips this receiver's URL: {detail}.",
        "Serve the receiver on a public hostname (a proxy, the Heroku app URL, or a tunnel such "
        "as ngrok when testing), register it as the webhook in Livepeer Studio and set PUBLIC_URL.",
    ),
    "not_registered": (
        "fail",
        "No webhook in the Livepeer project of LIVEPEER_API_KEY has the URL PUBLIC_URL: Livepeer "
        "sends a stream's events only to webhooks of the stream's own project.",
        "Create one in Livepeer Studio (in the project the streams belong to) with URL = "
        "PUBLIC_URL and the events stream.started, stream.idle and recording.ready, or correct "
        "PUBLIC_URL to the URL registered there.",
    ),
    "redirected": (
        "fail",
        "Livepeer's deliveries to our webhook are redirected ({detail}): a 301/302/303 turns "
        "Livepeer's POST into a bodyless GET that can never succeed, and a 4xx is never retried.",
        "Register the final https URL (the one that answers without a redirect, usually "
        "https://<host>/webhooks/livepeer) as the webhook's URL in Livepeer Studio, then "
        "recover the lost events with POST /api/reconcile.",
    ),
    "delivery_failing": ("fail", "Livepeer's latest deliveries to our webhook failed.", "{detail}"),
    "unsigned_deliveries": (
        "fail",
        "Recent deliveries came without a Livepeer-Signature header: the webhook has no signing "
        "secret in Livepeer Studio.",
        "Set the webhook's signing secret in Livepeer Studio and LIVEPEER_WEBHOOK_SECRET here to "
        "the same value.",
    ),
    "signature_mismatch": (
        "fail",
        "Recent deliveries failed the signature check: the webhook's secret in Livepeer Studio "
        "differs from LIVEPEER_WEBHOOK_SECRET (or a proxy rewrites the body).",
        "Copy the webhook's signing secret into LIVEPEER_WEBHOOK_SECRET (comma-separate old and "
        "new while rotating); `livepeer-webhooks verify-signature` explains a captured delivery.",
    ),
    "clock_skew": (
        "fail",
        "Recent deliveries were outside WEBHOOK_TOLERANCE_SECONDS of this host's clock.",
        "Check NTP on this host (timedatectl status; chronyc tracking) and compare its time "
        "with an accurate clock.",
    ),
    "not_subscribed": (
        "warn",
        "Our webhook is not subscribed to every event this service needs (see events_missing).",
        "Add stream.started, stream.idle and recording.ready to the webhook's events in Livepeer "
        "Studio (or PATCH /webhook/<id>), with its URL equal to PUBLIC_URL.",
    ),
    "silent": (
        "warn",
        "No delivery has been accepted for WEBHOOK_SILENT_SECONDS (or ever, see evidence).",
        "Run `livepeer-webhooks send-test-event --url PUBLIC_URL` to test the path end to end, "
        "then check the webhook's log in Livepeer Studio.",
    ),
    "ok": ("ok", "Deliveries arrive and verify.", "Nothing to fix."),
}
