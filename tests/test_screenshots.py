"""``make screenshots`` (docs/screenshots.py): the README's pictures, taken for real.

The script runs as ``make`` runs it, into a temporary directory (never docs/): a real app on
loopback, real Chromium, real pdftoppm. Each picture must be a PNG of its stated size with
more than a blank page's colours; and the README must show every picture the script takes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from required_tools import tool_missing

from docs.screenshots import CHROMIUM, PDFTOPPM, SHOTS

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "docs" / "screenshots"
MIN_COLOURS = 24  # a blank or single-colour error page has a handful; a conversation, hundreds
RUN_TIMEOUT_S = 240


def require(tool: str, remedy: str) -> None:
    if not os.access(tool, os.X_OK):
        tool_missing(f"{tool} is missing: run `{remedy}`")


def committed_state() -> dict[str, tuple[int, int]]:
    return {path.name: (path.stat().st_mtime_ns, path.stat().st_size)
            for path in COMMITTED.glob("*")} if COMMITTED.is_dir() else {}


@pytest.mark.browser
def test_the_script_writes_every_picture_where_asked(tmp_path):
    require(CHROMIUM, "make browser")
    require(PDFTOPPM, "make browser")
    before = committed_state()
    out = tmp_path / "shots"
    result = subprocess.run([sys.executable, "-m", "docs.screenshots", "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stderr[-3000:]
    assert committed_state() == before, "the script wrote into docs/screenshots/"
    assert sorted(path.name for path in out.iterdir()) == sorted(shot.name for shot in SHOTS)
    for shot in SHOTS:
        path = out / shot.name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot.name
        with Image.open(path) as image:
            image.verify()  # a whole, uncorrupted PNG
        with Image.open(path) as image:
            assert image.size == shot.size, shot.name
            colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > MIN_COLOURS, f"{shot.name} looks blank"
        # No one colour covers (nearly) everything: a page that failed to paint would.
        if colours:
            largest = max(count for count, _ in colours)
            assert largest < 0.95 * shot.size[0] * shot.size[1], f"{shot.name} is one colour"
        assert str(path) in result.stdout  # the script says what it wrote


def test_a_failure_is_one_line_and_a_non_zero_exit(tmp_path):
    taken = tmp_path / "a-file"
    taken.write_text("not a directory")
    result = subprocess.run([sys.executable, "-m", "docs.screenshots", "--out", str(taken)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"screenshots: cannot write to {taken}: ")
    assert "Traceback" not in result.stderr


def test_the_readme_shows_every_committed_picture():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"\]\(docs/screenshots/([\w.-]+\.png)\)", readme))
    assert shown == {shot.name for shot in SHOTS}
    for name in shown:
        with Image.open(COMMITTED / name) as image:
            assert image.format == "PNG"
