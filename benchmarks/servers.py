"""The processes the benchmarks start, and what is read about processes from /proc.

``Fake`` (benchmarks/fake_upstream.py) and ``Gunicorn`` (the app with gunicorn.conf.py) run as
subprocesses on 127.0.0.1 in their own sessions, so ``stop_process`` can always stop them and
whatever they started; ``rss_kib``, ``cpu_seconds`` and ``connections_per_process`` read a
process's memory, CPU time and TCP connections.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from benchmarks.config import PAGE_SIZE, ROOT

# Settings the app or gunicorn.conf.py read from the environment: the benchmark sets its own.
CLEARED_ENV = ("BIND", "HOST", "PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT",
               "GUNICORN_CMD_ARGS", "MEMOS_API_KEY", "MEMOS_BASE_URL", "MEMOS_IS_GLOBAL",
               "MEMOS_TIMEOUT", "MEMOS_DEADLINE", "MEMOS_POOL_SIZE", "MEMOS_TIMEZONE",
               "MEMOS_MAX_LIMIT", "MEMOS_LOCAL_DB", "CHAT_PAGE_SIZE", "DISPLAY_TIMEZONE",
               "EMBED_SECRET", "EMBED_ALLOWED_ORIGINS", "TRUSTED_PROXIES", "VIEWER_ACCESS",
               "RATE_LIMIT", "RATE_LIMIT_STORAGE_URI", "READYZ_CACHE_SECONDS", "LOG_LEVEL",
               "SHARED_STORE_URL", "REVOKED_LINKS_DB", "LIVE_POLL_SECONDS",
               "MEMOS_BREAKER_FAILURES", "MEMOS_BREAKER_WINDOW", "MEMOS_BREAKER_COOLDOWN",
               "MEMOS_BREAKER_MAX_COOLDOWN")


class Fake:
    """benchmarks/fake_upstream.py in its own process (its own GIL), on 127.0.0.1."""

    def __init__(self, latency: float, jitter: float = 0.0, messages: int = 2000,
                 rich: bool = False) -> None:
        self.latency = latency
        command = [sys.executable, "-m", "benchmarks.fake_upstream", "--latency", str(latency),
                   "--jitter", str(jitter), "--messages", str(messages), "--port", "0",
                   *(["--rich"] if rich else [])]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, text=True,
                                        start_new_session=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 20)
        line = self.process.stdout.readline().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            stop_process(self.process, 2)
            raise RuntimeError(f"the fake upstream did not start (said {line!r})")
        self.base_url = line

    def set_latency(self, seconds: float) -> None:
        """Make every answer from now on wait ``seconds`` (the fake's control path)."""
        requests.post(self.base_url + "/__latency", data=str(seconds),
                      timeout=10).raise_for_status()
        self.latency = seconds

    def close(self) -> None:
        stop_process(self.process, 5)


class Gunicorn:
    """The app under gunicorn with gunicorn.conf.py, as a subprocess on 127.0.0.1."""

    def __init__(self, label: str, upstream: str, log_dir: Path, *, args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, target: str = "app:create_app()") -> None:
        self.label = label
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {key: value for key, value in os.environ.items() if key not in CLEARED_ENV}
        # Open access, chosen explicitly (a fake upstream holds nothing private); no rate
        # limit: wrk sends thousands of requests from one address, and a 429 costs less than a
        # page, so a limited run would measure the limiter's refusals instead of the app.
        environ.update({"MEMOS_BASE_URL": upstream, "MEMOS_API_KEY": "bench",
                        "VIEWER_ACCESS": "open", "RATE_LIMIT": "0",
                        "CHAT_PAGE_SIZE": str(PAGE_SIZE),  # the pages the figures were made with
                        "PORT": str(self.port), "HOST": "127.0.0.1", **(env or {})})
        gunicorn = Path(sys.executable).with_name("gunicorn")
        if not gunicorn.exists():
            gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
        # No control socket: the default (~/.gunicorn/gunicorn.ctl) is one path for every
        # gunicorn on the machine, and these are throwaway instances.
        self.command = [str(gunicorn), "--config", "gunicorn.conf.py", "--no-control-socket",
                        *args, target]
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
                    self._wait_idle(deadline)  # the last worker may still be loading the app
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn ({self.label}) did not answer /healthz within 30 s")

    def _wait_idle(self, deadline: float) -> None:
        """Wait until the workers' CPU time stops growing: one that still loads the app (the
        lexers' patterns take a second or more) would share the CPU with what is measured."""
        quiet = 0
        used = cpu_seconds(self.workers())
        while quiet < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            now = cpu_seconds(self.workers())
            quiet = quiet + 1 if now - used < 0.02 else 0
            used = now

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def close(self) -> None:
        """Stop it; again is a no-op (its process group id may belong to others by then)."""
        if self.log.closed:
            return
        stop_process(self.process, 20)
        self.log.close()


def redis_binary() -> str | None:
    """Debian's redis-server (``make test`` and ``make bench`` install it), or None."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    return binary if os.access(binary, os.X_OK) else None


def start_redis(binary: str, directory: Path, port: int, *, unix_socket: Path | None = None,
                new_session: bool = False) -> subprocess.Popen:
    """Start redis-server on 127.0.0.1:``port`` (and ``unix_socket``), its log in
    ``directory`` and no persistence (nothing outlives its user); return once it answers PING.
    The benchmarks and the tests' ``redis_server`` (tests/conftest.py) both start it here."""
    import redis

    log = directory / "redis.log"
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory),
               "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(log)]
    if unix_socket is not None:
        command += ["--unixsocket", str(unix_socket)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=new_session)
    deadline = time.monotonic() + 10
    with redis.Redis(host="127.0.0.1", port=port, socket_timeout=1) as client:
        while True:
            try:
                if client.ping():
                    return process
            except redis.RedisError:  # not yet listening; or the port is another's, silent
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait(timeout=10)
                said = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"redis-server did not start on port {port}:\n{said}")
            time.sleep(0.02)


class Redis:
    """Debian's redis-server on 127.0.0.1 and a free port, in its own session; ``url`` once
    it answers PING."""

    def __init__(self, directory: Path) -> None:
        binary = redis_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed: apt-get install redis-server "
                               "(make test installs it)")
        port = free_port()
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = start_redis(binary, directory, port, new_session=True)

    def flush(self) -> None:
        import redis

        with redis.Redis.from_url(self.url) as client:
            client.flushdb()

    def close(self) -> None:
        stop_process(self.process, 5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
