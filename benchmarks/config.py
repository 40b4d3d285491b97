"""What the benchmarks measure against and how much: shared constants and the run profiles.

The paths, the conversation every request asks for, the page size and client settings shared by
the sections, and the sample counts and time budgets of ``--smoke``, ``--quick`` and a full run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
USER, CONVERSATION = "bench-user", "bench-conversation"
PAGE_SIZE = 6  # CHAT_PAGE_SIZE for every app measured (the API's default; the app's is 20)
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"
CONNECTIONS = 64


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
    viewers: int       # live-check viewers of one conversation
    viewer_seconds: float  # how long they watch


PROFILES = {
    "full": Profile("full", 200, 120, 200, 30, 90, 15, 2, 5, 2, 200, 45),
    "quick": Profile("quick", 60, 40, 60, 10, 30, 5, 1, 3, 2, 200, 30),
    "smoke": Profile("smoke", 5, 10, 5, 1, 15, 1, 0, 1, 1, 20, 4),
}
