"""The Export section: a 1000-message conversation downloaded in each format.

In this process, through the app's test client on the embedded store (``MEMOS_MAX_LIMIT``
1000): the demo conversation's messages (Markdown with code and tables, users' questions)
repeated to 1000, each format's request timed (thread CPU and wall clock, best of 3), and the
file's size. The store's read is part of every figure; there is no MemOS latency.
"""

from __future__ import annotations

import tempfile
import time

from benchmarks.report import kib, met, ms, Report

EXPORT_MESSAGES = 1000
EXPORT_TARGET = 1.0  # seconds: a widest export is a click's wait, not a timeout


def section_export(report: Report) -> None:
    from app import create_app
    from memos_api.local.demo import DEMO_MESSAGES

    report.section("Export", f"`GET /chat/export` of a {EXPORT_MESSAGES}-message conversation "
                   "(the demo's messages repeated) from the embedded store, in this process "
                   "(test client): thread CPU and wall time of the whole request, best of 3, "
                   "and the file's size.")
    with tempfile.TemporaryDirectory(prefix="memos-bench-export-") as folder:
        app = create_app({"MEMOS_API_KEY": "", "MEMOS_BASE_URL": "",
                          "MEMOS_MAX_LIMIT": EXPORT_MESSAGES, "RATE_LIMIT": "0",
                          "MEMOS_LOCAL_DB": f"{folder}/store.sqlite3"})
        messages = [{**DEMO_MESSAGES[n % len(DEMO_MESSAGES)],
                     "chat_time": f"2026-03-{1 + n // 400:02d} {n // 60 % 24:02d}:"
                                  f"{n % 60:02d}:00"} for n in range(EXPORT_MESSAGES)]
        app.extensions["memos_source"].add_messages("bench", "export", messages)
        client = app.test_client()
        query = "/chat/export?user_id=bench&conversation_id=export&format="
        client.get(query + "md")  # warm up
        rows, worst = [], 0.0
        for kind in ("json", "md", "txt"):
            cpu, wall, size = float("inf"), float("inf"), 0
            for _ in range(3):
                started, clock = time.thread_time(), time.perf_counter()
                response = client.get(query + kind)
                cpu = min(cpu, time.thread_time() - started)
                wall = min(wall, time.perf_counter() - clock)
                size = len(response.get_data())
            worst = max(worst, wall)
            rows.append((kind, ms(cpu), ms(wall), kib(size), "< 1 s", met(wall < EXPORT_TARGET)))
    report.table(("format", "CPU", "wall", "file", "target", "met"), rows)
    report.target(f"export of {EXPORT_MESSAGES} messages, slowest format (wall)", "< 1 s",
                  ms(worst), worst < EXPORT_TARGET)
