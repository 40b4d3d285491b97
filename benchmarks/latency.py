"""The latency sections: Fake upstream, Overhead and Render cost.

Each times single requests, paired with the direct upstream call they make, and compares the
medians with a target; a page over target is profiled (benchmarks/profiling.py).
"""

from __future__ import annotations

import http.client
import json
import shlex
from urllib.parse import urlencode, urlsplit

import requests

from benchmarks.config import CONVERSATION, PAGE_SIZE, Profile, USER
from benchmarks.measure import (
    direct_call,
    interleaved_samples,
    median,
    page_load,
    page_url,
    paired_samples,
    percentile,
)
from benchmarks.profiling import profile_page, report_profile
from benchmarks.report import met, ms, Report
from benchmarks.servers import cpu_seconds, Fake, Gunicorn

SAMPLE_COLUMNS = ("measure", "samples", "median", "p90", "min")


def sample_row(label: str, samples: list[float]) -> tuple[str, int, str, str, str]:
    """A row of SAMPLE_COLUMNS: how many samples, their median, p90 and fastest."""
    return label, len(samples), ms(median(samples)), ms(percentile(samples, 0.9)), ms(min(samples))


def section_fake(report: Report, session: requests.Session, fakes: dict, profile: Profile) -> None:
    report.section("Fake upstream", "benchmarks/fake_upstream.py on its own: POSTs of "
                   "`/get/message` for 7 messages (what a 6-message page asks for) on a kept-alive "
                   "connection, straight to it. The fake's own figure uses `http.client`, the "
                   "lightest client, so it shows what the fake adds over its configured latency "
                   "(target: latency + 1 ms; TCP_NODELAY, answers serialised once). The "
                   "`requests.Session` rows are the client the overhead section uses on both "
                   "sides of its subtraction, for reference.")
    rows = []
    for latency in (0.0, 0.05):
        fake = fakes[latency]
        connection = http.client.HTTPConnection("127.0.0.1", urlsplit(fake.base_url).port,
                                                timeout=30)
        body = json.dumps({"user_id": USER, "conversation_id": CONVERSATION,
                           "message_limit_number": PAGE_SIZE + 1}).encode()

        path = urlsplit(fake.base_url).path + "/get/message"

        def light_call(connection=connection, path=path, body=body) -> None:
            connection.request("POST", path, body=body,
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"the fake upstream answered {response.status}")

        try:
            light, heavy = paired_samples(
                light_call, lambda url=fake.base_url: direct_call(session, url, PAGE_SIZE + 1),
                profile.fake_samples, profile.overhead_budget / 2, profile.warmup_pairs)
        finally:
            connection.close()
        value, target = median(light), f"≤ {latency * 1000 + 1:.0f} ms"
        ok = value <= latency + 0.001
        rows.append((f"{latency * 1000:.0f} ms", "http.client (the fake's own)", len(light),
                     ms(value), ms(percentile(light, 0.9)), ms(min(light)), target, met(ok)))
        rows.append((f"{latency * 1000:.0f} ms", "requests.Session", len(heavy),
                     ms(median(heavy)), ms(percentile(heavy, 0.9)), ms(min(heavy)), "—", "—"))
        report.target(f"fake upstream median at {latency * 1000:.0f} ms latency", target,
                      ms(value), ok)
    report.table(("latency knob", "client", "samples", "median", "p90", "min", "target", "met"),
                 rows)


# The page kinds whose own cost is measured: (label, language, signed). Live updates are on
# in every one (the shipped LIVE_POLL_SECONDS), as a reader's page has them.
PAGE_KINDS = (("English, open", None, False), ("Chinese, open", "zh-Hans", False),
              ("English, signed", None, True), ("Chinese, signed", "zh-Hans", True))
OWN_COST_TARGET = 0.0005  # the page's own cost over the floor (issue #19)
RENDER_TARGET = 0.008  # a 1000-message page over the direct call (issue #19; was 15 ms)
BENCH_SECRET = "benchmark-secret-of-at-least-32-bytes!"  # the signed app's EMBED_SECRET


def kind_url(app: Gunicorn, signed_app: Gunicorn, lang: str | None, signed: bool) -> str:
    """A 6-message page of one kind: open (the ids in the query) or signed (a token)."""
    extra = {"lang": lang} if lang else {}
    if not signed:
        return page_url(app.url, **extra)
    from viewer.access import sign

    token = sign(USER, CONVERSATION, BENCH_SECRET, 3600)
    return f"{signed_app.url}/chat?" + urlencode({"token": token, **extra})


def section_overhead(report: Report, session: requests.Session, app: Gunicorn, floor: Gunicorn,
                     fakes: dict, profile: Profile, signed_app: Gunicorn) -> None:
    report.section("Overhead", "What the app adds to a page over the MemOS call it makes: the "
                   f"median time of `GET /chat` ({PAGE_SIZE} messages, live updates on, "
                   "browser `Accept-Encoding`, kept-alive connection, body read as sent) minus "
                   "the median time of the same upstream call made directly, both against the "
                   "fake at 50 ms, sampled in rounds, each in a shuffled order. Four kinds of "
                   "page: English and Chinese "
                   "(`lang=zh-Hans`), open (`user_id&conversation_id`) and signed (`token=`, "
                   "an app with `VIEWER_ACCESS=signed`). App: gunicorn with gunicorn.conf.py "
                   f"(`{shlex.join(app.command[1:])}`). Sampled in the same rounds, the stack's "
                   "floor: benchmarks/floor_app.py under the same gunicorn.conf.py, a Flask "
                   "route that makes the same call with a `requests.Session` and returns a fixed "
                   "body of the page's size (no parsing, templates, logging or compression): "
                   "what Flask, requests and gunicorn cost before the app does anything. The "
                   "page's own cost is its median minus the floor's.")
    fake = fakes[0.05]
    urls = [kind_url(app, signed_app, lang, signed) for _, lang, signed in PAGE_KINDS]
    floor_url = page_url(floor.url)
    for _ in range(5):  # templates compiled, connections made, before counting CPU
        for url in urls:
            page_load(session, url)
        page_load(session, floor_url)
    workers = app.workers() + signed_app.workers()
    pages, floors, direct, cpu_per_page, floor_cpu = _sample_kinds(
        session, urls, floor_url, fake, workers, floor.workers(), profile.overhead_samples,
        profile.overhead_budget, profile.warmup_pairs)
    floor_overhead = median(floors) - median(direct)
    report.table(SAMPLE_COLUMNS, [
        *(sample_row(f"page `GET /chat`, {label} (via the app)", samples)
          for (label, _, _), samples in zip(PAGE_KINDS, pages, strict=True)),
        sample_row("floor `GET /chat` (benchmarks/floor_app.py)", floors),
        sample_row("direct upstream call", direct),
    ])
    rows, worst = [], 0.0
    for (label, _, _), samples in zip(PAGE_KINDS, pages, strict=True):
        own = median(samples) - median(floors)
        worst = max(worst, own)
        rows.append((label, ms(median(samples) - median(direct)), ms(floor_overhead), ms(own),
                     "≤ 0.5 ms", met(own <= OWN_COST_TARGET)))
    report.table(("page", "overhead (median page − median direct)",
                  "the stack's floor (median floor − median direct)",
                  "the page's own cost (page − floor)", "target", "met"), rows)
    report.text(f"Workers' CPU per page (user+sys, less sensitive to noise): the app's "
                f"{ms(cpu_per_page)} (all four kinds), the floor's {ms(floor_cpu)}.")
    _without_the_wait(report, session, urls, floor_url, fake, workers, floor.workers(),
                      profile, [median(samples) - median(floors) for samples in pages],
                      (cpu_per_page, floor_cpu))
    for (label, _, _), samples in zip(PAGE_KINDS, pages, strict=True):
        own = median(samples) - median(floors)
        report.target(f"own cost of a 6-message page over the floor, {label}", "≤ 0.5 ms",
                      ms(own), own <= OWN_COST_TARGET)
    report.target("&nbsp;&nbsp;&nbsp;&nbsp;the stack's floor (Flask + requests + "
                  "gunicorn, no app) over the direct call", "—", ms(floor_overhead), None)
    if worst > OWN_COST_TARGET:
        report_profile(report, profile_page(fakes[0.0].base_url, PAGE_SIZE,
                                            profile.profile_requests * 10))


def _sample_kinds(session: requests.Session, urls: list[str], floor_url: str, fake: Fake,
                  workers: list[int], floor_workers: list[int], count: int, budget: float,
                  warmup: int) -> tuple[list[list[float]], list[float], list[float], float, float]:
    """Each page kind, the floor and the direct call, sampled in shuffled rounds; and the
    workers' CPU per page, the app's (all kinds) and the floor's."""
    app_before, floor_before = cpu_seconds(workers), cpu_seconds(floor_workers)
    *pages, floors, direct = interleaved_samples(
        (*(lambda url=url: page_load(session, url) for url in urls),
         lambda: page_load(session, floor_url),
         lambda: direct_call(session, fake.base_url, PAGE_SIZE + 1)),
        count, budget, warmup)
    rounds = len(direct) + warmup
    return (pages, floors, direct,
            (cpu_seconds(workers) - app_before) / (rounds * len(urls)),
            (cpu_seconds(floor_workers) - floor_before) / rounds)


def _without_the_wait(report: Report, session: requests.Session, urls: list[str],
                      floor_url: str, fake: Fake, workers: list[int], floor_workers: list[int],
                      profile: Profile, waited: list[float],
                      waited_cpu: tuple[float, float]) -> None:
    """The same rounds with the fake answering at once: the pages' own cost when the CPU has
    not sat idle for the upstream's 50 ms, beside the one measured above."""
    latency = fake.latency
    fake.set_latency(0.0)
    try:
        pages, floors, _, cpu_per_page, floor_cpu = _sample_kinds(
            session, urls, floor_url, fake, workers, floor_workers, profile.overhead_samples,
            profile.overhead_budget / 2, profile.warmup_pairs)
    finally:
        fake.set_latency(latency)
    report.text("The same pages, the floor and the call sampled again with the fake answering "
                "at once (latency 0): what the same work costs when the CPU has not sat idle "
                "through the upstream's wait. On this machine a thread woken after 50 ms "
                "idle runs everything slower, the floor's work too; the targets are set on "
                "the 50 ms figures above.")
    report.table(("page", "own cost, upstream at 50 ms", "own cost, upstream at 0 ms"),
                 [(label, ms(before), ms(median(samples) - median(floors)))
                  for (label, _, _), before, samples in zip(PAGE_KINDS, waited, pages,
                                                            strict=True)])
    report.table(("workers' CPU per page", "upstream at 50 ms", "upstream at 0 ms"),
                 [("the app's (all four kinds)", ms(waited_cpu[0]), ms(cpu_per_page)),
                  ("the floor's", ms(waited_cpu[1]), ms(floor_cpu)),
                  ("the app's over the floor's", ms(waited_cpu[0] - waited_cpu[1]),
                   ms(cpu_per_page - floor_cpu))])


def section_render(report: Report, session: requests.Session, app: Gunicorn, fake: Fake,
                   profile: Profile) -> None:
    report.section("Render cost", "A 1000-message page (`MEMOS_MAX_LIMIT=1000`, `limit=1000`, "
                   "upstream latency 0) over the direct upstream call for the same 1000 "
                   "messages: medians of alternating samples. Messages are 200–600 characters; "
                   "assistant answers are Markdown (lists, inline code, some fenced Python).")
    url = page_url(app.url, limit=1000)
    page_load(session, url)  # templates compiled, connections made, before counting CPU
    workers = app.workers()
    cpu_before = cpu_seconds(workers)
    pages, direct = paired_samples(lambda: page_load(session, url),
                                   lambda: direct_call(session, fake.base_url, 1000),
                                   profile.render_samples, profile.render_budget,
                                   profile.warmup_pairs)
    cpu_per_page = (cpu_seconds(workers) - cpu_before) / (len(pages) + profile.warmup_pairs)
    cost = median(pages) - median(direct)
    ok = cost <= RENDER_TARGET
    report.table(SAMPLE_COLUMNS, [
        sample_row("1000-message page (via the app)", pages),
        sample_row("direct upstream call, 1000 messages", direct),
    ])
    report.table(("render cost (median page − median direct)", "per message", "target", "met",
                  "workers' CPU per page (user+sys)"),
                 [(ms(cost), f"{cost * 1e6 / 1000:.0f} µs", "≤ 8 ms", met(ok),
                   ms(cpu_per_page))])
    report.target("render cost of a 1000-message page", "≤ 8 ms", ms(cost), ok)
    if not ok:
        report_profile(report, profile_page(fake.base_url, 1000, profile.profile_requests))
