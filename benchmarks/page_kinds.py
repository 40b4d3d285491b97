"""Where each kind of request's time goes: CPU per request in this process, beside the floor's.

Every kind the goals name (a 6-message page in English and Chinese, open and signed; a live
check with nothing new; a cold page of 50 rich answers; a 1000-message page) is requested
through Flask's test client of an app built here, alternating with the floor app
(benchmarks/floor_app.py) making the same call, in rounds: the best round's CPU time per request
(``time.process_time``: other processes on a busy machine don't count), and the kind's own CPU
over the floor's. Pages are kept as sent (viewer/page_cache.py), so each page kind after the
first is sent again; the same pages made every time (``RENDERED_PAGE_CACHE_BYTES=0``) are beside
them. Then a small page cut into its steps, each timed on its own in a fresh request context.
Warm CPU: under gunicorn, after an idle upstream wait, the same work takes longer (compare the
Overhead section's wall times).
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import time
from html import unescape
from typing import Any
from urllib.parse import urlencode

from benchmarks.config import BROWSER_ENCODINGS, CONVERSATION, PAGE_SIZE, ROOT, USER
from benchmarks.report import ms, Report

SECRET = "page-kinds-secret-of-at-least-32-bytes"
HEADERS = {"Accept-Encoding": BROWSER_ENCODINGS}


def _app(upstream: str, **config: Any):
    sys.path.insert(0, str(ROOT))
    from app import create_app

    return create_app({"MEMOS_BASE_URL": upstream, "MEMOS_API_KEY": "bench",
                       "MEMOS_MAX_LIMIT": 1000, "LOG_LEVEL": "WARNING", "MEMOS_LOCAL_DB": "",
                       "EMBED_SECRET": "", "VIEWER_ACCESS": "open", "RATE_LIMIT": "0",
                       "TRUSTED_PROXIES": 0, "CHAT_PAGE_SIZE": PAGE_SIZE, **config})


def _best(call, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) / count


def measure_kinds(upstream: str, rich_upstream: str, rounds: int) -> list[tuple]:
    """(kind, CPU per request, the floor's, own CPU) for every kind, best of ``rounds``."""
    from viewer.access import sign

    opened = _app(upstream).test_client()
    signed = _app(upstream, VIEWER_ACCESS="signed", EMBED_SECRET=SECRET).test_client()
    made = _app(upstream, RENDERED_PAGE_CACHE_BYTES=0).test_client()
    cold = _app(rich_upstream, RENDERED_MESSAGE_CACHE=0, RENDERED_PAGE_CACHE_BYTES=0).test_client()
    os.environ["MEMOS_BASE_URL"] = upstream
    from benchmarks.floor_app import create_app as floor_app

    floor = floor_app().test_client()
    page = "/chat?" + urlencode({"user_id": USER, "conversation_id": CONVERSATION})
    token = "/chat?" + urlencode({"token": sign(USER, CONVERSATION, SECRET, 3600)})
    first = opened.get(page).get_data(as_text=True)
    live = unescape(re.search(r'data-live-url="([^"]+)"', first).group(1))
    users = itertools.count()  # each check another user's: answers are shared for a second

    def check():
        return opened.get(live.replace(f"user_id={USER}&", f"user_id={USER}-{next(users)}&", 1),
                          headers={**HEADERS, "HX-Request": "true"})

    def floor_page():
        return floor.get(page, headers=HEADERS)

    def floor_check():
        return floor.get("/chat/newer?" + urlencode(
            {"user_id": USER, "conversation_id": CONVERSATION}), headers=HEADERS)

    kinds = [  # label, request, its floor, requests per round
        ("6-message page, English, open", lambda: opened.get(page, headers=HEADERS),
         floor_page, 40),
        ("6-message page, Chinese, open",
         lambda: opened.get(page + "&lang=zh-Hans", headers=HEADERS), floor_page, 40),
        ("6-message page, English, signed", lambda: signed.get(token, headers=HEADERS),
         floor_page, 40),
        ("6-message page, Chinese, signed",
         lambda: signed.get(token + "&lang=zh-Hans", headers=HEADERS), floor_page, 40),
        ("6-message page, English, open, page cache off: made every time",
         lambda: made.get(page, headers=HEADERS), floor_page, 40),
        ("live check, nothing new (204)", check, floor_check, 40),
        ("cold page, 50 rich answers, message and page caches off",
         lambda: cold.get(page + "&limit=50", headers=HEADERS), floor_page, 3),
        ("1000-message page", lambda: opened.get(page + "&limit=1000", headers=HEADERS),
         floor_page, 3),
        ("1000-message page, page cache off: made every time",
         lambda: made.get(page + "&limit=1000", headers=HEADERS), floor_page, 3),
    ]
    best: dict[str, list[float]] = {}
    for _label, call, floor_call, _ in kinds:
        for _ in range(3):  # templates compiled, caches filled, connections made
            call()
            floor_call()
    for _ in range(rounds):
        for label, call, floor_call, count in kinds:
            times = best.setdefault(label, [float("inf"), float("inf")])
            times[0] = min(times[0], _best(call, count))
            times[1] = min(times[1], _best(floor_call, count))
    return [(label, best[label][0], best[label][1], best[label][0] - best[label][1])
            for label, *_ in kinds]


def small_page_steps(upstream: str, repeats: int = 200) -> list[tuple[str, float]]:
    """A small page's steps, each cumulative over the ones before, in a fresh request context
    per request (as a page has it), best of 5: as sent again (the page kept,
    viewer/page_cache.py) and as made (the page cache off)."""
    from viewer.links import read_reader

    app = _app(upstream)
    unkept = _app(upstream, RENDERED_PAGE_CACHE_BYTES=0)
    client, unkept_client = app.test_client(), unkept.test_client()
    path = "/chat?" + urlencode({"user_id": USER, "conversation_id": CONVERSATION})
    client.get(path, headers=HEADERS)
    unkept_client.get(path, headers=HEADERS)
    source = app.extensions["memos_source"]

    def upto(app, step: int):
        history, pages = app.extensions["history"], app.extensions["pages"]

        def run():
            with app.test_request_context(path, headers=HEADERS):
                app.preprocess_request()
                reader = read_reader("chat")
                if step >= 1:
                    page = history.latest(reader, None)
                    if step >= 2:
                        pages.render("chat.html", page, reader)
        return run

    def best(call) -> float:
        return min(_best(call, repeats) for _ in range(5))

    context = best(upto(app, 0))
    read = best(upto(app, 1))
    kept = best(upto(app, 2))
    made = best(upto(unkept, 2))
    whole = best(lambda: client.get(path, headers=HEADERS))
    whole_made = best(lambda: unkept_client.get(path, headers=HEADERS))
    upstream_call = best(lambda: source.get_messages(USER, CONVERSATION, PAGE_SIZE + 1))
    return [
        ("request context, before-request hooks, the reader (ids or token)", context),
        ("upstream call through the app's client (breaker, bulkhead, HTTP, JSON, parsing)",
         upstream_call),
        ("history: slices, anchor tokens, element ids", read - context - upstream_call),
        ("the page kept: its key and the compressed bytes (viewer/page_cache.py)", kept - read),
        ("response: Flask, after-request hooks (headers, log), test client", whole - kept),
        ("whole page, in-process (test client), as sent again", whole),
        ("the page made: templates (chat.html and what it includes) and compression, "
         "page cache off", made - read),
        ("whole page, in-process (test client), page cache off", whole_made),
    ]


def section_page_kinds(report: Report, upstream: str, rich_upstream: str, rounds: int) -> None:
    report.section("Where the time goes", __doc__.split("\n\n", 1)[1].replace("\n", " "))
    rows = measure_kinds(upstream, rich_upstream, rounds)
    report.table(("request", "CPU per request", "the floor's (a 6-message page's call; for the "
                  "check, a 204 after a check's call)", "own CPU (request − floor)"),
                 [(label, ms(cpu), ms(floor), ms(own)) for label, cpu, floor, own in rows])
    report.text("A small page's steps (English, open), in-process CPU, best of 5:")
    steps = small_page_steps(upstream)
    whole = steps[5][1] or 1.0
    report.table(("step", "CPU per page", "share of a page sent again"),
                 [(label, ms(seconds), f"{seconds / whole:.0%}") for label, seconds in steps])
