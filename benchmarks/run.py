"""The benchmark suite: ``make bench``, or ``python -m benchmarks.run [--quick|--smoke]``.

Everything runs on 127.0.0.1: fake MemOS upstreams (benchmarks/fake_upstream.py, one process per
latency) and the app under gunicorn with the shipped gunicorn.conf.py, started as subprocesses
and always stopped. Each section prints its numbers as it goes; the whole report is written to
docs/benchmarks.md (or ``--output``) and printed at the end. Every loop is bounded by a sample
count and a time budget. Sections: fake upstream, overhead, where the time goes, bytes, render
cost, cold page, hostile content, export, find, memory panel, live checks, shared live reads,
MemOS down, throughput, worker models, memory; ``--section NAME`` runs only some (and writes no
report unless ``--output`` is given).

This module is the entry point: ``main()`` (the command line) and ``run()`` (starts the servers
and runs the sections in order). The rest of the package: config.py (constants and profiles),
servers.py (the processes started), measure.py (timing, paired samples, wrk), report.py (the
report and its markdown), latency.py, page_kinds.py, page_bytes.py, content.py, export.py, find.py,
memory_panel.py (also the hook ``panel_times``), live.py, shared.py and throughput.py (the
sections), and profiling.py (where a page's time goes).
benchmarks/lexer_scan.py is run on its own (docs/lexer-scan.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

from benchmarks.config import DEFAULT_OUTPUT, Profile, PROFILES, ROOT
from benchmarks.content import section_cold_page, section_hostile
from benchmarks.export import section_export
from benchmarks.find import section_find
from benchmarks.latency import BENCH_SECRET, section_fake, section_overhead, section_render
from benchmarks.live import section_live
from benchmarks.measure import parse_wrk
from benchmarks.memory_panel import section_memory_panel
from benchmarks.page_bytes import section_bytes
from benchmarks.page_kinds import section_page_kinds
from benchmarks.report import render_markdown, Report
from benchmarks.servers import Fake, Gunicorn, Redis
from benchmarks.shared import section_memos_down, section_shared_reads
from benchmarks.throughput import section_memory, section_throughput_and_models

# Importable from here, as before the split: the tests import SECTIONS and parse_wrk.
__all__ = ["SECTIONS", "main", "parse_wrk", "run"]

SECTIONS = ("Fake upstream", "Overhead", "Where the time goes", "Bytes", "Render cost",
            "Cold page", "Hostile content", "Export", "Find", "Memory panel", "Live checks",
            "Shared live reads", "MemOS down", "Throughput", "Worker models",
            "Memory")  # in run order


def run(profile: Profile, command: str, only: tuple[str, ...] = ()) -> Report:
    """Run every section in order, or only those named in ``only``."""
    report = Report(profile, command)
    print(f"Benchmarks ({profile.name}) on " + "; ".join(
        value for _, value in report.machine), flush=True)
    started = time.monotonic()

    def wanted(*sections: str) -> bool:
        return not only or any(section in only for section in sections)

    with tempfile.TemporaryDirectory(prefix="memos-bench-") as tmp, ExitStack() as stack:
        log_dir = Path(tmp)
        fakes = {}  # latency (or (latency, jitter)) -> Fake
        for key in (0.0, 0.05, 0.2, (0.2, 0.05)):
            fakes[key] = Fake(*key) if isinstance(key, tuple) else Fake(key)
            stack.callback(fakes[key].close)
        session = requests.Session()
        stack.callback(session.close)

        def app(label: str, fake: float | tuple[float, float], **kwargs: Any) -> Gunicorn:
            server = Gunicorn(label, fakes[fake].base_url, log_dir, **kwargs)
            stack.callback(server.close)
            return server

        if wanted("Fake upstream"):
            section_fake(report, session, fakes, profile)
        if wanted("Overhead", "Bytes"):
            shipped = app("gthread (shipped), 50 ms upstream", 0.05)
            if wanted("Overhead"):
                floor = app("stack floor (benchmarks/floor_app.py), 50 ms upstream", 0.05,
                            target="benchmarks.floor_app:create_app()")
                signed = app("gthread (shipped), signed links, 50 ms upstream", 0.05,
                             env={"VIEWER_ACCESS": "signed", "EMBED_SECRET": BENCH_SECRET})
                section_overhead(report, session, shipped, floor, fakes, profile, signed)
                floor.close()
                signed.close()
            if wanted("Bytes"):
                section_bytes(report, session, shipped)
            shipped.close()
        if wanted("Where the time goes"):
            rich = Fake(0.0, messages=200, rich=True)
            stack.callback(rich.close)
            section_page_kinds(report, fakes[0.0].base_url, rich.base_url,
                               {"full": 7, "quick": 3}.get(profile.name, 1))
            rich.close()
        if wanted("Render cost"):
            big = app("gthread (shipped), 1000-message page", 0.0,
                      env={"MEMOS_MAX_LIMIT": "1000"})
            section_render(report, session, big, fakes[0.0], profile)
            big.close()
        if wanted("Cold page"):
            rich = Fake(0.0, messages=200, rich=True)
            stack.callback(rich.close)
            cold = Gunicorn("gthread (shipped), rich messages, no message or page cache",
                            rich.base_url, log_dir, env={"RENDERED_MESSAGE_CACHE": "0",
                                                         "RENDERED_PAGE_CACHE_BYTES": "0"})
            stack.callback(cold.close)
            section_cold_page(report, session, cold, rich, profile)
            cold.close()
        if wanted("Hostile content"):
            section_hostile(report)
        if wanted("Export"):
            section_export(report)
        if wanted("Find"):
            section_find(report)
        if wanted("Memory panel"):
            section_memory_panel(report, samples=3 if profile.name == "smoke" else 15)
        if wanted("Live checks"):
            quick = app("gthread (shipped), live checks every 2 s", 0.0,
                        env={"LIVE_POLL_SECONDS": "2"})
            shipped_live = app("gthread (shipped), live checks every 15 s", 0.0)
            live_floor = app("stack floor (benchmarks/floor_app.py), 0 ms upstream", 0.0,
                             target="benchmarks.floor_app:create_app()")
            section_live(report, session, quick, shipped_live, fakes[0.0], profile, live_floor)
            live_floor.close()
            quick.close()
            shipped_live.close()
        if wanted("Shared live reads", "MemOS down"):
            redis = Redis(log_dir)
            stack.callback(redis.close)
            if wanted("Shared live reads"):
                section_shared_reads(report, session, app, 0.05, redis, profile)
            if wanted("MemOS down"):
                section_memos_down(report, redis, log_dir, profile)
            redis.close()
        if wanted("Throughput", "Worker models", "Memory"):
            fakes_pid = {key: fake.process.pid for key, fake in fakes.items()}
            models = section_throughput_and_models(report, app, fakes_pid, profile)
            section_memory(report, models)
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    report.lines.insert(0, f"Run took {time.monotonic() - started:.0f} s; load average at the "
                        f"end {load}.")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split(
        "\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer samples, 5 s wrk runs")
    size.add_argument("--smoke", action="store_true",
                      help="a handful of requests per section, 1 s wrk runs (for the test)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"report file (default {DEFAULT_OUTPUT.relative_to(ROOT)}; with "
                             "--section, none unless given)")
    parser.add_argument("--section", action="append", choices=SECTIONS, default=[],
                        metavar="NAME", help="run only this section (again for several); one "
                        "of: " + ", ".join(SECTIONS))
    args = parser.parse_args(argv)
    if args.output is None and not args.section:
        args.output = DEFAULT_OUTPUT
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install -y wrk (make test installs it)",
              file=sys.stderr)
        return 2
    profile = PROFILES["smoke" if args.smoke else "quick" if args.quick else "full"]
    command = "python -m benchmarks.run" + ("" if profile.name == "full" else f" --{profile.name}")

    def interrupted(signum, frame):  # let ExitStack stop every server we started
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, interrupted)
    if args.section:
        command += "".join(f" --section '{name}'" for name in args.section)
    report = run(profile, command, tuple(args.section))
    text = render_markdown(report)
    print("\n" + text)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"Written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
