"""The Live checks section: what a check with nothing new costs, and what many viewers cost MemOS.

A check is ``GET /chat/newer`` with the live URL a page carries. Nothing new answers 204 with no
body; checks of one conversation share one MemOS call, kept a second (viewer/sharing.py), so
each sampled check reads another user's copy of the conversation: a call of its own. Viewers are
threads polling one conversation at the shipped interval, each starting at a random moment; the
app's JSON request log says how many MemOS calls their checks made.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from urllib.parse import urlencode

import requests

from benchmarks.config import BROWSER_ENCODINGS, CONVERSATION, PAGE_SIZE, Profile, USER
from benchmarks.latency import SAMPLE_COLUMNS, sample_row
from benchmarks.measure import direct_call, interleaved_samples, median, page_url
from benchmarks.report import met, ms, Report
from benchmarks.servers import cpu_seconds, Fake, Gunicorn

INTERVAL = 15.0  # the shipped LIVE_POLL_SECONDS
LIVE_TARGET = 0.0003  # a check's own server time, over the floor's 204 (issue #19)


def live_path(session: requests.Session, app: Gunicorn) -> str:
    """The live check's path and query, as ``app``'s first page carries it."""
    page = session.get(page_url(app.url), timeout=30).text
    return unescape(re.search(r'data-live-url="([^"]+)"', page).group(1))


def live_url(session: requests.Session, app: Gunicorn) -> str:
    return app.url + live_path(session, app)


def check(session: requests.Session, url: str) -> tuple[int, int]:
    """One live check as the page's script makes it: the status and the bytes received."""
    response = session.get(url, stream=True, timeout=30, headers={
        "HX-Request": "true", "Accept-Encoding": BROWSER_ENCODINGS})
    body = response.raw.read(decode_content=False)
    head = len(f"HTTP/1.1 {response.status_code} {response.reason}\r\n") + sum(
        len(name) + len(value) + 4 for name, value in response.headers.items()) + 2
    return response.status_code, head + len(body)


def section_live(report: Report, session: requests.Session, quick_app: Gunicorn,
                 shipped_app: Gunicorn, fake: Fake, profile: Profile, floor: Gunicorn) -> None:
    report.section("Live checks", "A check with nothing new, over the direct upstream call it "
                   f"makes (the newest {PAGE_SIZE} + 3 messages), sampled in shuffled rounds, "
                   "each check "
                   "for another user (an app with `LIVE_POLL_SECONDS=2`; answers are shared "
                   "for a second per user and conversation, so each sampled check makes its "
                   "own call), and beside it the floor's 204 (benchmarks/floor_app.py "
                   "`/chat/newer`: the same call, then no body), so the check's own server "
                   "time is its median minus the floor's. Then viewers of one "
                   f"conversation polling every {INTERVAL:.0f} s (the shipped interval), each "
                   "from a random moment, against the shipped app (gunicorn.conf.py: 2 "
                   "workers): the MemOS calls their checks made, from the app's request log.")
    url = live_url(session, quick_app)
    users = itertools.count()

    def unshared() -> str:  # the fake answers every user alike: no shared answer to reuse
        return url.replace(f"user_id={USER}&", f"user_id={USER}-{next(users)}&", 1)

    floor_url = floor.url + "/chat/newer?" + urlencode({"user_id": USER,
                                                         "conversation_id": CONVERSATION})
    for _ in range(3):
        check(session, unshared())
        check(session, floor_url)
    statuses, sizes = set(), []
    urls = iter([unshared() for _ in range(profile.overhead_samples + profile.warmup_pairs)])

    def app_check() -> None:
        status, size = check(session, next(urls))
        statuses.add(status)
        sizes.append(size)

    workers = quick_app.workers()
    cpu_before = cpu_seconds(workers)
    # Shuffled rounds, as the Overhead section's: in a fixed order, whichever came second found
    # the CPU's caches warmer.
    checks, floors, direct = interleaved_samples(
        (app_check, lambda: check(session, floor_url),
         lambda: direct_call(session, fake.base_url, PAGE_SIZE + 3)),
        profile.overhead_samples, profile.render_budget, profile.warmup_pairs)
    cpu_per_check = (cpu_seconds(workers) - cpu_before) / max(1, len(sizes))
    cost = median(checks) - median(direct)
    own = median(checks) - median(floors)
    ok = own <= LIVE_TARGET
    report.table(SAMPLE_COLUMNS, [sample_row("live check, nothing new (via the app)", checks),
                                  sample_row("floor check, 204 (benchmarks/floor_app.py)",
                                             floors),
                                  sample_row(f"direct upstream call, {PAGE_SIZE + 3} messages",
                                             direct)])
    report.table(("check over the upstream call", "the floor over the upstream call",
                  "the check's own server time (check − floor)", "target", "met",
                  "workers' CPU per check (user+sys)", "status",
                  "bytes received (headers + body)"),
                 [(ms(cost), ms(median(floors) - median(direct)), ms(own), "≤ 0.3 ms", met(ok),
                   ms(cpu_per_check), ", ".join(map(str, sorted(statuses))),
                   f"{median(sizes):.0f} B (body 0)")])
    report.target("a live check with nothing new: its own server time (check − floor)",
                  "≤ 0.3 ms", ms(own), ok)
    report.target("&nbsp;&nbsp;&nbsp;&nbsp;the check over its upstream call", "—", ms(cost), None)

    seen = watch([shipped_app], live_path(session, shipped_app), profile, INTERVAL, seed=5)
    workers = len(shipped_app.workers())
    per_process = seen["upstream_calls"] / profile.viewer_seconds / max(1, workers)
    ok = per_process <= 1.5
    report.table(("viewers", "interval", "watched", "checks", "answers", "MemOS calls",
                  "calls per second per process", "target", "met", "workers' CPU per check"),
                 [(profile.viewers, f"{INTERVAL:.0f} s", f"{profile.viewer_seconds:.0f} s",
                   seen["checks"], seen["statuses"], seen["upstream_calls"],
                   f"{per_process:.2f} ({workers} processes)", "about 1", met(ok),
                   ms(seen["cpu"] / max(1, seen["checks"])))])
    report.target(f"{profile.viewers} viewers of one conversation: MemOS calls per second per "
                  "process", "about 1", f"{per_process:.2f}", ok)


def watch(apps: list[Gunicorn], path: str, profile: Profile, interval: float,
          seed: int) -> dict:
    """``profile.viewers`` readers, alternately on each of ``apps``, checking ``path`` every
    ``interval`` seconds for ``profile.viewer_seconds``, each from a random moment: their
    checks, answers and MemOS calls (from the apps' request logs), and the workers' CPU."""
    starts = [app.log_path.stat().st_size for app in apps]
    rng = random.Random(seed)
    began = time.monotonic() + 0.5
    moments = sorted(
        (began + phase + interval * turn, reader % len(apps))
        for reader, phase in enumerate(rng.uniform(0, interval) for _ in range(profile.viewers))
        for turn in range(int(profile.viewer_seconds / interval) + 1)
        if phase + interval * turn < profile.viewer_seconds)
    local = threading.local()

    def viewer_check(instance: int) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        check(local.session, apps[instance].url + path)

    def logged() -> list[dict]:
        lines = [line for app, start in zip(apps, starts, strict=True)
                 for line in app.log_path.read_bytes()[start:].decode(errors="replace")
                 .splitlines()]
        return [record for record in (json.loads(line) for line in lines
                                      if line.startswith("{"))
                if record.get("path") == "/chat/newer"]

    workers = [worker for app in apps for worker in app.workers()]
    cpu_before = cpu_seconds(workers)
    with ThreadPoolExecutor(max_workers=32) as pool:
        for moment, instance in moments:
            time.sleep(max(0.0, moment - time.monotonic()))
            pool.submit(viewer_check, instance)
    cpu = cpu_seconds(workers) - cpu_before
    # Each line is written just after its response is sent: wait for the last ones.
    deadline = time.monotonic() + 10
    while len(records := logged()) < len(moments) and time.monotonic() < deadline:
        time.sleep(0.05)
    statuses: dict[int, int] = {}
    for record in records:
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    return {"checks": len(records), "statuses": ", ".join(f"{count} × {status}" for status, count
                                                         in sorted(statuses.items())),
            "upstream_calls": sum(record["upstream_calls"] for record in records), "cpu": cpu}
