"""gunicorn.conf.py: the settings production runs with, and its malloc tuning."""

from __future__ import annotations

import platform
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from viewer.settings import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "gunicorn.conf.py"


def load_config(monkeypatch, **environ) -> dict:
    for name in ("BIND", "HOST", "PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS",
                 "GUNICORN_TIMEOUT", "MEMOS_POOL_SIZE", "MEMOS_MAX_IN_FLIGHT",
                 "MAX_DOWNLOADS_IN_FLIGHT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_threads_for_an_io_bound_proxy_and_a_timeout_above_the_upstream_deadline(monkeypatch):
    config = load_config(monkeypatch)
    assert config["worker_class"] == "viewer.worker.HeadFirstWorker" and config["threads"] == 96
    assert config["bind"] == "127.0.0.1:8000"
    deadline = 2 * DEFAULTS["MEMOS_TIMEOUT"] + 3  # viewer/settings.py's default deadline
    assert config["timeout"] > 2 * deadline
    assert config["raw_env"] == ["MEMOS_POOL_SIZE=96",  # one pooled connection per thread
                                 "MEMOS_MAX_IN_FLIGHT=64",  # MemOS calls: two thirds of them
                                 "MAX_DOWNLOADS_IN_FLIGHT=8"]  # downloads sent: a twelfth


def test_environment_overrides(monkeypatch):
    config = load_config(monkeypatch, HOST="0.0.0.0", PORT="9000", GUNICORN_THREADS="8",
                         WEB_CONCURRENCY="3")
    assert config["bind"] == "0.0.0.0:9000"
    assert (config["threads"], config["workers"]) == (8, 3)
    assert config["raw_env"] == ["MEMOS_POOL_SIZE=8", "MEMOS_MAX_IN_FLIGHT=5",
                                 "MAX_DOWNLOADS_IN_FLIGHT=1"]
    config = load_config(monkeypatch, MAX_DOWNLOADS_IN_FLIGHT="3")
    assert config["raw_env"][2] == "MAX_DOWNLOADS_IN_FLIGHT=3"


CHURN = """
import resource, runpy, sys
if sys.argv[1] == "tuned":
    runpy.run_path(sys.argv[2])["post_fork"](None, None)

def churn():  # what a big page does: a few ~1 MB buffers alive at once, then freed
    buffers = [bytearray(1_000_000) for _ in range(3)]
    del buffers

churn(); churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    churn()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def faults_per_churn(mode: str, **environ: str) -> float:
    result = subprocess.run([sys.executable, "-c", CHURN, mode, str(CONFIG)], check=True,
                            capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", **environ})
    return float(result.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc only")
def test_workers_keep_big_freed_buffers_instead_of_faulting_them_back_in():
    assert faults_per_churn("plain") > 100  # glibc's default: returned to the OS each time
    assert faults_per_churn("tuned") < 10
    # An operator's own MALLOC_* setting is left alone.
    assert faults_per_churn("tuned", MALLOC_ARENA_MAX="2") > 100
