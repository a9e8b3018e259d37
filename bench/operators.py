"""Isolation helpers, each its own process so their threads never share a GIL with the load
generator:

  python -m bench.operators slow-cdn --port P --delay 2
      a CDN that answers every GET after `delay` seconds: an HLS master playlist naming one
      rendition, and the rendition with a few segments (so a diagnosis makes two slow calls).

  BENCH_OPS_TOKEN=T python -m bench.operators diagnose --port P --stream S --concurrency 8
      operators: `concurrency` threads, each looping GET /api/streams/S/diagnosis/hls on a new
      connection (as curl does) until SIGTERM; then prints one JSON line of what they got.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MASTER = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/index.m3u8\n"
RENDITION = (
    b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n"
    + b"".join(b"#EXTINF:2.000,\n%d.ts\n" % i for i in range(1, 4))
)


def serve_slow_cdn(port: int, delay: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the http.server naming
            time.sleep(delay)
            body = MASTER if self.path.endswith("/index.m3u8") and "/hls/" in self.path else b""
            if "360p" in self.path:
                body = RENDITION
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.apple.mpegurl")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


def run_operators(port: int, token: str, stream: str, concurrency: int) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lock = threading.Lock()
    statuses: dict[str, int] = {}
    durations: list[float] = []

    def operator() -> None:
        path = f"/api/streams/{stream}/diagnosis/hls"
        while not stop.is_set():
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                response.read()
                status = str(response.status)
                # A busy service says when to come back; an operator would wait that long.
                retry_after = response.getheader("Retry-After")
            except OSError as error:
                status, retry_after = type(error).__name__, None
            finally:
                conn.close()
            if retry_after and retry_after.isdigit():
                stop.wait(min(int(retry_after), 5))
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                durations.append(time.perf_counter() - started)

    threads = [threading.Thread(target=operator, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=15)
    durations.sort()
    median = durations[len(durations) // 2] if durations else 0.0
    sys.stdout.write(
        json.dumps({"statuses": statuses, "completed": len(durations), "median_s": median}) + "\n"
    )
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cdn = sub.add_parser("slow-cdn")
    cdn.add_argument("--port", type=int, required=True)
    cdn.add_argument("--delay", type=float, default=2.0)
    ops = sub.add_parser("diagnose")
    ops.add_argument("--port", type=int, required=True)
    ops.add_argument("--stream", required=True)
    ops.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.command == "slow-cdn":
        serve_slow_cdn(args.port, args.delay)
    else:
        run_operators(args.port, os.environ["BENCH_OPS_TOKEN"], args.stream, args.concurrency)


if __name__ == "__main__":
    main()
