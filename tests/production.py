"""The production server, as ``make serve`` starts it, for tests that need its workers.

``production_server(tmp_path, port, **environ)`` runs gunicorn with the shipped
gunicorn.conf.py on 127.0.0.1:``port`` (the embedded store in ``tmp_path`` unless ``environ``
names a MemOS), waits until ``/healthz`` answers and stops it afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


@contextmanager
def production_server(tmp_path: Path, port: int, **environ: str) -> Iterator[str]:
    """Run gunicorn with gunicorn.conf.py; yield its base URL."""
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "RATE_LIMIT": "0",
           "MEMOS_LOCAL_DB": str(tmp_path / "store.sqlite3"), **environ}
    with open(log, "wb") as output:
        process = subprocess.Popen([str(GUNICORN), "--config", "gunicorn.conf.py",
                                    "app:create_app()"], cwd=ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
