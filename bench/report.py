"""The summary table printed at the end of a run, and the targets judged from the results."""

from __future__ import annotations

from typing import Any

FLOOR_NAMES = {
    "wsgi": "floor: bare WSGI",
    "redis": "floor: WSGI + 1 PING",
    "naive": "naive receiver",
}


def _ok(passed: bool | None) -> str:
    return "info" if passed is None else ("PASS" if passed else "MISS")


def _statuses(operators: list[dict[str, Any]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for run in operators:
        for status, n in run.get("statuses", {}).items():
            total[status] = total.get(status, 0) + n
    return total


def _lagged(run: dict[str, Any]) -> bool:
    """The open-loop generator sent late (a starved harness process), so latency is suspect."""
    return bool(run.get("dispatch_lag_p99_ms", 0) > 2.0)


def _server(m: dict[str, Any]) -> str:
    """gunicorn's version, worker class and sizing (results before issue 16 name no class)."""
    return f"gunicorn {m['gunicorn']} {m.get('worker', 'gthread')} {m['workers']}x{m['threads']}"


def verdicts(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each issue-6 target: the measured value, the target and whether it was met."""
    parts = result["parts"]
    out: dict[str, dict[str, Any]] = {}
    if tp := parts.get("throughput"):
        out["throughput_ratio"] = {
            "value": tp["ratio"],
            "target": f">= {tp['target_ratio']}",
            "met": tp["ratio"] >= tp["target_ratio"],
        }
        if "naive_ratio" in tp:
            out["naive_receiver_ratio"] = {
                "value": tp["naive_ratio"],
                "target": f">= {tp['target_naive_ratio']} (stretch {tp['stretch_naive_ratio']})",
                "met": tp["naive_ratio"] >= tp["target_naive_ratio"],
            }
        if "ping_floor_ratio" in tp:
            out["ping_floor_ratio"] = {
                "value": tp["ping_floor_ratio"],
                "target": f">= {tp['target_ping_floor_ratio']}",
                "met": tp["ping_floor_ratio"] >= tp["target_ping_floor_ratio"],
            }
    if lat := parts.get("latency"):
        p99 = lat["service"]["p99_ms"]
        out["moderate_load_p99_ms"] = {
            "value": p99,
            "target": f"< {lat['target_p99_ms']} at {lat['rate']} req/s",
            "met": p99 < lat["target_p99_ms"],
        }
        if own := lat.get("service_at_half_own_max"):
            out["p99_ms_at_half_the_service_max"] = {
                "value": own["p99_ms"],
                "target": f"context: {own['rate']} req/s, the service's own half load",
                "met": None,
            }
    if rw := parts.get("redis_work"):
        out["redis_round_trips_per_event"] = {
            "value": rw["round_trips_per_event"],
            "target": "1 (one EVALSHA)",
            "met": rw["round_trips_per_event"] <= 1.05
            and abs(rw["top_level_commands_per_event"] - 1) < 0.01,
        }
    if sc := parts.get("scale"):
        worst = max(max(e["paired_ratio"].values()) for e in sc["sizes"].values())
        out["scale_worst_paired_ratio"] = {
            "value": worst,
            "target": f"<= {sc['target_ratio']} (p50 vs the smallest size, paired)",
            "met": worst <= sc["target_ratio"],
        }
        drift = max(max(e["ratio_vs_first"].values()) for e in sc["sizes"].values())
        out["scale_worst_ratio_vs_first"] = {
            "value": drift,
            "target": "context: same, unpaired (includes the machine's drift)",
            "met": None,
        }
    if mem := parts.get("memory"):
        realistic = mem["realistic"]["bounded_bytes"]
        worst_case = mem["worst_case_8KiB_payloads"]["bounded_bytes"]
        out["memory_per_full_stream"] = {
            "value": realistic,
            "target": "< 128 KiB realistic; < 1.25 MiB with 8 KiB payloads",
            "met": realistic < 128 * 1024 and worst_case < 1.25 * 1024 * 1024,
        }
    for run in (parts.get("slow_clients") or {}).get("runs", []):
        if run["slow_connections"]:
            out[f"slow_clients_{run['slow_connections']}_p99_ms"] = {
                "value": run["p99_ms"],
                "target": f"< {run['target_p99_ms']:.0f}, every delivery 200",
                "met": run["p99_ms"] < run["target_p99_ms"] and not run["not_200"],
            }
    if iso := parts.get("isolation"):
        out["isolation_p99_ratio"] = {
            "value": iso["p99_ratio"],
            "target": f"<= {iso['target_ratio']}",
            "met": iso["p99_ratio"] <= iso["target_ratio"],
        }
    return out


def errors(result: dict[str, Any]) -> int:
    """Failed requests anywhere in the run (each part must have none)."""
    parts = result["parts"]
    total = 0
    if tp := parts.get("throughput"):
        total += tp["baseline"]["errors"] + tp["service"]["errors"]
        total += sum(tp[f"floor_{k}"]["errors"] for k in tp.get("floor_ratios", {}))
    for name in ("latency",):
        for run in (parts.get(name) or {}).values():
            if isinstance(run, dict) and "errors" in run:
                total += run["errors"]
    if iso := parts.get("isolation"):
        total += iso["with"]["errors"] + iso["without"]["errors"]
    total += sum(r["not_200"] for r in (parts.get("slow_clients") or {}).get("runs", []))
    if log := parts.get("logging"):
        total += log["with_log"]["errors"] + log["without_log"]["errors"]
    if sc := parts.get("scale"):
        for entry in sc["sizes"].values():
            total += sum(k["errors"] for k in entry["kinds"].values())
            total += sum(k["errors"] for k in entry.get("reference", {}).values())
    return total


def slowclients_row(run: dict[str, Any]) -> str:
    return (
        f"   {run['slow_connections']:>4} slow (held {run['held_at_end']}, re-opened "
        f"{run['slow_reopened']}): {run['deliveries']} deliveries, p50 {run['p50_ms']:.1f}, "
        f"p99 {run['p99_ms']:.1f}, max {run['max_ms']:.1f} ms, not 200: {run['not_200']}"
    )


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    parts = result["parts"]
    lines = [
        "",
        "livepeer-webhooks bench"
        + (" (quick)" if result.get("args", {}).get("quick") else "")
        + f" - {m['nproc']} cores {m['cpu']}, Python {m['python']}, Redis {m.get('redis')}, "
        + _server(m)
        + ", "
        f"load avg {m['load_avg_start'][0]} -> {result.get('load_avg_end', ['?'])[0]}, "
        f"{result.get('seconds', 0):.0f} s",
    ]
    if tp := parts.get("throughput"):
        b, s = tp["baseline"], tp["service"]
        lines += [
            "",
            f"1. Ingest throughput: wrk, {tp['connections']} connections, "
            f"{len(tp['rounds']['service'])} round(s) per app, medians",
            f"   {'':24}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
            f"{'server CPU':>12}{'Redis CPU':>11}  (us per request)",
        ]
        rows = [("baseline (bare Flask)", b), ("service (ingest)", s)]
        rows += [(FLOOR_NAMES[k], tp[f"floor_{k}"]) for k in tp.get("floor_ratios", {})]
        for name, row in rows:
            lines.append(
                f"   {name:24}{row['rps']:>8.0f}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
                f"{row['errors']:>8}{row['server_cpu_us_per_req']:>12.0f}"
                f"{row['redis_cpu_us_per_req']:>11.0f}"
            )
        lines.append(
            f"   ratio service/baseline: {tp['ratio']:.2f} req/s (target >= {tp['target_ratio']})"
            f"; CPU per request baseline/(service+Redis): {tp['cpu_ratio']:.2f}"
        )
        if floors := tp.get("floor_ratios"):
            lines.append(
                "   floors/baseline: "
                + ", ".join(
                    f"{FLOOR_NAMES[k].split(': ')[-1]} {v:.2f}"
                    for k, v in floors.items()
                    if k != "naive"  # not a floor: what a user would write instead
                )
                + " (the most any ingest could reach with its one Redis round trip: see README)"
            )
        if "ping_floor_ratio" in tp:
            lines.append(
                f"   service / WSGI + 1 PING: {tp['ping_floor_ratio']:.2f} req/s "
                f"(target >= {tp['target_ping_floor_ratio']}; the fastest ingest that keeps the "
                "contract's one round trip)"
            )
        if "naive_ratio" in tp:
            lines.append(
                f"   service / naive receiver: {tp['naive_ratio']:.2f} req/s "
                f"(target >= {tp['target_naive_ratio']}, stretch {tp['stretch_naive_ratio']}; "
                "HMAC, JSON, SET NX + HSET pipelined)"
            )
        lines.append(
            f"   wrk used {100 * s['wrk_cores']:.0f}% (service) / {100 * b['wrk_cores']:.0f}% "
            "(baseline) of one core: not the bottleneck; "
            f"service outcomes {s.get('outcomes')}"
        )
    if lat := parts.get("latency"):
        lines += [
            "",
            f"2. Latency at moderate load: open loop, {lat['rate']:.0f} req/s "
            "(half the baseline's throughput)",
        ]
        rows = [("baseline", lat["baseline"]), ("service", lat["service"])]
        if "service_at_half_own_max" in lat:
            own = lat["service_at_half_own_max"]
            rows.append((f"service @ {own['rate']:.0f} req/s", own))
        for name, row in rows:
            lines.append(
                f"   {name:24} achieved {row['achieved_rps']:>6.0f} req/s  p50 {row['p50_ms']:6.2f}"
                f"  p90 {row['p90_ms']:6.2f}  p99 {row['p99_ms']:7.2f}  max {row['max_ms']:7.1f} ms"
                f"  errors {row['errors']}  (generator lag p99 {row['dispatch_lag_p99_ms']:.1f} ms"
                + ("; the generator lagged: latencies overstated)" if _lagged(row) else ")")
            )
    if rw := parts.get("redis_work"):
        script = ", ".join(
            f"{k} {v:g}" for k, v in rw["by_command"].items() if k not in ("evalsha", "eval")
        )
        lines += [
            "",
            f"3. Redis per accepted event ({rw['events']} events): "
            f"{rw['round_trips_per_event']:.2f} round trips, "
            f"{rw['top_level_commands_per_event']:.2f} top-level commands "
            f"(evalsha {rw['by_command'].get('evalsha', 0):g}), "
            f"{rw['script_commands_per_event']:.1f} commands inside the scripts:",
            f"   {script}",
        ]
    if sc := parts.get("scale"):
        lines += [
            "",
            "4. Scale: sequential requests; p50 ms (ratio vs the first size: paired with a 1k "
            "reference service / unpaired)",
        ]
        sizes = sc["sizes"]
        kinds = list(next(iter(sizes.values()))["kinds"])
        lines.append(f"   {'streams':>9}" + "".join(f"{k:>26}" for k in kinds) + "  bytes/stream")
        for size, entry in sizes.items():
            cells = "".join(
                f"{entry['kinds'][k]['p50_ms']:.2f} ({entry['paired_ratio'][k]:.2f} / "
                f"{entry['ratio_vs_first'][k]:.2f})".rjust(26)
                for k in kinds
            )
            lines.append(f"   {int(size):>9,}{cells}  {entry['bytes_per_stream_added']:>8}")
    if mem := parts.get("memory"):
        r, w = mem["realistic"], mem["worst_case_8KiB_payloads"]
        lines += [
            "",
            f"   Memory per stream, full timeline ({r['timeline_len']} events, "
            f"{r['sessions_len']} sessions): realistic {r['bounded_bytes'] / 1024:.0f} KiB "
            f"(events {r['events_bytes'] / 1024:.0f}, sessions {r['sessions_bytes'] / 1024:.0f}, "
            f"timeline {r['timeline_bytes'] / 1024:.0f}, hash {r['stream_bytes']} B); "
            f"worst case (8 KiB payloads) {w['bounded_bytes'] / 1024:.0f} KiB; "
            f"plus {r['bytes_per_claim']} B per dedupe claim (one per event, "
            f"{mem['claim_ttl_days']:.0f} days)",
        ]
    if iso := parts.get("isolation"):
        ops = iso["operators"][-1] if iso["operators"] else {}
        lines += [
            "",
            f"5. Isolation: ingest at {iso['rate']:.0f} req/s; 8 operators on "
            "/diagnosis/hls against a CDN answering after 2 s",
            f"   {len(iso['runs']['with'])} rounds pooled; without: p50 "
            f"{iso['without']['p50_ms']:.2f}, p99 {iso['without']['p99_ms']:.2f}, max "
            f"{iso['without'].get('max_ms', 0):.0f} ms; with: p50 {iso['with']['p50_ms']:.2f}, "
            f"p99 {iso['with']['p99_ms']:.2f}, max {iso['with'].get('max_ms', 0):.0f} ms; "
            f"p99 ratio {iso['p99_ratio']:.2f} (target <= {iso['target_ratio']})",
            f"   operators got {_statuses(iso['operators'])} "
            f"(median diagnosis {ops.get('median_s', 0):.1f} s)",
        ]
        if "round_ratios" in iso:
            rounds = iso["round_p99_ms"]
            lines.append(
                f"   per round p99 without {rounds['without']} / with {rounds['with']} ms: "
                f"ratios {iso['round_ratios']}; rounds without operators differ up to "
                f"{iso['without_spread']:.2f}x among themselves (the machine's noise); service "
                f"CPU {iso['server_cores']['without']} / {iso['server_cores']['with']} cores"
            )
    if slow := parts.get("slow_clients"):
        runs = slow["runs"]
        lines += [
            "",
            f"7. Slow clients: signed deliveries, open loop at {runs[0]['rate']:.0f}/s, each on a"
            f" new connection, while N unauthenticated connections dribble headers or a body or"
            f" send nothing (re-opened when closed); p99 target < {slow['target_p99_ms']:.0f} ms",
        ]
        lines += [slowclients_row(run) for run in runs]
    if log := parts.get("logging"):
        w, wo = log["with_log"], log["without_log"]
        share = log["log_cpu_us_per_req"] / max(w["server_cpu_us_per_req"], 1)
        lines += [
            "",
            f"6. Request log line (service with / without it, same launcher, "
            f"{len(log['runs']['with_log'])} alternating rounds each, wrk): server CPU "
            f"{w['server_cpu_us_per_req']:.0f} / {wo['server_cpu_us_per_req']:.0f} us per request "
            f"(the line: {log['log_cpu_us_per_req']:+.0f} us, {100 * share:+.0f}%); "
            f"{w['rps']:.0f} / {wo['rps']:.0f} req/s",
        ]
    if prof := parts.get("profile"):
        lines += ["", f"Profile ({prof['samples']} GIL samples): share of worker time by area"]
        for label, pct in prof["bucket_pct"].items():
            lines.append(f"   {pct:5.1f}%  {label}")
    lines += ["", "Targets:"]
    for name, v in result.get("targets", {}).items():
        value = v["value"]
        shown = f"{value:.3g}" if isinstance(value, float) else value
        lines.append(f"   {_ok(v['met']):5} {name}: {shown} (target {v['target']})")
    lines.append(f"   errors in the run: {errors(result)} (must be 0)")
    return "\n".join(lines) + "\n"
