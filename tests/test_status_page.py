"""The status page at `/` (DESIGN.md "Status page"): served with a strict CSP, and used in a real
browser (Debian's chromium driven by Playwright's Python package) against the real app over
HTTP, a real Redis and the fake Livepeer, fed real signed deliveries.

Without chromium or playwright the browser tests skip and say so; under CI=true they fail.
`UPDATE_SCREENSHOTS=1` rewrites docs/status-page.png from the run.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fake_livepeer import FAKE_API_KEY, FakeLivepeer
from helpers import SECRET, TOKEN, LiveApp, auth, delivery, make_settings, now_ms, signed

from tools import tool_missing
from webhook_service.config import Secret
from webhook_service.http.status import CONTENT_SECURITY_POLICY

ROOT = Path(__file__).resolve().parent.parent
PAGE_DIR = ROOT / "webhook_service" / "http" / "status_page"
SCREENSHOT = ROOT / "docs" / "status-page.png"
CHROMIUM = Path("/usr/bin/chromium")
# Flags that work on these machines (no sandbox as root, no calls home); Playwright adds
# --headless and, for launch(), a new empty --user-data-dir of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN_KEY = "livepeer-webhooks.ops-token"
# The receiver's words for the two refusals the fixture provokes (ingest/receiver.py).
NO_MATCH = "no v1 in Livepeer-Signature matches the body under a configured secret"
MISSING_FIELD = "createdAt: Field required"
WAIT_MS = 5000


# --- the files, without a browser -------------------------------------------------------------


def test_page_and_its_files_are_served_with_a_strict_csp(client):
    """`/`, `/status.css` and `/status.js` answer with their media types, the page's CSP (no
    inline code, this origin only, Trusted Types) and the other security headers."""
    for path, mimetype in (
        ("/", "text/html"),
        ("/status.css", "text/css"),
        ("/status.js", "text/javascript"),
    ):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == mimetype, path
        csp = response.headers.get_all("Content-Security-Policy")
        assert csp == [CONTENT_SECURITY_POLICY], path
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src", "img-src", "form-action"):
        assert directives[name] == "'self'", name
    assert directives["base-uri"] == directives["frame-ancestors"] == "'none'"
    assert directives["require-trusted-types-for"] == "'script'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY


def test_the_api_keeps_its_own_csp(client):
    """Only the page's routes carry the page's CSP; the JSON API keeps `default-src 'none'`."""
    response = client.get("/api/streams", headers=auth())
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


class _Markup(HTMLParser):
    """Collects what the CSP and the contract care about in the page's HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_code: list[str] = []
        self.form: str | None = None  # the id of the form being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.form = found.get("id") or "?"
        found["(form)"] = self.form
        self.tags.append((tag, found))
        if tag == "style" or "style" in found or any(name.startswith("on") for name in found):
            self.inline_code.append(tag)
        if tag == "script" and not found.get("src"):
            self.inline_code.append("inline <script>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.form = None


def test_page_holds_the_contract_hooks_and_no_inline_code(client):
    """The token input is `<input name="token" type="password">` inside a POST form; there is no
    inline script or style, and every file the page loads is a path on this origin."""
    markup = _Markup()
    markup.feed(client.get("/").get_data(as_text=True))
    assert not markup.inline_code
    inputs = [
        attrs for tag, attrs in markup.tags if tag == "input" and attrs.get("name") == "token"
    ]
    assert len(inputs) == 1 and inputs[0]["type"] == "password"
    assert inputs[0]["(form)"] == "login"
    (form,) = [attrs for tag, attrs in markup.tags if tag == "form" and attrs["id"] == "login"]
    assert form["method"] == "post" and form["action"] == "/"
    loaded = [a.get("src") or a.get("href") for t, a in markup.tags if t in ("script", "link")]
    assert loaded == ["/status.css", "/status.js"]


def test_script_builds_nodes_never_markup_and_asks_only_this_origin():
    """The script uses no HTML-parsing sink or eval, and names no other origin."""
    script = (PAGE_DIR / "status.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", script)
    assert "sessionStorage" in script and "localStorage" not in script
    assert not re.search(r"[?&]token=", script)


def test_the_page_files_are_package_data():
    """Every file of the page matches pyproject's package-data, so a wheel carries it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["webhook_service"]
    files = [p.relative_to(ROOT / "webhook_service").as_posix() for p in PAGE_DIR.iterdir()]
    assert {
        f"http/status_page/{name}" for name in ("index.html", "status.css", "status.js")
    } <= set(files)
    for name in files:
        assert any(fnmatch(name, pattern) for pattern in patterns), name


# --- in a real browser ----------------------------------------------------------------------------


def _why_no_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (run .ci/install-browser: apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, launched by Playwright (which downloads nothing)."""
    reason = _why_no_browser()
    if reason is not None:
        tool_missing(f"browser tests: {reason}", "run .ci/install-browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Traffic:
    """Every request the page made, and what the browser complained about."""

    origin: str
    requests: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("request", lambda request: self.requests.append(request))
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # A failed fetch logs its status (the deliveries route's 404, a wrong token's 401):
        # expected here. Anything else logged as an error is a problem, a CSP refusal first.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(message.text)

    def api_requests(self) -> list[Any]:
        return [r for r in self.requests if r.url.startswith(f"{self.origin}/api/")]

    def assert_clean(self) -> None:
        """Nothing left the origin, the token is in no URL, the browser logged no error."""
        assert self.requests
        for request in self.requests:
            assert request.url.startswith(f"{self.origin}/"), request.url
            assert TOKEN not in request.url, request.url
        for request in self.api_requests():
            assert request.headers.get("authorization") == f"Bearer {TOKEN}", request.url
        assert not self.problems, self.problems


class Site:
    """The app served over HTTP, fed real signed deliveries, with the fake Livepeer behind it."""

    def __init__(self, live: LiveApp, app: Any, fake: FakeLivepeer) -> None:
        self.live, self.app, self.fake, self.url = live, app, fake, live.url
        self.request_ids: list[str] = []  # of every delivery posted, oldest first

    def post(self, body: dict[str, Any], secret: str = SECRET) -> int:
        data, headers = signed(body, secret)
        request = urllib.request.Request(
            f"{self.url}/webhooks/livepeer", data=data, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                status, request_id = answer.status, answer.headers["X-Request-ID"]
        except urllib.error.HTTPError as error:
            status, request_id = error.code, error.headers["X-Request-ID"]
        self.request_ids.append(request_id)
        return status


LIVE_STREAM = "5f0b6a3c-9d2e-4c61-a7b4-1e2f3a4b5c6d"
IDLE_STREAM = "e81c2d47-3a90-4b5f-8c1d-9e0f1a2b3c4d"
FAILED_STREAM = "a3d9e6f1-7c24-4e8b-9f05-6a7b8c9d0e1f"


@pytest.fixture
def site(make_app, redis_url, key_prefix, fake) -> Iterator[Site]:
    """Three streams (one live, one idle with its recording, one recorded nowhere) and three
    rejected deliveries, posted over real HTTP to the app; the fake Livepeer agrees."""
    settings = make_settings(
        redis_url,
        key_prefix,
        livepeer_api_key=Secret(FAKE_API_KEY),
        livepeer_api_url=fake.url,
        livepeer_playback_url=fake.cdn_url,
        probe_timeout_seconds=1.0,
    )
    app = make_app(settings)
    live = LiveApp(app)
    site = Site(live, app, fake)
    now = now_ms()
    fake.add_stream(LIVE_STREAM, name="main stage", playbackId="mainstage0001", isActive=True)
    fake.add_stream(IDLE_STREAM, name="rehearsal", playbackId="rehearsal00001", record=True)
    fake.add_stream(FAILED_STREAM, name="backstage cam", playbackId="backstage00001")
    session = str(uuid.uuid4())
    recording = {
        "session": {
            "id": session,
            "parentId": IDLE_STREAM,
            "recordingStatus": "ready",
            "recordingUrl": f"https://livepeercdn.studio/recordings/{session}/index.m3u8",
            "mp4Url": f"https://livepeercdn.studio/recordings/{session}/source.mp4",
        }
    }
    bodies = [
        delivery("stream.started", IDLE_STREAM, now - 3_000_000),
        delivery("stream.idle", IDLE_STREAM, now - 1_200_000),
        delivery("recording.ready", IDLE_STREAM, now - 900_000, payload=recording),
        delivery("stream.started", FAILED_STREAM, now - 700_000),
        delivery("stream.idle", FAILED_STREAM, now - 400_000),
        delivery("stream.started", LIVE_STREAM, now - 95_000),
    ]
    names = {IDLE_STREAM: "rehearsal", FAILED_STREAM: "backstage cam", LIVE_STREAM: "main stage"}
    for body in bodies:
        body["stream"]["name"] = names[body["stream"]["id"]]
        body["stream"]["record"] = body["stream"]["id"] != FAILED_STREAM
        assert site.post(body) == 200
    malformed = delivery("stream.started", LIVE_STREAM)
    del malformed["createdAt"]
    assert site.post(malformed) == 400
    for _ in range(3):  # a rotation half done: the webhooks check says signature_mismatch
        assert site.post(delivery("stream.idle", LIVE_STREAM), secret="whsec-the-old-one") == 401
    yield site
    live.stop()


def _open(browser: Any, site: Site, **options: Any) -> tuple[Any, Any, Traffic]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, **options)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    traffic = Traffic(site.url)
    traffic.watch(page)
    return context, page, traffic


def _log_in(page: Any, token: str = TOKEN) -> None:
    page.locator("form input[name='token'][type='password']").fill(token)
    page.locator("#login button[type='submit']").click()


def test_page_works_without_a_token_until_it_needs_data(browser, site):
    """Without a token the page shows the service's readiness and the token form, and asks
    /api for nothing; a wrong token is refused, forgotten, and asked for again."""
    context, page, traffic = _open(browser, site)
    page.goto(site.url + "/")
    page.locator("#service.ok").wait_for()
    assert page.locator("#login-panel").is_visible() and not page.locator("#board").is_visible()
    assert not traffic.api_requests()
    _log_in(page, "not-the-token")
    page.get_by_text("The service refused this token").wait_for()
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
    assert not page.locator("#board").is_visible()
    # One request tried the token: a typo counts once toward the failed-auth limit.
    assert len(traffic.api_requests()) == 1
    assert all("not-the-token" not in r.url for r in traffic.requests)
    context.close()


def test_without_javascript_the_token_never_reaches_a_url(browser, site):
    """With scripts off, submitting the form posts the token in a body to this origin: it is
    in no URL (the answer is a 405: the page needs its script)."""
    context, page, traffic = _open(browser, site, java_script_enabled=False)
    page.goto(site.url + "/")
    with page.expect_response(f"{site.url}/") as answer:
        _log_in(page)
    assert answer.value.request.method == "POST" and answer.value.status == 405
    assert all(TOKEN not in r.url for r in traffic.requests) and TOKEN not in page.url
    context.close()


def test_operator_logs_in_finds_a_delivered_stream_and_opens_its_diagnosis(browser, site):
    """Log in, see live streams first and the rejections stand out, open a delivered stream's
    diagnosis (each verdict's code as text), with every request on this origin and the token
    only in the Authorization header; the screenshot shows what a person sees."""
    context, page, traffic = _open(browser, site)
    page.goto(site.url + "/")
    _log_in(page)

    # Streams: the live one in the Live list, the others under Idle; ids are links.
    page.locator(f"#live a.sid:text-is('{LIVE_STREAM}')").wait_for()
    page.locator(f"#idle a.sid:text-is('{IDLE_STREAM}')").wait_for()
    assert page.locator("#live tbody tr").count() == 1
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") == TOKEN

    # Delivery health: the three refused signatures show in the webhooks verdict.
    health = page.locator("#health .verdict")
    health.wait_for()
    assert health.locator(".code").inner_text() == "webhooks.signature_mismatch"

    # Deliveries, newest first, as GET /api/deliveries lists them; the refusals stand out with
    # the receiver's own words.
    rejected = page.locator("#deliveries tr.rejected")
    rejected.first.wait_for()
    assert rejected.count() == 4  # one malformed, three bad_signature
    assert rejected.filter(has_text="bad_signature").count() == 3
    assert rejected.filter(has_text=NO_MATCH).count() == 3
    assert rejected.filter(has_text=MISSING_FIELD).count() == 1
    assert page.locator("#deliveries tr:not(.rejected) a.sid").count() >= 6
    shown_ids = page.locator("#deliveries td .mono.subtle.small[title='request id']")
    assert shown_ids.all_inner_texts() == site.request_ids[::-1]

    # A delivered stream's diagnosis, opened by clicking its id (any id shown opens it).
    page.locator(f"#idle a.sid:text-is('{FAILED_STREAM}')").click()
    verdicts = page.locator("#diagnosis .verdict")
    verdicts.nth(3).wait_for()
    api = json.loads(urllib.request.urlopen(_authorised(site, FAILED_STREAM), timeout=5).read())
    shown = verdicts.locator(".code").all_inner_texts()
    assert [code.split(".")[0] for code in shown] == ["rtmp", "hls", "playback", "recording"]
    assert shown == [v["code"] for v in api["verdicts"]]
    assert "recording.not_enabled" in shown
    page.locator("#stream-facts").get_by_text("What this service knows").wait_for()
    assert page.url.endswith(f"#stream/{FAILED_STREAM}") and TOKEN not in page.url

    page.mouse.move(0, 0)
    shot = page.screenshot(full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.write_bytes(shot)
    traffic.assert_clean()
    context.close()


def _authorised(site: Site, stream_id: str) -> urllib.request.Request:
    return urllib.request.Request(f"{site.url}/api/streams/{stream_id}/diagnosis", headers=auth())


def test_the_screenshot_for_the_docs_is_kept():
    """docs/status-page.png is a PNG of a desktop-sized page (UPDATE_SCREENSHOTS=1 renews it)."""
    data = SCREENSHOT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width == 1440 and height >= 900
