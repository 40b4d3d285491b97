"""The Find section: ``GET /chat?q=`` over a 1000-message conversation.

In this process, through the app's test client on the embedded store (``MEMOS_MAX_LIMIT``
1000), as the Export section: one conversation of the demo's messages repeated to 1000
(English, Markdown and code), one of Chinese sentences with full-width punctuation (which NFKC
changes, so each listed result's marks are placed character by character: find's slow path).
Each query's whole request is timed (thread CPU and wall clock, best of 3): the store's read,
the search, the snippets and the page. There is no MemOS latency.
"""

from __future__ import annotations

import tempfile
import time
from urllib.parse import urlencode

from benchmarks.report import kib, met, ms, Report

FIND_MESSAGES = 1000
FIND_TARGET = 0.25  # seconds: the CPU budget one page's formatting gets (PAGE_SECONDS)
SAMPLES = 3
CHINESE = ("我们坐火车从里斯本去波尔图，大约三个小时。", "机场到市中心：坐地铁，红线换绿线！",
           "辛特拉要早点去（七点五十五分的火车），人少。", "预算：每天一百欧元左右；住四晚。")
# (conversation, query, what it exercises)
QUERIES = [
    ("demo", "the", "a word in most messages: 50 listed, the rest counted"),
    ("demo", "Decimal", "a word in a third of them"),
    ("demo", "ＣＳＶ", "full-width query, half-width text"),
    ("demo", "no message says this", "no match: every message scanned"),
    ("chinese", "火车", "Chinese, full-width punctuation: marks placed one by one"),
    ("chinese", "不存在的词", "Chinese, no match"),
]


def section_find(report: Report) -> None:
    from app import create_app
    from memos_api.local.demo import DEMO_MESSAGES

    report.section("Find", f"`GET /chat?q=` over a {FIND_MESSAGES}-message conversation from the "
                   "embedded store, in this process (test client): thread CPU and wall time of "
                   f"the whole request (one read of {FIND_MESSAGES}, the search, the snippets, "
                   f"the page), best of {SAMPLES}, the messages that match and the page's size. "
                   "At most 50 results are listed, 3 matches marked in each.")

    def dated(n: int) -> str:
        return f"2026-03-{1 + n // 400:02d} {n // 60 % 24:02d}:{n % 60:02d}:00"

    with tempfile.TemporaryDirectory(prefix="memos-bench-find-") as folder:
        app = create_app({"MEMOS_API_KEY": "", "MEMOS_BASE_URL": "",
                          "MEMOS_MAX_LIMIT": FIND_MESSAGES, "RATE_LIMIT": "0",
                          "MEMOS_LOCAL_DB": f"{folder}/store.sqlite3"})
        store = app.extensions["memos_source"]
        store.add_messages("bench", "demo", [
            {**DEMO_MESSAGES[n % len(DEMO_MESSAGES)], "chat_time": dated(n)}
            for n in range(FIND_MESSAGES)])
        store.add_messages("bench", "chinese", [
            {"role": ("user", "assistant")[n % 2], "chat_time": dated(n),
             "content": " ".join(CHINESE[(n + k) % len(CHINESE)] for k in range(3))}
            for n in range(FIND_MESSAGES)])
        client = app.test_client()
        rows, worst = [], 0.0
        for conversation, query, what in QUERIES:
            url = "/chat?" + urlencode({"user_id": "bench", "conversation_id": conversation,
                                        "q": query})
            client.get(url)  # warm up
            cpu, wall, size, found = float("inf"), float("inf"), 0, ""
            for _ in range(SAMPLES):
                started, clock = time.thread_time(), time.perf_counter()
                response = client.get(url)
                cpu = min(cpu, time.thread_time() - started)
                wall = min(wall, time.perf_counter() - clock)
                body = response.get_data(as_text=True)
                size = len(body.encode())
                found = str(body.count('class="found-result '))
            heading = body.split('id="found-heading">', 1)[1].split(" ", 1)[0]
            found = f"{heading if heading.isdigit() else 0} ({found} listed)"
            worst = max(worst, wall)
            rows.append((f"`{query}`", what, found, ms(cpu), ms(wall), kib(size),
                         "< 250 ms", met(wall < FIND_TARGET)))
    report.table(("query", "what it exercises", "messages matching", "CPU", "wall", "page",
                  "target", "met"), rows)
    report.target(f"find over {FIND_MESSAGES} messages, slowest query (wall)", "< 250 ms",
                  ms(worst), worst < FIND_TARGET)
