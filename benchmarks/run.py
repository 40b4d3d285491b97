"""The benchmark suite: ``make bench``, or ``python -m benchmarks.run [--quick|--smoke]``.

Everything runs on 127.0.0.1: fake MemOS upstreams (benchmarks/fake_upstream.py, one process per
latency) and the app under gunicorn with the shipped gunicorn.conf.py, started as subprocesses
and always stopped. Each section prints its numbers as it goes; the whole report is written to
docs/benchmarks.md (or ``--output``) and printed at the end. Every loop is bounded by a sample
count and a time budget. Sections: fake upstream, overhead, bytes, render cost, throughput,
worker models, memory.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import math
import os
import platform
import pstats
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
USER, CONVERSATION = "bench-user", "bench-conversation"
PAGE_SIZE = 6  # the app's CHAT_PAGE_SIZE default, and what a first page shows
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"
CONNECTIONS = 64
SECTIONS = ("Fake upstream", "Overhead", "Bytes", "Render cost", "Throughput", "Worker models",
            "Memory")  # in the order they run and are reported
# Settings the app or gunicorn.conf.py read from the environment: the benchmark sets its own.
CLEARED_ENV = ("BIND", "HOST", "PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT",
               "GUNICORN_CMD_ARGS", "MEMOS_API_KEY", "MEMOS_BASE_URL", "MEMOS_IS_GLOBAL",
               "MEMOS_TIMEOUT", "MEMOS_DEADLINE", "MEMOS_POOL_SIZE", "MEMOS_TIMEZONE",
               "MEMOS_MAX_LIMIT", "MEMOS_LOCAL_DB", "CHAT_PAGE_SIZE", "DISPLAY_TIMEZONE",
               "EMBED_SECRET", "EMBED_ALLOWED_ORIGINS", "TRUSTED_PROXIES",
               "READYZ_CACHE_SECONDS", "LOG_LEVEL")


@dataclass(frozen=True)
class Profile:
    """How much to measure: sample counts, time budgets (seconds) and wrk's duration."""

    name: str
    overhead_samples: int
    overhead_budget: float
    fake_samples: int
    render_samples: int
    render_budget: float
    wrk_seconds: int
    warmup_seconds: int
    profile_requests: int
    warmup_pairs: int  # untimed pairs before each sampled series


PROFILES = {
    "full": Profile("full", 200, 120, 200, 30, 90, 15, 2, 5, 2),
    "quick": Profile("quick", 60, 40, 60, 10, 30, 5, 1, 3, 2),
    "smoke": Profile("smoke", 5, 10, 5, 1, 15, 1, 0, 1, 1),
}


# --- small helpers ------------------------------------------------------------------------

def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def kib(size: float) -> str:
    return f"{size / 1024:.1f} KiB"


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, from /proc/<pid>/status."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by ``pids``, from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (gunicorn's workers), via ``ps --ppid``."""
    result = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True,
                            text=True, timeout=10)
    return sorted(int(token) for token in result.stdout.split())


def stop_process(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the process (a session leader we started), then SIGKILL its group if needed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # whatever is left in the group we created (e.g. workers of a killed master)
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


# --- servers ------------------------------------------------------------------------------

class Fake:
    """benchmarks/fake_upstream.py in its own process (its own GIL), on 127.0.0.1."""

    def __init__(self, latency: float, jitter: float = 0.0, messages: int = 2000) -> None:
        self.latency = latency
        command = [sys.executable, "-m", "benchmarks.fake_upstream", "--latency", str(latency),
                   "--jitter", str(jitter), "--messages", str(messages), "--port", "0"]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, text=True,
                                        start_new_session=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 20)
        line = self.process.stdout.readline().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            stop_process(self.process, 2)
            raise RuntimeError(f"the fake upstream did not start (said {line!r})")
        self.base_url = line

    def close(self) -> None:
        stop_process(self.process, 5)


class Gunicorn:
    """The app under gunicorn with gunicorn.conf.py, as a subprocess on 127.0.0.1."""

    def __init__(self, label: str, upstream: str, log_dir: Path, *, args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.label = label
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {key: value for key, value in os.environ.items() if key not in CLEARED_ENV}
        environ.update({"MEMOS_BASE_URL": upstream, "MEMOS_API_KEY": "bench",
                        "PORT": str(self.port), "HOST": "127.0.0.1", **(env or {})})
        gunicorn = Path(sys.executable).with_name("gunicorn")
        if not gunicorn.exists():
            gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
        # No control socket: the default (~/.gunicorn/gunicorn.ctl) is one path for every
        # gunicorn on the machine, and these are throwaway instances.
        self.command = [str(gunicorn), "--config", "gunicorn.conf.py", "--no-control-socket",
                        *args, "app:create_app()"]
        self.log_path = log_dir / f"gunicorn-{re.sub(r'[^a-z0-9]+', '-', label.lower())}.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=environ,
                                        stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(int(environ.get("WEB_CONCURRENCY", os.cpu_count() or 1)))
        except BaseException:
            self.close()
            raise

    def _wait_ready(self, workers: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.label}) exited: see {self.log_path}:\n"
                                   + self.log_path.read_text(errors="replace")[-2000:])
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200 \
                        and len(children(self.process.pid)) >= workers:
                    time.sleep(0.5)  # let the last worker finish loading the app
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn ({self.label}) did not answer /healthz within 30 s")

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def close(self) -> None:
        stop_process(self.process, 20)
        self.log.close()


# --- measurements -------------------------------------------------------------------------

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
    for _ in range(warmup):  # connections, caches
        first()
        second()
    a, b = [], []
    deadline = time.monotonic() + budget
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        a.append(timed(first))
        b.append(timed(second))
    return a, b


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
        socket_errors = dict(zip(socket_errors, map(int, errors.groups())))
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


def connections_per_process(port: int, pids: list[int]) -> list[int]:
    """Established TCP connections on local ``port`` held by each of ``pids`` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])  # state 01 = ESTABLISHED; field 9 = socket inode
    counts = []
    for pid in pids:
        held = 0
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    held += 1
        except OSError:
            pass
        counts.append(held)
    return counts


class AssetLinks(HTMLParser):
    """Collects what a browser would fetch for a page, and the load-more URL."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.load_more: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("href") and set((values.get("rel") or "").split()) \
                & {"stylesheet", "icon", "preload", "modulepreload"}:
            self.assets.append(values["href"])
        elif tag in ("script", "img") and values.get("src"):
            self.assets.append(values["src"])
        if values.get("id") == "load-more" and values.get("data-hx-get"):
            self.load_more = values["data-hx-get"]


@dataclass
class Transfer:
    url: str
    status: int
    encoding: str
    body_bytes: int       # as sent (compressed)
    header_bytes: int     # status line and headers, as sent (approximately)
    decoded: bytes

    @property
    def wire_bytes(self) -> int:
        return self.body_bytes + self.header_bytes


def fetch(session: requests.Session, url: str, headers: dict[str, str] | None = None) -> Transfer:
    response = session.get(url, stream=True, timeout=30, allow_redirects=False,
                           headers={"Accept-Encoding": BROWSER_ENCODINGS, **(headers or {})})
    raw = response.raw.read(decode_content=False)
    encoding = response.headers.get("Content-Encoding", "identity")
    header_bytes = len(f"HTTP/1.1 {response.status_code} {response.reason}\r\n") + 2 + sum(
        len(name) + len(value) + 4 for name, value in response.raw.headers.items())
    return Transfer(url, response.status_code, encoding, len(raw), header_bytes,
                    decode(raw, encoding))


def decode(raw: bytes, encoding: str) -> bytes:
    if encoding == "br":
        import brotli
        return brotli.decompress(raw)
    if encoding in ("gzip", "deflate"):
        import zlib
        return zlib.decompress(raw, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    if encoding == "zstd":
        try:
            from compression import zstd  # Python 3.14+
        except ImportError:
            from backports import zstd
        return zstd.decompress(raw)
    return raw


# --- profiling the render of a big page ---------------------------------------------------

def profile_page(upstream: str, limit: int, requests_count: int) -> dict[str, Any]:
    """Profile ``limit``-message pages in this process (Flask's test client, cProfile): where
    the time goes, by package and by function, in milliseconds per page."""
    sys.path.insert(0, str(ROOT))
    from app import create_app

    app = create_app({"MEMOS_BASE_URL": upstream, "MEMOS_API_KEY": "bench",
                      "MEMOS_MAX_LIMIT": 1000, "LOG_LEVEL": "WARNING", "MEMOS_LOCAL_DB": "",
                      "EMBED_SECRET": "", "TRUSTED_PROXIES": 0, "CHAT_PAGE_SIZE": PAGE_SIZE})
    client = app.test_client()
    path = "/chat?" + urlencode({"user_id": USER, "conversation_id": CONVERSATION,
                                 "limit": limit})
    headers = {"Accept-Encoding": BROWSER_ENCODINGS}
    if client.get(path, headers=headers).status_code != 200:  # warm-up (imports, caches)
        raise RuntimeError(f"the in-process app did not render the {limit}-message page")
    components = component_times(app, client, path, headers, upstream, limit, requests_count)
    # Timed in this process's CPU time: other processes on a busy machine don't show up.
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.enable()
    for _ in range(requests_count):
        client.get(path, headers=headers)
    profiler.disable()
    wall = (time.process_time() - started) / requests_count
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)
    by_package: dict[str, float] = {}
    functions = []
    for (filename, line, name), (_, calls, self_time, cumulative, _) in stats.items():
        by_package[_package(filename, name)] = by_package.get(_package(filename, name), 0.0) \
            + self_time
        functions.append((self_time, cumulative, calls, _function_name(filename, line, name)))
    total = sum(by_package.values()) or 1.0
    cumulative_of = {}
    for label, places in HOTSPOTS.items():
        cumulative_of[label] = sum(
            value[3] for (filename, _, name), value in stats.items()
            if any(name == function and filename.replace(os.sep, "/").endswith(module)
                   for module, function in places))
    return {
        "requests": requests_count,
        "wall_per_page": wall,
        "profiled_per_page": total / requests_count,
        "by_package": sorted(((seconds / requests_count, seconds / total, package)
                              for package, seconds in by_package.items()), reverse=True)[:10],
        "top_functions": sorted(functions, reverse=True)[:12],
        "hotspots": {label: seconds / requests_count for label, seconds in cumulative_of.items()},
        "components": components,
    }


def component_times(app, client, path: str, headers: dict[str, str], upstream: str, limit: int,
                    repeats: int) -> list[tuple[str, float]]:
    """CPU time per page of each step, measured without a profiler: the whole page, then each
    step run on its own over the same messages; the rest is Flask, Jinja and compression."""
    from memos_api import message_from_api
    from viewer.presentation import body_html
    from viewer.rendering import MARKDOWN, sanitize_html

    def cpu(call) -> float:
        started = time.process_time()
        for _ in range(repeats):
            call()
        return (time.process_time() - started) / repeats

    session = requests.Session()
    body = json.dumps({"user_id": USER, "conversation_id": CONVERSATION,
                       "message_limit_number": limit})

    def fetch_json() -> list:
        response = session.post(upstream + "/get/message", data=body, timeout=30,
                                headers={"Content-Type": "application/json"})
        return json.loads(response.content)["data"]["message_detail_list"]

    items = fetch_json()
    zone = app.config["MEMOS_TIMEZONE"]
    messages = [message_from_api(item, zone) for item in items]
    texts = [(message, message.text) for message in messages]
    markdown = [text for message, text in texts if message.role in ("assistant", "system")]
    html = [MARKDOWN.render(text) for text in markdown]
    whole = cpu(lambda: client.get(path, headers=headers))
    fetch = cpu(fetch_json)
    parse = cpu(lambda: [message_from_api(item, zone) for item in items])
    bodies = cpu(lambda: [body_html(message, text) for message, text in texts])
    session.close()
    return [
        ("whole page, in-process (test client)", whole),
        ("upstream fetch: requests POST + json.loads", fetch),
        (f"parse: message_from_api × {len(items)}", parse),
        (f"message bodies: body_html × {len(texts)}", bodies),
        (f"    markdown-it render alone × {len(markdown)} (assistant)",
         cpu(lambda: [MARKDOWN.render(text) for text in markdown])),
        (f"    nh3 sanitize alone × {len(html)}",
         cpu(lambda: [sanitize_html(fragment) for fragment in html])),
        ("the rest: Flask, Jinja templates and filters, sorting, compression",
         whole - fetch - parse - bodies),
    ]


# Cumulative time of the steps of one page, for the report: label -> (module suffix, function)
# pairs whose cumulative times are added up. Indented steps run inside the one above them.
HOTSPOTS = {
    "whole request (Flask test client)": [("flask/app.py", "wsgi_app")],
    "upstream call (HTTP, JSON, message_from_api)": [("memos_api/client.py", "get_messages")],
    "  of which message_from_api (parsing each message)": [("memos_api/models.py",
                                                            "message_from_api")],
    "  of which requests' proxy lookup in os.environ": [("requests/sessions.py",
                                                        "merge_environment_settings")],
    "Jinja templates in all": [("jinja2/environment.py", "render")],
    "  message bodies: render_markdown (assistant, system)": [("viewer/rendering.py",
                                                               "render_markdown")],
    "    markdown-it parse + render (Pygments included)": [("markdown_it/main.py", "render")],
    "    Pygments (fenced code)": [("pygments/__init__.py", "highlight")],
    "    nh3 sanitizer": [("viewer/rendering.py", "sanitize_html")],
    "  time filters (iso_time, clock_time, full_time)": [
        ("viewer/templating.py", name) for name in ("iso_time", "clock_time", "full_time")],
    "  include/import lookups (get_template, per message)": [("jinja2/environment.py",
                                                              "get_template")],
    "  day breaks (with_day_breaks)": [("viewer/presentation.py", "day_breaks")],
    "anchor digests (history)": [("viewer/history.py", "anchor_token")],
    "compression (Flask-Compress)": [("flask_compress/flask_compress.py", "after_request")],
}


def _package(filename: str, name: str) -> str:
    path = filename.replace(os.sep, "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if path.startswith(str(ROOT)):
        relative = path[len(str(ROOT)) + 1:]
        return relative.split("/", 1)[0] if "/" in relative else relative
    if path == "~":  # a builtin: name it by its object
        match = re.search(r"of '([\w.]+)'|method ([\w.]+)|function ([\w.]+)", name)
        label = next((group for group in match.groups() if group), name) if match else name
        return f"built-in {label.split('.')[0]}"
    return "stdlib " + Path(path).stem


def _function_name(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name
    path = filename.replace(os.sep, "/")
    short = path.split("site-packages/", 1)[-1]
    if short.startswith(str(ROOT)):
        short = short[len(str(ROOT)) + 1:]
    elif short == path:
        short = "stdlib/" + Path(path).name
    return f"{short}:{line}({name})"


# --- the run ------------------------------------------------------------------------------

@dataclass
class Report:
    profile: Profile
    command: str
    lines: list[str] = field(default_factory=list)
    summary: list[tuple[str, str, str, str]] = field(default_factory=list)
    date: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC"))
    machine: list[tuple[str, str]] = field(default_factory=lambda: machine_rows())
    started: float = field(default_factory=time.monotonic)

    def section(self, title: str, intro: str = "") -> None:
        print(f"\n== {title} ==  (at {time.monotonic() - self.started:.1f} s)", flush=True)
        self.lines += ["", f"## {title}", ""]
        if intro:
            self.lines += [intro, ""]

    def table(self, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "---|" * len(header))
        for row in rows:
            self.lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
            print("  " + "  ".join(f"{h}: {c}" for h, c in zip(header, row)).replace(
                "&nbsp;", " "), flush=True)
        self.lines.append("")

    def text(self, *paragraphs: str) -> None:
        for paragraph in paragraphs:
            print("  " + paragraph, flush=True)
            self.lines += [paragraph, ""]

    def target(self, what: str, target: str, measured: str, ok: bool | None) -> None:
        self.summary.append((what, target, measured, met(ok)))


def machine_rows() -> list[tuple[str, str]]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        total = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {total / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10)
    wrk_version = (wrk.stdout or wrk.stderr).split("[")[0].replace("wrk", "").strip() or "?"
    versions = [f"Python {platform.python_version()}", f"gunicorn {_version('gunicorn')}",
                f"gevent {_version('gevent') or 'not installed'}", f"wrk {wrk_version}"]
    return [("machine", f"nproc {os.cpu_count()}, {model}{memory}, {platform.system()} "
                        f"{platform.release()}"),
            ("load average at start (1/5/15 min)", f"{load} (a shared machine: expect noise)"),
            ("software", ", ".join(versions))]


def _version(package: str) -> str:
    from importlib import metadata
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


def run(profile: Profile, command: str) -> Report:
    report = Report(profile, command)
    print(f"Benchmarks ({profile.name}) on " + "; ".join(
        value for _, value in report.machine), flush=True)
    started = time.monotonic()
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

        section_fake(report, session, fakes, profile)
        shipped = app("gthread (shipped), 50 ms upstream", 0.05)
        section_overhead(report, session, shipped, fakes, profile)
        section_bytes(report, session, shipped)
        big = app("gthread (shipped), 1000-message page", 0.0, env={"MEMOS_MAX_LIMIT": "1000"})
        section_render(report, session, big, fakes[0.0], profile)
        fakes_pid = {key: fake.process.pid for key, fake in fakes.items()}
        models = section_throughput_and_models(report, app, fakes_pid, profile)
        section_memory(report, models)
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    report.lines.insert(0, f"Run took {time.monotonic() - started:.0f} s; load average at the "
                        f"end {load}.")
    return report


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

        def light_call() -> None:
            connection.request("POST", urlsplit(fake.base_url).path + "/get/message", body=body,
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"the fake upstream answered {response.status}")

        try:
            light, heavy = paired_samples(
                light_call, lambda: direct_call(session, fake.base_url, PAGE_SIZE + 1),
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


def section_overhead(report: Report, session: requests.Session, app: Gunicorn, fakes: dict,
                     profile: Profile) -> None:
    report.section("Overhead", "What the app adds to a page over the MemOS call it makes: the "
                   f"median time of `GET /chat?user_id&conversation_id` ({PAGE_SIZE} messages, "
                   "browser `Accept-Encoding`, kept-alive connection, body read as sent) minus "
                   "the median time of the same upstream call made directly, both against the "
                   "fake at 50 ms, sampled alternately. App: gunicorn with gunicorn.conf.py "
                   f"(`{shlex.join(app.command[1:])}`).")
    upstream = fakes[0.05].base_url
    url = page_url(app.url)
    for _ in range(5):  # templates compiled, connections made, before counting CPU
        page_load(session, url)
    workers = app.workers()
    cpu_before = cpu_seconds(workers)
    pages, direct = paired_samples(lambda: page_load(session, url),
                                   lambda: direct_call(session, upstream, PAGE_SIZE + 1),
                                   profile.overhead_samples, profile.overhead_budget,
                                   profile.warmup_pairs)
    cpu_per_page = (cpu_seconds(workers) - cpu_before) / (len(pages) + profile.warmup_pairs)
    overhead = median(pages) - median(direct)
    ok = overhead <= 0.002
    report.table(("measure", "samples", "median", "p90", "min"), [
        ("page `GET /chat` (via the app)", len(pages), ms(median(pages)),
         ms(percentile(pages, 0.9)), ms(min(pages))),
        ("direct upstream call", len(direct), ms(median(direct)), ms(percentile(direct, 0.9)),
         ms(min(direct))),
    ])
    report.table(("overhead (median page − median direct)", "target", "met",
                  "workers' CPU per page (user+sys, less sensitive to noise)"),
                 [(ms(overhead), "≤ 2 ms", met(ok), ms(cpu_per_page))])
    report.target("overhead of a 6-message page at 50 ms upstream", "≤ 2 ms", ms(overhead), ok)
    if not ok:
        report_profile(report, profile_page(fakes[0.0].base_url, PAGE_SIZE,
                                            profile.profile_requests * 10))


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
    ok = cost <= 0.015
    report.table(("measure", "samples", "median", "p90", "min"), [
        ("1000-message page (via the app)", len(pages), ms(median(pages)),
         ms(percentile(pages, 0.9)), ms(min(pages))),
        ("direct upstream call, 1000 messages", len(direct), ms(median(direct)),
         ms(percentile(direct, 0.9)), ms(min(direct))),
    ])
    report.table(("render cost (median page − median direct)", "per message", "target", "met",
                  "workers' CPU per page (user+sys)"),
                 [(ms(cost), f"{cost * 1e6 / 1000:.0f} µs", "≤ 15 ms", met(ok),
                   ms(cpu_per_page))])
    report.target("render cost of a 1000-message page", "≤ 15 ms", ms(cost), ok)
    if not ok:
        report_profile(report, profile_page(fake.base_url, 1000, profile.profile_requests))


def report_profile(report: Report, found: dict[str, Any]) -> None:
    """Where a page's time goes, from ``profile_page``: steps, packages, functions."""
    report.text("Over target, so measured step by step: CPU time per page of each step "
                "run on its own in this process, over the same messages, without a profiler "
                "(the fake's CPU is not included):")
    whole_page = found["components"][0][1] or 1.0
    report.table(("step", "CPU per page", "share"),
                 [(label.replace("    ", "&nbsp;" * 4), ms(seconds), f"{seconds / whole_page:.0%}")
                  for label, seconds in found["components"]])
    report.text(
        f"And profiled: {found['requests']} page(s) rendered in this process "
        f"(Flask test client, upstream latency 0, cProfile timing this process's CPU time so "
        f"other processes don't count; profiling inflates times, so read the shares): "
        f"{ms(found['wall_per_page'])} of CPU per page under the profiler.",
        "Where one page's time goes (cumulative CPU time, per page):")
    whole = found["hotspots"]["whole request (Flask test client)"] or 1.0
    report.table(("step", "time per page", "share"),
                 [("&nbsp;" * 4 * ((len(label) - len(label.lstrip())) // 2) + label.strip(),
                   ms(seconds), f"{seconds / whole:.0%}")
                  for label, seconds in found["hotspots"].items()])
    report.text("Self time by package:")
    report.table(("package", "self time per page", "share"),
                 [(package, ms(seconds), f"{share:.0%}")
                  for seconds, share, package in found["by_package"]])
    report.text("Top functions by self time:")
    report.table(("function", "self per page", "cumulative per page", "calls per page"),
                 [(f"`{name}`", ms(own / found["requests"]), ms(cum / found["requests"]),
                   calls // found["requests"])
                  for own, cum, calls, name in found["top_functions"]])


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
                   f"shipped gthread config ({workers} workers × 48 threads) with a 200 ms "
                   f"upstream, {PAGE_SIZE}-message page. Ideal = {CONNECTIONS} connections / "
                   f"0.2 s = {CONNECTIONS / 0.2:.0f} req/s; target ≥ 90% of it and zero errors "
                   "(non-2xx responses or socket errors).")
    gevent = ("--worker-class", "gevent", "--worker-connections", "1000")
    gevent_env = {"MEMOS_POOL_SIZE": str(CONNECTIONS)}
    gevent_note = f"MEMOS_POOL_SIZE={CONNECTIONS}"
    configs = [  # label, fake, env, gunicorn arguments, ideal req/s, note
        ("gthread, 48 threads (shipped)", 0.2, {}, (), min(CONNECTIONS, workers * 48) / 0.2,
         ""),
        ("gevent, 1000 worker-connections", 0.2, gevent_env, gevent, CONNECTIONS / 0.2,
         gevent_note),
        ("gthread, 16 threads", 0.2, {"GUNICORN_THREADS": "16"}, (),
         min(CONNECTIONS, workers * 16) / 0.2, "GUNICORN_THREADS=16"),
        ("gthread, 48 threads (shipped), upstream 200 ± 50 ms", (0.2, 0.05), {}, (),
         min(CONNECTIONS, workers * 48) / 0.2, "upstream jitter"),
        ("gevent, 1000 worker-connections, upstream 200 ± 50 ms", (0.2, 0.05), gevent_env,
         gevent, CONNECTIONS / 0.2, f"upstream jitter, {gevent_note}"),
    ]
    results = []
    for label, fake, env, args, ideal, note in configs:
        if "gevent" in args and not _version("gevent"):
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
    rate_ok = shipped.requests_per_second >= 0.9 * CONNECTIONS / 0.2
    errors_ok = shipped.errors == 0
    report.table(("req/s", "% of ideal", "requests", "errors (non-2xx + socket)", "p50", "p90",
                  "p99", "target", "met"), [(
                      f"{shipped.requests_per_second:.1f}",
                      f"{shipped.requests_per_second / (CONNECTIONS / 0.2):.0%}",
                      shipped.requests, f"{shipped.errors} ({shipped.non_2xx} + "
                      f"{sum(shipped.socket_errors.values())})",
                      *(ms(shipped.latency.get(p, float("nan"))) for p in ("50", "90", "99")),
                      f"≥ {0.9 * CONNECTIONS / 0.2:.0f} req/s, 0 errors",
                      met(rate_ok and errors_ok))])
    report.target("throughput, 64 connections, 200 ms upstream", "≥ 288 req/s",
                  f"{shipped.requests_per_second:.1f} req/s", rate_ok)
    report.target("errors during the throughput run", "0", str(shipped.errors), errors_ok)
    report.lines += ["<details><summary>wrk output (shipped gthread)</summary>", "",
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
            "(see connections per worker), and its 48 threads contend for one GIL.")
    return results


def section_bytes(report: Report, session: requests.Session, app: Gunicorn) -> None:
    report.section("Bytes", f"A first page load as a browser makes it (`Accept-Encoding: "
                   f"{BROWSER_ENCODINGS}`): the page, then every stylesheet, script and icon it "
                   "references, then one load-more (`GET /chat/older` from the page's "
                   "`data-hx-get`, with `HX-Request: true`). Body bytes as sent; headers "
                   "counted approximately.")
    page = fetch(session, page_url(app.url))
    links = AssetLinks()
    links.feed(page.decoded.decode("utf-8", "replace"))
    transfers = [page] + [fetch(session, urljoin(page.url, asset)) for asset in links.assets]
    rows = [(urlsplit(t.url).path, t.status, t.encoding, f"{len(t.decoded):,}",
             f"{t.body_bytes:,}", f"{t.wire_bytes:,}") for t in transfers]
    first_load = sum(t.wire_bytes for t in transfers)
    first_ok = first_load <= 30 * 1024 and all(t.status == 200 for t in transfers)
    if not links.load_more:
        raise RuntimeError("the first page has no load-more control (data-hx-get)")
    older = fetch(session, urljoin(page.url, links.load_more), {"HX-Request": "true"})
    new_messages = older.decoded.count(b"data-role=")
    on_page = page.decoded.count(b"data-role=")
    rows.append(("/chat/older (load-more, HX-Request)", older.status, older.encoding,
                 f"{len(older.decoded):,}", f"{older.body_bytes:,}", f"{older.wire_bytes:,}"))
    report.table(("request", "status", "encoding", "decoded bytes", "body bytes sent",
                  "with headers"), rows)
    only_new = older.status == 200 and new_messages == PAGE_SIZE and on_page == PAGE_SIZE
    report.table(("measure", "value", "target", "met"), [
        ("first page load, all requests", f"{first_load:,} B ({kib(first_load)})",
         "≤ 30 KiB (README)", met(first_ok)),
        ("one load-more response", f"{older.wire_bytes:,} B ({kib(older.wire_bytes)})", "—",
         "—"),
        ("messages (`data-role=`) on the first page / in the load-more", f"{on_page} / "
         f"{new_messages}", f"{PAGE_SIZE} / {PAGE_SIZE} (only the new ones)", met(only_new)),
    ])
    report.target("first page load transferred", "≤ 30 KiB", kib(first_load), first_ok)
    report.target("load-more carries only the new messages", f"{PAGE_SIZE} `data-role=`",
                  str(new_messages), only_new)


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


def render_markdown(report: Report) -> str:
    header = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`{report.command}`) — do not edit; rerun it. Profile: "
        f"**{report.profile.name}**. Everything runs on 127.0.0.1: the app under gunicorn with "
        "the shipped `gunicorn.conf.py`, against `benchmarks/fake_upstream.py` (a "
        "MemOS-compatible upstream with a latency knob, serving a 2000-message conversation).",
        "",
        "| | |",
        "|---|---|",
        f"| date | {report.date} |",
        *(f"| {name} | {value} |" for name, value in report.machine),
        f"| command | `{report.command}` |",
        "",
        "## Targets",
        "",
        "| what | target | measured | met |",
        "|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in report.summary),
        "",
    ]
    return "\n".join(header + report.lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split(
        "\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer samples, 5 s wrk runs")
    size.add_argument("--smoke", action="store_true",
                      help="a handful of requests per section, 1 s wrk runs (for the test)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"report file (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install -y wrk (make test installs it)",
              file=sys.stderr)
        return 2
    profile = PROFILES["smoke" if args.smoke else "quick" if args.quick else "full"]
    command = "python -m benchmarks.run" + ("" if profile.name == "full" else f" --{profile.name}")

    def interrupted(signum, frame):  # let ExitStack stop every server we started
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, interrupted)
    report = run(profile, command)
    text = render_markdown(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print("\n" + text)
    print(f"Written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
