"""The Shared live reads and MemOS down sections: what many readers of one conversation cost
MemOS across two instances, with and without the shared store, and what pages do while MemOS
hangs for every call (viewer/sharing.py, viewer/breaker.py).

Readers are threads polling one conversation's live check every ``LIVE_POLL_SECONDS=2`` (the
most a page checks), each from a random moment, alternately on two instances (two gunicorns,
two workers each); the apps' JSON request logs say how many MemOS calls their checks made. The
shared store is a redis-server of the benchmark's own (benchmarks/servers.py).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from benchmarks.config import Profile
from benchmarks.live import live_path, watch
from benchmarks.measure import page_url, percentile
from benchmarks.report import met, ms, Report
from benchmarks.servers import Fake, Gunicorn, Redis

POLL = 2.0  # LIVE_POLL_SECONDS: the smallest allowed, the most checks
HANG = 600.0  # seconds the fake sleeps per call while "down": longer than any timeout
TIMEOUT, DEADLINE = 2.0, 3.0  # MEMOS_TIMEOUT and MEMOS_DEADLINE while MemOS hangs


def section_shared_reads(report: Report, session: requests.Session, app, fake_key,
                         redis: Redis, profile: Profile) -> None:
    report.section("Shared live reads", (
        f"{profile.viewers} readers of one conversation, each checking every {POLL:.0f} s "
        "(`LIVE_POLL_SECONDS=2`, the most often a page checks) from a random moment, spread "
        "over two instances (two gunicorns with the shipped config: two workers each), for "
        f"{profile.viewer_seconds:.0f} s; the MemOS calls their checks made, from the apps' "
        "request logs. Without a shared store each process shares its reads only with itself; "
        "with one (`SHARED_STORE_URL`, a local redis-server) the whole deployment shares them: "
        "an answer is reused for a second, and one reader fetches while the others wait."))
    rows, shared_rate = [], None
    for label, env in (("each process on its own", {}),
                       ("shared store (Redis)", {"SHARED_STORE_URL": redis.url})):
        apps = [app(f"gthread (shipped), instance {number + 1}, {label}", fake_key,
                    env={"LIVE_POLL_SECONDS": f"{POLL:g}", **env}) for number in range(2)]
        seen = watch(apps, live_path(session, apps[0]), profile, POLL, seed=18)
        processes = sum(len(instance.workers()) for instance in apps)
        for instance in apps:
            instance.close()
        rate = seen["upstream_calls"] / profile.viewer_seconds
        if env:
            shared_rate = rate
        rows.append((label, processes, seen["checks"], seen["statuses"], seen["upstream_calls"],
                     f"{rate:.2f}", f"{seen['checks'] / max(1, seen['upstream_calls']):.0f}"))
    report.table(("store", "processes", "checks", "answers", "MemOS calls",
                  "MemOS calls per second (deployment)", "checks per MemOS call"), rows)
    ok = shared_rate is not None and shared_rate <= 1.1
    report.target(f"{profile.viewers} readers of one conversation on two instances, shared "
                  "store: MemOS calls per second", "≤ 1", f"{shared_rate:.2f}", ok)
    redis.flush()


def section_memos_down(report: Report, redis: Redis, log_dir: Path, profile: Profile) -> None:
    pages = 150 if profile.name != "smoke" else 30
    spread = 15.0 if profile.name != "smoke" else 3.0
    report.section("MemOS down", (
        f"MemOS hangs for every call (the fake sleeps {HANG:.0f} s) while {pages} pages of "
        f"distinct conversations are asked over {spread:.0f} s from 32 threads, against one "
        "instance (the shipped gunicorn config, two workers) with the shared store, "
        f"`MEMOS_TIMEOUT={TIMEOUT:g}`, `MEMOS_DEADLINE={DEADLINE:g}` and the breaker's "
        "defaults (5 failures in 10 s open it for 2 s, doubling up to 60 s); `/healthz` is "
        "asked every 50 ms throughout. Then MemOS answers again, and a page is asked every "
        "50 ms until one is served. \"After it opened\": pages asked once the first refusal "
        "had come back."))
    fake = Fake(0.0)
    server = None
    try:
        server = Gunicorn("gthread (shipped), shared store, MemOS hangs", fake.base_url,
                          log_dir, env={"SHARED_STORE_URL": redis.url,
                                        "MEMOS_TIMEOUT": f"{TIMEOUT:g}",
                                        "MEMOS_DEADLINE": f"{DEADLINE:g}"})
        _measure_down(report, server, fake, pages, spread)
    finally:
        if server is not None:
            server.close()
        fake.close()
        redis.flush()


def _measure_down(report: Report, server: Gunicorn, fake: Fake, pages: int,
                  spread: float) -> None:
    local = threading.local()
    results, health, done = [], [], threading.Event()

    def get(path: str) -> tuple[float, float, requests.Response]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        started = time.monotonic()
        response = local.session.get(server.url + path, timeout=DEADLINE + 30)
        return started, time.monotonic() - started, response

    def ask(number: int) -> None:
        started, elapsed, response = get(page_url("", user_id=f"down-{number}"))
        results.append((started, elapsed, response.status_code,
                        response.headers.get("Retry-After")))

    def probe_health() -> None:
        while not done.is_set():
            health.append(get("/healthz")[1])
            time.sleep(0.05)

    fake.set_latency(HANG)
    watcher = threading.Thread(target=probe_health, daemon=True)
    watcher.start()
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for number in range(pages):
            time.sleep(max(0.0, began + number * spread / pages - time.monotonic()))
            pool.submit(ask, number)
    fake.set_latency(0.0)
    back = time.monotonic()
    breaker = get("/readyz")[2].json().get("breaker", {})
    left = breaker.get("retry_after", 0)
    while get(page_url(""))[2].status_code != 200:
        if time.monotonic() - back > 120:
            raise RuntimeError("pages were never served again")
        time.sleep(0.05)
    recovered = time.monotonic() - back
    done.set()
    watcher.join(10)

    refusals = [started + elapsed for started, elapsed, status, _ in results if status == 503]
    opened = min(refusals) if refusals else float("inf")
    after = [(elapsed, status, retry) for started, elapsed, status, retry in results
             if started > opened]
    times = [elapsed for elapsed, _, _ in after]
    statuses: dict[int, int] = {}
    for _, _, status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    with_retry = sum(1 for _, status, retry in after if status == 503 and retry)
    p95 = percentile(times, 0.95)
    longest = max(elapsed for _, elapsed, _, _ in results)
    report.table(("pages", "answers", "opened after", "pages after it opened",
                  "of which 503 + Retry-After", "p50 after", "p95 after", "target", "met"),
                 [(len(results), ", ".join(f"{count} × {status}" for status, count
                                           in sorted(statuses.items())),
                   f"{opened - results[0][0]:.2f} s" if refusals else "never",
                   len(after), with_retry, ms(percentile(times, 0.5)), ms(p95), "≤ 50 ms",
                   met(p95 <= 0.05))])
    report.table(("longest page", "deadline", "/healthz p95", "/healthz max",
                  "served again after MemOS came back", "cool-down left then"),
                 [(ms(longest), f"{DEADLINE:g} s", ms(percentile(health, 0.95)),
                   ms(max(health)), f"{recovered:.2f} s", f"{left} s (Retry-After)")])
    report.target("MemOS hangs: pages after the breaker opened, p95", "≤ 50 ms", ms(p95),
                  p95 <= 0.05)
    report.target("MemOS hangs: the longest page", f"≤ deadline ({DEADLINE:g} s)", ms(longest),
                  longest <= DEADLINE + 0.5)
    report.target("MemOS back: pages served again within the cool-down left and one probe",
                  f"≤ {left} s + a probe", f"{recovered:.2f} s", recovered <= left + 1.0)
