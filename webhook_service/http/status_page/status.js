// The status page's script: reads the JSON API (docs/api.md) and draws it. No framework, no build.
//
// Rules this file keeps (tests/test_status_page.py checks them in a real browser):
// - The ops token lives in sessionStorage and travels only as `Authorization: Bearer`, never in
//   a URL. A 401 forgets it.
// - Every node is built with textContent: the page's CSP turns on Trusted Types, so an HTML
//   string in a DOM sink would throw, and data (stream names, rejection details) stays text.
// - Only this origin is ever asked (CSP connect-src 'self' holds it too).
"use strict";

(() => {
  const TOKEN_KEY = "livepeer-webhooks.ops-token";
  const REFRESH_MS = 15000;
  const HEALTH_EVERY = 4; // the webhooks check may call the Livepeer API: every 4th refresh
  const STREAMS_PER_PAGE = 20;
  const DELIVERIES_PER_PAGE = 50;
  const STREAM_ID = /^[A-Za-z0-9_-]{1,128}$/;
  const REJECTED = new Set([
    "bad_signature", "stale", "malformed", "too_large", "wrong_method", "storage_error",
  ]);
  const WARNING_OUTCOMES = new Set(["wrong_method"]);

  const $ = (selector, root = document) => root.querySelector(selector);

  /** An element with attributes and children; strings become text nodes, never markup. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  // --- the token ---------------------------------------------------------------------------

  const token = {
    get: () => sessionStorage.getItem(TOKEN_KEY),
    set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
    forget: () => sessionStorage.removeItem(TOKEN_KEY),
  };

  class ApiError extends Error {
    constructor(status, detail, retryAfter) {
      super(detail);
      this.status = status;
      this.detail = detail;
      this.retryAfter = retryAfter;
    }
  }

  /** GET a JSON API path with the bearer token; a 401 forgets the token and asks for it. */
  async function api(path) {
    const bearer = token.get();
    if (!bearer) {
      showLogin("");
      throw new ApiError(401, "no token");
    }
    let response;
    try {
      response = await fetch(path, {
        headers: { Authorization: `Bearer ${bearer}`, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
    } catch {
      throw new ApiError(0, "the service did not answer");
    }
    if (response.ok) return response.json();
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail || detail;
    } catch {
      // not problem+json: keep the status text
    }
    if (response.status === 401) signOut(`The service refused this token: ${detail}.`);
    throw new ApiError(response.status, detail, response.headers.get("Retry-After"));
  }

  /** One sentence for a panel when its request failed. */
  function explain(error, what) {
    if (!(error instanceof ApiError)) return `${what}: ${error}`;
    const wait = error.retryAfter ? ` Retry in ${error.retryAfter} s.` : "";
    if (error.status === 0) return `${what}: the service did not answer (network error).`;
    if (error.status === 429) {
      return `Too many wrong tokens from this address: /api refuses it for now.${wait}`;
    }
    if (error.status === 503) return `${what}: ${error.detail} (503).${wait}`;
    return `${what}: ${error.status} ${error.detail}`;
  }

  // --- small views ---------------------------------------------------------------------------

  function ago(iso) {
    const seconds = (Date.now() - Date.parse(iso)) / 1000;
    if (!Number.isFinite(seconds)) return "";
    if (seconds < 0) return "in the future";
    if (seconds < 60) return `${Math.round(seconds)} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) {
      return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min ago`;
    }
    return `${Math.floor(seconds / 86400)} d ago`;
  }

  function clock(iso) {
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return "";
    const text = when.toISOString();
    const today = new Date().toISOString().slice(0, 10);
    return text.slice(0, 10) === today ? text.slice(11, 19) : `${text.slice(5, 10)} ${text.slice(11, 19)}`;
  }

  const when = (iso, text) => (iso ? el("time", { datetime: iso, title: iso }, text) : "—");
  const chip = (kind, text, title) => el("span", { class: `chip ${kind}`, title }, text);
  const statusChip = (status) => chip(status, status.toUpperCase());
  /** A stream id as the link that opens its diagnosis (clicked again: diagnosed again). */
  const streamLink = (id) => el("a", {
    href: `#stream/${id}`,
    class: "sid",
    onclick: (event) => {
      if (window.location.hash !== `#stream/${id}`) return;
      event.preventDefault();
      diagnose(id);
    },
  }, id);

  function setMessage(panel, text, kind = "") {
    const node = $("[data-message]", panel);
    node.textContent = text || "";
    node.className = `message ${kind}`;
    node.hidden = !text;
  }

  /** A verdict: check, status, its code as text, cause, fix, and the evidence folded. */
  function verdictCard(verdict) {
    const evidence = verdict.evidence && Object.keys(verdict.evidence).length
      ? el("details", {}, el("summary", {}, "evidence"),
        el("pre", {}, JSON.stringify(verdict.evidence, null, 2)))
      : null;
    return el("article", { class: `verdict ${verdict.status}`, "data-code": verdict.code },
      el("header", {},
        el("span", { class: "check" }, verdict.check),
        statusChip(verdict.status),
        el("code", { class: "code" }, verdict.code)),
      el("p", { class: "cause" }, verdict.cause),
      el("p", { class: "fix" }, el("b", {}, "Fix: "), verdict.fix),
      evidence);
  }

  /** Paging by cursor: the cursors of the pages seen, so "newer" goes back one. */
  function pager(nav, state, reload) {
    const page = state.cursors.length;
    const newer = el("button", {
      type: "button", disabled: page === 1,
      onclick: () => { state.cursors.pop(); reload(); },
    }, "‹ Newer");
    const older = el("button", {
      type: "button", disabled: !state.next,
      onclick: () => { state.cursors.push(state.next); reload(); },
    }, "Older ›");
    const first = page > 2
      ? el("button", { type: "button", onclick: () => { state.cursors = [null]; reload(); } }, "« Newest")
      : null;
    nav.replaceChildren(first || "", newer, el("span", { class: "subtle" }, `page ${page}`), older);
  }

  const newPaging = () => ({ cursors: [null], next: null });

  // --- streams -----------------------------------------------------------------------------

  const streamLists = {
    live: { state: "active", paging: newPaging() },
    idle: { state: "idle", paging: newPaging() },
  };

  function recordingCell(stream) {
    const session = (stream.sessions || [])[0];
    if (!session) return "—";
    const status = session.recording_status;
    const kind = { ready: "ok", waiting: "warn", failed: "fail", deleted: "fail" }[status] || "unknown";
    return [el("span", { class: "mono subtle", title: session.id }, session.id.slice(0, 8)), " ",
      status ? chip(kind, status) : el("span", { class: "subtle" }, "no recording event")];
  }

  function streamRow(stream) {
    const live = stream.state === "active";
    return el("tr", { class: stream.id === selected ? "selected" : null, "data-stream": stream.id },
      el("td", {}, streamLink(stream.id), stream.name ? el("div", { class: "name" }, stream.name) : null),
      el("td", {}, live ? chip("live", "LIVE") : chip("idle", "idle")),
      el("td", {}, el("span", { class: "mono" }, stream.last_event || "—"), " ",
        el("span", { class: "subtle nowrap" }, when(stream.last_event_at, ago(stream.last_event_at)))),
      el("td", {}, recordingCell(stream)),
      el("td", {}, stream.record === null ? "—" : stream.record ? "on" : "off"),
      el("td", {}, stream.playback_policy || "—"));
  }

  async function loadStreams(name) {
    const list = streamLists[name];
    const panel = $(`#${name}`);
    const cursor = list.paging.cursors[list.paging.cursors.length - 1];
    const query = new URLSearchParams({ state: list.state, limit: String(STREAMS_PER_PAGE) });
    if (cursor) query.set("cursor", cursor);
    try {
      const page = await api(`/api/streams?${query}`);
      list.paging.next = page.next_cursor;
      $("tbody", panel).replaceChildren(...page.streams.map(streamRow));
      $("[data-count]", panel).textContent = page.streams.length
        ? `${page.streams.length}${page.next_cursor ? "+" : ""}` : "";
      setMessage(panel, page.streams.length ? "" : name === "live"
        ? "No stream is live (by the webhooks this service received)." : "No idle stream.");
      $("table", panel).hidden = !page.streams.length;
    } catch (error) {
      setMessage(panel, explain(error, "Streams"), "error");
    }
    pager($(".pager", panel), list.paging, () => loadStreams(name));
  }

  // --- deliveries ----------------------------------------------------------------------------

  const deliveries = { paging: newPaging() };

  function deliveryRow(delivery) {
    const rejected = REJECTED.has(delivery.outcome);
    const kind = WARNING_OUTCOMES.has(delivery.outcome) ? "warn"
      : rejected ? "fail" : delivery.outcome === "accepted" ? "ok" : "unknown";
    const why = [
      rejected ? el("span", { class: "mono reason" }, delivery.reason || delivery.outcome) : null,
      delivery.detail ? el("div", { class: rejected ? "detail" : "subtle" }, delivery.detail) : null,
      // The request id finds the delivery's log line (docs/operations.md "Logs").
      el("div", { class: "mono subtle small", title: "request id" }, delivery.request_id || ""),
    ];
    return el("tr", { class: rejected ? `rejected ${kind}` : null },
      el("td", { class: "mono nowrap" }, when(delivery.at, clock(delivery.at)),
        el("div", { class: "subtle small" }, ago(delivery.at))),
      el("td", {}, chip(kind, delivery.outcome)),
      el("td", { class: "mono" }, delivery.event || "—"),
      el("td", { class: "stream" }, delivery.stream_id ? streamLink(delivery.stream_id) : "—"),
      el("td", { class: "why" }, why),
      el("td", { class: "mono subtle small" }, delivery.remote_addr || ""));
  }

  function tally(rows) {
    const counts = new Map();
    for (const row of rows) counts.set(row.outcome, (counts.get(row.outcome) || 0) + 1);
    const parts = [...counts].sort((a, b) => b[1] - a[1]).map(([outcome, count]) =>
      el("span", { class: REJECTED.has(outcome) ? "bad" : "" }, `${count} ${outcome}`));
    const joined = parts.flatMap((part, i) => (i ? [" · ", part] : [part]));
    return rows.length ? [`This page: `, ...joined] : [];
  }

  async function loadDeliveries() {
    const panel = $("#deliveries");
    const cursor = deliveries.paging.cursors[deliveries.paging.cursors.length - 1];
    const query = new URLSearchParams({ limit: String(DELIVERIES_PER_PAGE) });
    const outcome = $("#outcome").value;
    if (outcome) query.set("outcome", outcome);
    if (cursor) query.set("cursor", cursor);
    try {
      const page = await api(`/api/deliveries?${query}`);
      deliveries.paging.next = page.next_cursor;
      $("tbody", panel).replaceChildren(...page.deliveries.map(deliveryRow));
      $("#tally").replaceChildren(...tally(page.deliveries));
      $("table", panel).hidden = !page.deliveries.length;
      setMessage(panel, page.deliveries.length ? "" : "No delivery recorded yet.");
    } catch (error) {
      $("tbody", panel).replaceChildren();
      $("#tally").replaceChildren();
      $("table", panel).hidden = true;
      setMessage(panel, error.status === 404
        ? "This service does not list deliveries yet (GET /api/deliveries answered 404: an older "
          + "version). Delivery health shows recent rejections; so does the metric "
          + "livepeer_webhooks_total by outcome."
        : explain(error, "Deliveries"), error.status === 404 ? "notice" : "error");
    }
    pager($(".pager", panel), deliveries.paging, loadDeliveries);
  }

  // --- delivery health ------------------------------------------------------------------------

  async function loadHealth() {
    const panel = $("#health");
    try {
      const verdict = await api("/api/diagnosis/webhooks");
      $(".verdicts", panel).replaceChildren(verdictCard(verdict));
      setMessage(panel, "");
      document.title = `${verdict.status.toUpperCase()} · livepeer-webhooks status`;
    } catch (error) {
      setMessage(panel, explain(error, "Delivery health"), "error");
    }
  }

  // --- one stream's diagnosis -------------------------------------------------------------------

  let selected = null; // the stream id whose diagnosis is shown
  let asked = 0; // answers to an older question are dropped

  function factsView(stream, events) {
    if (stream === undefined) return []; // could not be read: the verdicts say why
    if (stream === null) {
      return [el("p", { class: "subtle" },
        "This service never received an event of this stream: the verdicts come from the "
        + "Livepeer API alone (a stream whose pushes are rejected sends no event).")];
    }
    const rows = [
      ["name", stream.name], ["playback id", stream.playback_id], ["state", stream.state],
      ["last event", stream.last_event
        ? [stream.last_event, " ", el("span", { class: "subtle" }, ago(stream.last_event_at))] : null],
      ["record", stream.record === null ? null : String(stream.record)],
      ["playback policy", stream.playback_policy],
    ];
    const sessions = (stream.sessions || []).slice(0, 3).map((s) => el("li", {},
      el("span", { class: "mono" }, s.id), " ", s.recording_status || "no recording event",
      s.recording_url ? el("div", { class: "mono small wrap" }, s.recording_url) : null,
      s.mp4_url ? el("div", { class: "mono small wrap" }, s.mp4_url) : null));
    const timeline = events.map((e) => el("li", {},
      el("span", { class: "mono" }, e.event), " ",
      el("span", { class: "subtle" }, when(e.created_at, ago(e.created_at)))));
    return [
      el("h3", {}, "What this service knows"),
      el("dl", { class: "facts" }, rows.flatMap(([name, value]) =>
        [el("dt", {}, name), el("dd", {}, value === null || value === undefined ? "—" : value)])),
      sessions.length ? [el("h3", {}, "Sessions (newest first)"), el("ul", { class: "plain" }, sessions)] : null,
      timeline.length ? [el("h3", {}, "Latest events"), el("ul", { class: "plain" }, timeline)] : null,
    ];
  }

  async function diagnose(streamId) {
    const panel = $("#diagnosis");
    const question = ++asked;
    selected = streamId;
    for (const row of document.querySelectorAll("tr[data-stream]")) {
      row.classList.toggle("selected", row.dataset.stream === streamId);
    }
    $("#stream-id").value = streamId;
    $("#diagnosis-stream").replaceChildren(streamId);
    $("#diagnosis-status").replaceChildren();
    $(".verdicts", panel).replaceChildren();
    $("#stream-facts").replaceChildren();
    setMessage(panel, "Diagnosing… (asks the Livepeer API and the CDN: a few seconds)", "busy");
    const id = encodeURIComponent(streamId);
    // Neither rejects: null is "never sent an event" (404), undefined "could not be read".
    const known = api(`/api/streams/${id}`).catch((error) => (error.status === 404 ? null : undefined));
    const events = api(`/api/streams/${id}/events?limit=10`).then((page) => page.events, () => []);
    const top = panel.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight) panel.scrollIntoView({ block: "start" });
    try {
      const diagnosis = await api(`/api/streams/${id}/diagnosis`);
      if (question !== asked) return;
      $("#diagnosis-status").replaceChildren(statusChip(diagnosis.status));
      $(".verdicts", panel).replaceChildren(...diagnosis.verdicts.map(verdictCard),
        el("button", { type: "button", onclick: () => diagnose(streamId) }, "Diagnose again"));
      setMessage(panel, "");
    } catch (error) {
      if (question !== asked) return;
      setMessage(panel, explain(error, "Diagnosis"), "error");
      $(".verdicts", panel).replaceChildren(
        el("button", { type: "button", onclick: () => diagnose(streamId) }, "Try again"));
    }
    const [stream, timeline] = await Promise.all([known, events]);
    if (question === asked) {
      $("#stream-facts").replaceChildren(...factsView(stream, timeline).flat().filter(Boolean));
    }
  }

  function route() {
    const match = /^#stream\/(.+)$/.exec(window.location.hash);
    const streamId = match ? match[1] : null; // a stream id needs no decoding (STREAM_ID)
    if (streamId && STREAM_ID.test(streamId) && token.get()) diagnose(streamId);
  }

  // --- the page ----------------------------------------------------------------------------------

  let refreshes = 0;
  let refreshing = false;

  async function readiness() {
    const node = $("#service");
    try {
      const response = await fetch("/readyz", { cache: "no-store", credentials: "omit" });
      const ready = response.ok;
      node.className = `chip ${ready ? "ok" : "fail"}`;
      node.textContent = ready ? "service ready" : "Redis down: deliveries get 503";
    } catch {
      node.className = "chip fail";
      node.textContent = "service unreachable";
    }
  }

  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const work = [readiness()];
      if (token.get()) {
        work.push(loadStreams("live"), loadStreams("idle"), loadDeliveries());
        if (refreshes % HEALTH_EVERY === 0) work.push(loadHealth());
        refreshes += 1;
      }
      await Promise.all(work);
      $("#updated").textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
    } finally {
      refreshing = false;
    }
  }

  function showLogin(message, kind = "error") {
    $("#login-panel").hidden = false;
    $("#board").hidden = true;
    for (const node of document.querySelectorAll("[data-needs-token]")) node.hidden = true;
    $("#login-message").textContent = message || "";
    $("#login-message").className = `message ${kind}`;
    $("#token").focus();
  }

  function showBoard() {
    $("#login-panel").hidden = true;
    $("#board").hidden = false;
    for (const node of document.querySelectorAll("[data-needs-token]")) node.hidden = false;
  }

  /** Forget the token and every piece of data drawn with it. */
  function signOut(message, kind = "error") {
    token.forget();
    document.title = "livepeer-webhooks status";
    selected = null;
    asked += 1;
    for (const body of document.querySelectorAll("#board tbody, #board .verdicts, #stream-facts, #tally")) {
      body.replaceChildren();
    }
    showLogin(message, kind);
  }

  function start() {
    $("#login").addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = $("#token").value.trim();
      $("#token").value = "";
      if (!value) return;
      token.set(value);
      // One request tries the token first: a mistyped one then counts once toward the
      // failed-auth limit (AUTH_FAILURE_LIMIT), not once per panel. A 401 asks again; any
      // other failure (Redis down, 429) is for the panels to explain.
      try {
        await api("/api/streams?limit=1");
      } catch (error) {
        if (error.status === 401) return;
      }
      refreshes = 0;
      showBoard();
      refresh().then(route);
    });
    $("#diagnose").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("#stream-id").value.trim();
      if (!STREAM_ID.test(value)) {
        setMessage($("#diagnosis"), "A stream id is letters, digits, - and _.", "error");
        return;
      }
      if (window.location.hash === `#stream/${value}`) diagnose(value);
      else window.location.hash = `#stream/${value}`;
    });
    $("#signout").addEventListener("click", () => signOut("Token forgotten.", ""));
    $("#refresh").addEventListener("click", () => { refreshes = 0; refresh(); });
    $("#outcome").addEventListener("change", () => { deliveries.paging = newPaging(); loadDeliveries(); });
    window.addEventListener("hashchange", route);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && $("#auto").checked) refresh();
    });
    setInterval(() => {
      if ($("#auto").checked && !document.hidden) refresh();
    }, REFRESH_MS);

    if (token.get()) {
      showBoard();
      refresh().then(route);
    } else {
      showLogin("");
      readiness();
    }
  }

  start();
})();
