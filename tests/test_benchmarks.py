"""The benchmark suite runs: a smoke run of every section (a handful of requests each, 1 s wrk
runs), written to a temporary file. Only that it finishes and prints each section is checked:
timings depend on the machine and are never asserted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from required_tools import tool_missing

from benchmarks.run import SECTIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def wrk() -> str:
    """wrk's path; a missing wrk skips locally but fails under CI, where make test installs it."""
    path = shutil.which("wrk")
    if path is None:
        tool_missing("wrk is not installed: `make test` installs it (apt-get install wrk)")
    return path


def test_smoke_run_prints_every_section_and_writes_the_report(wrk, tmp_path):
    output = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for section in SECTIONS:
        assert f"== {section} ==" in result.stdout, section
    report = output.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f"## {section}" in report, section


def test_wrk_output_is_parsed():
    from benchmarks.run import parse_wrk

    sample = """Running 15s test @ http://127.0.0.1:1/chat
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   201.63ms    1.69ms 230.12ms   93.21%
    Req/Sec   158.50     12.30   180.00     71.00%
  Latency Distribution
     50%  201.22ms
     75%  202.01ms
     90%  203.45ms
     99%    1.20s
  4752 requests in 15.02s, 12.88MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:    316.38
Transfer/sec:      0.86MB
"""
    result = parse_wrk(sample)
    assert result.requests_per_second == 316.38
    assert result.requests == 4752
    assert result.latency == {"50": 0.20122, "75": 0.20201, "90": 0.20345, "99": 1.2}
    assert result.non_2xx == 4
    assert result.errors == 9
