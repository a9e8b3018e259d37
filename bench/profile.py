"""Profile the ingest path under load with py-spy, and summarise where the CPU goes.

py-spy samples every gunicorn worker (all threads, idle ones excluded) while wrk drives ingest;
the collapsed stacks are kept under bench/results/ and summarised here as inclusive and self
shares per function, plus shares of a few named buckets (logging, metrics, Redis client, ...)
that map onto the optimisation proposals in bench/README.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Areas a sample is charged to. The outermost frame matching a "container" claims the sample
# (JSON encoding inside the log formatter is the log line's cost, socket calls inside redis-py
# are the Redis client's); otherwise the innermost frame's package decides.
CONTAINERS: tuple[tuple[str, str], ...] = (
    (
        "request log line (logging + JSON formatter)",
        r"^_log \(webhook_service/telemetry/requests|\(logging/",
    ),
    ("prometheus metrics", r"\(prometheus_client/"),
    ("Redis client (redis-py, sockets)", r"\(redis/"),
    ("pydantic validation", r"\(pydantic"),
    ("signature (HMAC)", r"\(webhook_service/ingest/signature\.py|\(hmac\.py"),
    ("gunicorn access-log atoms (discarded)", r"^Logger\.access \(gunicorn/glogging"),
)
INNERMOST: tuple[tuple[str, str], ...] = (
    ("service code (parse, scrub, update, hooks)", r"\(webhook_service/"),
    ("json encode/decode", r"\(json/"),
    ("werkzeug request/response", r"\(werkzeug/"),
    ("flask dispatch", r"\(flask/"),
    ("gunicorn worker (accept, parse, write)", r"\(gunicorn/"),
)
OTHER = "other (threads, selectors, uuid, stdlib)"


def classify(frames: list[str]) -> str:
    """The area a stack (outermost first) is charged to."""
    for frame in frames:
        for label, pattern in CONTAINERS:
            if re.search(pattern, frame):
                return label
    for frame in reversed(frames):
        for label, pattern in INNERMOST:
            if re.search(pattern, frame):
                return label
    return OTHER


def find_py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).parent / "py-spy")
        if (Path(sys.executable).parent / "py-spy").exists()
        else None
    )


def start(pids: list[int], seconds: float, out_dir: Path, rate: int = 200) -> list[Path]:
    """Start py-spy on each pid (non-blocking sampling); returns the output paths."""
    spy = find_py_spy()
    if spy is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    paths = []
    for pid in pids:
        path = out_dir / f"profile-{pid}.collapsed"
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, round(seconds))),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--nonblocking",
                "--gil",  # Python CPU only: socket calls (GIL released) are not sampled
                "-o",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        paths.append(path)
    return paths


_FRAME_FILE = re.compile(r"\((?:.*/site-packages/|.*/lib/python3\.\d+/|.*/work/[^/]+/)?(.*)\)$")


def _short(frame: str) -> str:
    """`func (path:line)` -> `func (file)` with site-packages and stdlib prefixes dropped."""
    frame = re.sub(r":\d+\)$", ")", frame.strip())
    return _FRAME_FILE.sub(lambda m: f"({m.group(1)})", frame)


def summarise(paths: list[Path], top: int = 25) -> dict[str, object]:
    """Inclusive/self shares per function and per bucket, over the non-idle samples."""
    inclusive: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_short(f) for f in stack.split(";") if f.strip()]
            # Thread roots ("process 123:...", "thread (0x...)") are not code.
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
            if not frames:
                continue
            total += count
            for name in set(frames):
                inclusive[name] += count
            self_[frames[-1]] += count
            buckets[classify(frames)] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "inclusive_pct": share(inclusive),
        "self_pct": share(self_),
        "bucket_pct": {k: round(100 * v / total, 1) for k, v in buckets.most_common()}
        if total
        else {},
    }
