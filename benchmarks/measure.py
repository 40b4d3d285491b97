"""How the sections measure: summary statistics, timed requests, paired samples and wrk.

Requests are made as a browser would (kept-alive, browser ``Accept-Encoding``, body read as
sent); ``paired_samples`` alternates two calls so noise hits both alike; ``run_wrk`` runs wrk
and ``parse_wrk`` reads its output.
"""

from __future__ import annotations

import json
import math
import random
import re
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from benchmarks.config import BROWSER_ENCODINGS, CONNECTIONS, CONVERSATION, USER
from benchmarks.servers import connections_per_process


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def page_url(base: str, **extra: Any) -> str:
    return f"{base}/chat?" + urlencode({"user_id": USER, "conversation_id": CONVERSATION,
                                        **extra})


def direct_call(session: requests.Session, upstream: str, limit: int) -> None:
    """One POST straight to the fake, body read to the end (not parsed)."""
    body = json.dumps({"user_id": USER, "conversation_id": CONVERSATION,
                       "message_limit_number": limit})
    response = session.post(upstream + "/get/message", data=body, stream=True, timeout=30,
                            headers={"Content-Type": "application/json"})
    response.raw.read(decode_content=False)
    if response.status_code != 200:
        raise RuntimeError(f"the fake upstream answered {response.status_code}")


def page_load(session: requests.Session, url: str) -> None:
    """One page as a browser asks for it, body read to the end as sent (not decompressed)."""
    response = session.get(url, stream=True, timeout=30,
                           headers={"Accept-Encoding": BROWSER_ENCODINGS})
    response.raw.read(decode_content=False)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")


def paired_samples(first, second, count: int, budget: float,
                   warmup: int) -> tuple[list[float], list[float]]:
    """Time ``first`` and ``second`` alternately (so noise hits both alike): at most ``count``
    pairs, and none started after ``budget`` seconds, after ``warmup`` untimed pairs."""
    a, b = interleaved_samples((first, second), count, budget, warmup)
    return a, b


def interleaved_samples(calls, count: int, budget: float, warmup: int) -> list[list[float]]:
    """Time each of ``calls`` once a round, in an order shuffled each round: at most ``count``
    rounds, none started after ``budget`` seconds, after ``warmup`` untimed rounds.

    Shuffled, because a request right after another to the same server finds its CPU caches
    warm: in a fixed order the second page kind of an app measured ~0.3 ms cheaper than the
    first, and the floor (one kind, always after another server) was never so favoured.
    """
    for _ in range(warmup):  # connections, caches
        for call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    order = list(range(len(calls)))
    shuffle = random.Random(19).shuffle  # the same orders every run
    deadline = time.monotonic() + budget
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        shuffle(order)
        for index in order:
            samples[index].append(timed(calls[index]))
    return samples


WRK_LATENCY = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass
class WrkResult:
    requests_per_second: float
    requests: int
    seconds: float
    latency: dict[str, float]  # "50", "75", "90", "99" -> seconds
    non_2xx: int
    socket_errors: dict[str, int]
    output: str

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


def parse_wrk(output: str) -> WrkResult:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not rate or not total:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    if errors:
        socket_errors = dict(zip(socket_errors, map(int, errors.groups()), strict=True))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * UNITS[total.group(3)],
        latency={p: float(v) * UNITS[u] for p, v, u in WRK_LATENCY.findall(output)},
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
        output=output,
    )


def wrk_command(url: str, seconds: int) -> list[str]:
    return ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
            "-H", f"Accept-Encoding: {BROWSER_ENCODINGS}", url]


def run_wrk(url: str, seconds: int, port: int | None = None,
            workers: list[int] = ()) -> tuple[WrkResult, list[int]]:
    """Run wrk; halfway through, count the connections each of ``workers`` holds on ``port``."""
    process = subprocess.Popen(wrk_command(url, seconds), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    connections = []
    try:
        if port and workers:
            time.sleep(seconds / 2)
            connections = connections_per_process(port, workers)
        output, errors = process.communicate(timeout=seconds + 60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {errors or output}")
    return parse_wrk(output), connections
