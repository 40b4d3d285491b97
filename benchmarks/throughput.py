"""The load sections: Throughput, Worker models and Memory.

wrk runs against the shipped gthread config and the other gunicorn worker models in turn, with
the CPU, connections and memory of each process recorded during and right after its run.
"""

from __future__ import annotations

import os
import resource
import shlex
from dataclasses import dataclass, field
from typing import Any

import requests

from benchmarks.config import CONNECTIONS, PAGE_SIZE, Profile
from benchmarks.measure import page_url, run_wrk, wrk_command, WrkResult
from benchmarks.report import met, ms, package_version, Report
from benchmarks.servers import cpu_seconds, rss_kib


@dataclass
class ModelResult:
    label: str
    ideal: float
    wrk: WrkResult | None
    worker_rss: list[tuple[int, int | None]]
    master_rss: int | None
    note: str = ""
    app_cpu: float = 0.0    # seconds of CPU used by the workers during the run
    fake_cpu: float = 0.0   # ... by the fake upstream
    wrk_cpu: float = 0.0    # ... by wrk
    connections: list[int] = field(default_factory=list)  # wrk's connections held per worker
    worker_cores: list[float] = field(default_factory=list)  # CPU per worker, in cores


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def section_throughput_and_models(report: Report, app, fakes_pid: dict[Any, int],
                                  profile: Profile) -> list[ModelResult]:
    workers = os.cpu_count() or 1
    seconds = profile.wrk_seconds
    report.section("Throughput", f"`{shlex.join(wrk_command('URL', seconds))}` against the "
                   f"shipped config ({workers} HeadFirstWorker workers × 96 threads, 64 MemOS "
                   f"slots each) with a 200 ms "
                   f"upstream, {PAGE_SIZE}-message page. Ideal = {CONNECTIONS} connections / "
                   f"0.2 s = {CONNECTIONS / 0.2:.0f} req/s; target ≥ 95% of it and zero errors "
                   "(non-2xx responses or socket errors).")
    gevent = ("--worker-class", "gevent", "--worker-connections", "1000")
    gevent_env = {"MEMOS_POOL_SIZE": str(CONNECTIONS)}
    gevent_note = f"MEMOS_POOL_SIZE={CONNECTIONS}"
    configs = [  # label, fake, env, gunicorn arguments, ideal req/s, note
        ("HeadFirstWorker (gthread), 96 threads (shipped)", 0.2, {}, (),
         min(CONNECTIONS, workers * 64) / 0.2, ""),
        ("the same, 48 threads, a third in flight (before)", 0.2,
         {"GUNICORN_THREADS": "48", "MEMOS_MAX_IN_FLIGHT": "16"}, (),
         min(CONNECTIONS, workers * 48) / 0.2, "GUNICORN_THREADS=48 MEMOS_MAX_IN_FLIGHT=16"),
        ("gevent, 1000 worker-connections", 0.2, gevent_env, gevent, CONNECTIONS / 0.2,
         gevent_note),
        ("gthread, 16 threads", 0.2, {"GUNICORN_THREADS": "16"}, (),
         min(CONNECTIONS, workers * 16) / 0.2, "GUNICORN_THREADS=16"),
        ("HeadFirstWorker (gthread), 96 threads (shipped), upstream 200 ± 50 ms", (0.2, 0.05),
         {}, (), min(CONNECTIONS, workers * 64) / 0.2, "upstream jitter"),
        ("gevent, 1000 worker-connections, upstream 200 ± 50 ms", (0.2, 0.05), gevent_env,
         gevent, CONNECTIONS / 0.2, f"upstream jitter, {gevent_note}"),
    ]
    results = []
    for label, fake, env, args, ideal, note in configs:
        if "gevent" in args and not package_version("gevent"):
            results.append(ModelResult(label, ideal, None, [], None, "skipped: gevent not "
                                       "installed (pip install -r requirements-dev.txt)"))
            print(f"  {label}: skipped (gevent not installed)", flush=True)
            continue
        if isinstance(fake, tuple) and profile.name == "smoke":
            results.append(ModelResult(label, ideal, None, [], None, "not run with --smoke"))
            print(f"  {label}: not run with --smoke", flush=True)
            continue
        server = app(label, fake, env=env, args=args)
        url = page_url(server.url)
        if profile.warmup_seconds:
            run_wrk(url, profile.warmup_seconds)  # connections, pools and caches warm
        else:
            for _ in range(3):
                requests.get(url, timeout=10)
        pids, fake_pid = server.workers(), fakes_pid[fake]
        app_cpu, fake_cpu = cpu_seconds(pids), cpu_seconds([fake_pid])
        worker_cpu = [(pid, cpu_seconds([pid])) for pid in pids]
        wrk_cpu = _children_cpu()
        result, connections = run_wrk(url, seconds, server.port, pids)
        wrk_cpu = _children_cpu() - wrk_cpu
        app_cpu, fake_cpu = cpu_seconds(pids) - app_cpu, cpu_seconds([fake_pid]) - fake_cpu
        worker_cpu = [(pid, cpu_seconds([pid]) - before) for pid, before in worker_cpu]
        worker_rss = [(pid, rss_kib(pid)) for pid in server.workers()]
        master_rss = rss_kib(server.process.pid)
        server.close()
        results.append(ModelResult(label, ideal, result, worker_rss, master_rss, note,
                                   app_cpu, fake_cpu, wrk_cpu, connections,
                                   [used / (result.seconds or 1.0) for _, used in worker_cpu]))
        print(f"  {label}: {result.requests_per_second:.1f} req/s, {result.errors} errors, "
              f"p50 {ms(result.latency.get('50', float('nan')))}, "
              f"p99 {ms(result.latency.get('99', float('nan')))}", flush=True)

    shipped = results[0].wrk
    # Pages served: errors (a quick 503 when MemOS is "busy") would count as throughput.
    served = max(0, shipped.requests - shipped.non_2xx) / (shipped.seconds or 1.0)
    rate_ok = served >= 0.95 * CONNECTIONS / 0.2
    errors_ok = shipped.errors == 0
    report.table(("req/s", "pages served per s (2xx)", "% of ideal", "requests",
                  "errors (non-2xx + socket)", "p50", "p90", "p99", "target", "met"), [(
                      f"{shipped.requests_per_second:.1f}", f"{served:.1f}",
                      f"{served / (CONNECTIONS / 0.2):.0%}",
                      shipped.requests, f"{shipped.errors} ({shipped.non_2xx} + "
                      f"{sum(shipped.socket_errors.values())})",
                      *(ms(shipped.latency.get(p, float("nan"))) for p in ("50", "90", "99")),
                      f"≥ {0.95 * CONNECTIONS / 0.2:.0f} req/s, 0 errors",
                      met(rate_ok and errors_ok))])
    report.target("throughput, 64 connections, 200 ms upstream: pages served", "≥ 304 req/s (95%)",
                  f"{served:.1f} req/s ({served / (CONNECTIONS / 0.2):.0%})", rate_ok)
    report.target("errors during the throughput run", "0", str(shipped.errors), errors_ok)
    report.lines += ["<details><summary>wrk output (shipped config)</summary>", "",
                     "```", shipped.output.strip(), "```", "", "</details>", ""]

    report.section("Worker models", "The same wrk run against gunicorn setups, one after "
                   "another: the shipped gthread config, gevent, gthread with 16 threads, each "
                   "with the 200 ms upstream; then gthread and gevent again with an upstream "
                   "of 200 ± 50 ms (uniform jitter, same mean), as a real upstream varies. "
                   "Ideal = concurrent requests the setup can hold (at most 64) / 0.2 s. CPU is "
                   "what each process used during the run (user+sys from /proc), in cores; a "
                   "worker runs Python on at most one core (one GIL). Connections per worker: "
                   "wrk's kept-alive connections each worker held halfway through the run. "
                   "RSS: the sum over workers right after the run (per process under Memory).")
    rows = []
    for result in results:
        if result.wrk is None:
            rows.append((result.label, f"{result.ideal:.0f}", *["—"] * 10, result.note))
            continue
        total_rss = sum(rss or 0 for _, rss in result.worker_rss)
        duration = result.wrk.seconds or 1.0
        rows.append((result.label, f"{result.ideal:.0f}",
                     f"{result.wrk.requests_per_second:.1f}",
                     f"{result.wrk.requests_per_second / result.ideal:.0%}", result.wrk.errors,
                     ms(result.wrk.latency.get("50", float("nan"))),
                     ms(result.wrk.latency.get("99", float("nan"))),
                     ms(result.app_cpu / max(result.wrk.requests, 1)),
                     " / ".join(f"{cores:.2f}" for cores in result.worker_cores),
                     f"{result.fake_cpu / duration:.2f} / {result.wrk_cpu / duration:.2f}",
                     " / ".join(map(str, result.connections)) or "?",
                     f"{total_rss / 1024:.1f} MiB",
                     result.note or "—"))
    report.table(("setup", "ideal req/s", "req/s", "% of ideal", "errors", "p50", "p99",
                  "app CPU per request", "cores used per worker", "cores used: fake / wrk",
                  "connections per worker", "worker RSS", "notes"), rows)
    ran = [result for result in results if result.wrk is not None]
    if ran:
        busiest = max(max(result.worker_cores or [0.0]) for result in ran)
        medians = [result.wrk.latency.get("50", float("nan")) * 1000 for result in ran]
        report.text(
            "Reading: req/s = 64 connections / mean latency (Little's law), so any wait "
            "beyond the upstream's 200 ms costs throughput. Here no worker used more than "
            f"{busiest:.2f} of its one core on average during a run, while p50 latencies were "
            f"{min(medians):.0f}–{max(medians):.0f} ms: when a worker is not saturated on "
            "average, such waits are requests queueing for its GIL in bursts. With a constant "
            "upstream latency, the 64 connections' requests "
            "come back in bunches, and each worker serves its bunch one request at a time "
            "(app CPU per request × connections per worker); upstream jitter spreads the "
            "bunches out. gthread also splits connections unevenly between its workers "
            "(see connections per worker), and its threads contend for one GIL.")
    return results


def section_memory(report: Report, results: list[ModelResult]) -> None:
    report.section("Memory", "Resident set size (VmRSS from /proc/<pid>/status) of each "
                   "gunicorn worker (`ps --ppid <master>`) right after its throughput run, "
                   "and of the master.")
    rows = []
    for result in results:
        if result.wrk is None:
            rows.append((result.label, "—", "—", result.note))
            continue
        for pid, rss in result.worker_rss:
            rows.append((result.label, f"worker {pid}",
                         f"{rss / 1024:.1f} MiB" if rss else "?", ""))
        rows.append((result.label, "master", f"{(result.master_rss or 0) / 1024:.1f} MiB", ""))
    report.table(("setup", "process", "RSS", "note"), rows)
