"""Two instances of the app, two real servers on loopback, behind one (pretend) reverse proxy and
sharing one real Redis, as README's "Several instances" deploys them: the rate limit, live
reads, the MemOS breaker and revoked links hold across them."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import pytest
import requests
from switchable_upstream import SwitchableUpstream
from upstream_apps import upstream_app

SECRET = "two-instances-share-this-secret-32b"
HX = {"HX-Request": "true"}


@pytest.fixture
def upstream():
    with SwitchableUpstream() as server:
        yield server


@pytest.fixture
def pair(app_factory, live_server, redis_server, upstream, tmp_path):
    """Two instances: the same settings, their own files (two machines), one Redis."""

    def build(**settings):
        servers = []
        for number in range(2):
            app = upstream_app(
                app_factory, upstream.base_url, MEMOS_API_KEY="k", EMBED_SECRET=SECRET,
                SHARED_STORE_URL=redis_server.url, TRUSTED_PROXIES=1, LIVE_POLL_SECONDS=2,
                MEMOS_TIMEOUT=2, MEMOS_DEADLINE=3, MEMOS_BREAKER_COOLDOWN=1,
                REVOKED_LINKS_DB=str(tmp_path / f"machine-{number}" / "revoked.sqlite3"),
                **settings)
            servers.append(live_server(app=app))
        return servers

    return build


def embed_link(app) -> tuple[str, str]:
    result = app.test_cli_runner().invoke(args=["embed-url", "u", "c"])
    assert result.exit_code == 0, result.output
    return (result.stdout.strip().removeprefix("http://127.0.0.1:5000"),
            re.search(r"Link id: (\S+)", result.stderr)[1])


def get(server, path, client="203.0.113.1", **headers):
    """A request as the proxy forwards it: the client's address in X-Forwarded-For."""
    return requests.get(server.url + path, headers={"X-Forwarded-For": client, **headers},
                        timeout=10)


def test_one_rate_limit_across_instances(pair):
    first, second = pair(RATE_LIMIT="4/minute")
    path, _ = embed_link(first.app)
    statuses = [get(server, path).status_code for server in (first, second) * 3]
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert get(second, path, client="203.0.113.2").status_code == 200  # another client


def test_readers_on_both_instances_cost_memos_one_call_a_second(pair, upstream):
    first, second = pair(RATE_LIMIT="0")
    path, _ = embed_link(first.app)
    live = unescape(re.search(r'data-live-url="([^"]+)"', get(first, path).text)[1])
    before = upstream.requests
    stop = time.monotonic() + 3.0
    statuses: list[int] = []
    lock = threading.Lock()

    def reader(number):
        session = requests.Session()
        server = (first, second)[number % 2]
        while time.monotonic() < stop:
            answer = session.get(server.url + live, headers=HX, timeout=10).status_code
            with lock:
                statuses.append(answer)
            time.sleep(0.05)  # far more often than any page checks: 20 a second each

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(reader, range(20)))
    calls = upstream.requests - before
    assert set(statuses) == {204} and len(statuses) > 200
    assert calls <= 4, f"{calls} MemOS calls for {len(statuses)} checks in 3 s"


def test_the_breaker_opens_for_both_instances(pair, upstream):
    first, second = pair(RATE_LIMIT="0")
    path, _ = embed_link(first.app)
    upstream.switch("500")
    statuses = [get(server, path).status_code for server in (first, second) * 3]
    assert statuses[:5] == [502] * 5 and statuses[5] == 503
    before = upstream.requests
    started = time.monotonic()
    refused = get(first, path)
    assert refused.status_code == 503 and time.monotonic() - started < 0.1
    assert refused.headers["Retry-After"] == "1" and upstream.requests == before
    assert get(second, "/readyz").json()["breaker"]["state"] == "open"
    upstream.switch("ok")
    time.sleep(1.05)
    assert [get(server, path).status_code for server in (second, first)] == [200, 200]


def test_a_link_revoked_on_one_machine_is_refused_by_both(pair):
    first, second = pair(RATE_LIMIT="0")
    path, link_id = embed_link(first.app)
    assert [get(server, path).status_code for server in (first, second)] == [200, 200]
    result = second.app.test_cli_runner().invoke(args=["revoke-link", link_id])
    assert result.exit_code == 0, result.output
    for server in (first, second):
        refused = get(server, path)
        assert refused.status_code == 403 and "This link has been revoked" in refused.text
