"""SHARED_STORE_URL: the setting, the rate-limit counts it shares by default, and an app whose
Redis is missing at start, goes away, or hangs (SIGSTOP): said once, shown in /readyz, and never
a failed page."""

from __future__ import annotations

import logging
import re
import time
from html import unescape

import pytest
import redis

from viewer.access import sign
from viewer.settings import ConfigError
from viewer.shared_store import SharedStore

SECRET = "a-shared-store-secret-long-enough-32b"
CHAT = "/chat?user_id=u&conversation_id=c"
HX = {"HX-Request": "true"}


def warnings(log) -> list[str]:
    """The shared store's own warnings (the rate limiter says its own, elsewhere)."""
    return [record.getMessage() for record in log.records
            if record.levelno >= logging.WARNING and record.name == "viewer.shared_store"]


def seeded(app):
    app.extensions["memos_source"].add_messages("u", "c", [
        {"role": "user", "content": f"message {n}", "chat_time": f"2026-03-01 10:00:0{n}"}
        for n in range(3)])
    return app


# --- the setting ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:pw@cache.example:6380",
                                 "redis+unix:///run/redis/redis.sock?db=2", " redis://h "])
def test_redis_urls_are_accepted(app_factory, url):
    app = app_factory(SHARED_STORE_URL=url, RATE_LIMIT="0")
    assert app.config["SHARED_STORE_URL"] == url.strip()


@pytest.mark.parametrize("url", ["memory://", "127.0.0.1:6379", "http://cache:6379",
                                 "redis://:sekrit-password@127.0.0.1:notaport/0", "redis://",
                                 "memcached://admin:sekrit-password@cache"])
def test_an_unusable_url_is_refused_without_showing_it(app_factory, url):
    with pytest.raises(ConfigError, match="SHARED_STORE_URL") as refused:
        app_factory(SHARED_STORE_URL=url)
    assert "sekrit" not in str(refused.value) and "127.0.0.1" not in str(refused.value)
    assert "redis+unix://" in str(refused.value)


def test_without_it_nothing_is_shared(app_factory):
    app = app_factory()
    assert app.extensions["shared_store"] is None
    assert app.config["RATE_LIMIT_STORAGE_URI"] == "memory://"
    assert "shared_store" not in app.test_client().get("/readyz").json


def test_rate_limit_counts_go_to_the_shared_store_unless_told_otherwise(app_factory,
                                                                        redis_server):
    shared = app_factory(SHARED_STORE_URL=redis_server.url)
    assert shared.config["RATE_LIMIT_STORAGE_URI"] == redis_server.url
    first, second = (app_factory(SHARED_STORE_URL=redis_server.url,
                                 RATE_LIMIT="2/minute").test_client() for _ in range(2))
    assert [first.get(CHAT).status_code, second.get(CHAT).status_code,
            first.get(CHAT).status_code] == [200, 200, 429]
    own = app_factory(SHARED_STORE_URL=redis_server.url, RATE_LIMIT_STORAGE_URI="memory://",
                      RATE_LIMIT="2/minute")
    assert own.config["RATE_LIMIT_STORAGE_URI"] == "memory://"
    assert [own.test_client().get(CHAT).status_code for _ in range(3)] == [200, 200, 429]


def test_readyz_says_the_store_answers(app_factory, redis_server):
    body = app_factory(SHARED_STORE_URL=redis_server.url).test_client().get("/readyz").json
    assert body["status"] == "ready" and body["shared_store"] == "ok"


# --- a store that is not there ----------------------------------------------------------------

def test_unreachable_at_start_it_says_so_once_and_serves_pages(app_factory, refused_port,
                                                               store_log):
    app = seeded(app_factory(SHARED_STORE_URL=f"redis://127.0.0.1:{refused_port}/0",
                             EMBED_SECRET=SECRET, LIVE_POLL_SECONDS=2))
    said = warnings(store_log)
    assert any("does not answer at start" in line for line in said)
    assert any(line.startswith("unreachable (ConnectionError)") for line in said)
    client = app.test_client()
    token = sign("u", "c", SECRET, 600)
    page = client.get(f"/chat?token={token}")
    assert page.status_code == 200 and "message 2" in page.text
    live = unescape(re.search(r'data-live-url="([^"]+)"', page.text)[1])
    for _ in range(5):
        assert client.get(live, headers=HX).status_code == 204
        assert client.get(f"/embed?token={token}").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["shared_store"] == "unreachable"
    assert "does not answer" in ready.json["detail"] and str(refused_port) not in ready.text
    assert warnings(store_log) == said  # nothing more for the requests meanwhile


def test_redis_stopped_mid_test_no_page_fails_and_it_comes_back(app_factory, redis_server,
                                                                store_log):
    app = seeded(app_factory(SHARED_STORE_URL=redis_server.url, EMBED_SECRET=SECRET,
                             LIVE_POLL_SECONDS=2))
    client = app.test_client()
    token = sign("u", "c", SECRET, 600)
    live = unescape(re.search(r'data-live-url="([^"]+)"',
                              client.get(f"/chat?token={token}").text)[1])
    redis_server.stop()
    statuses = set()
    for _ in range(10):
        statuses |= {client.get(f"/chat?token={token}").status_code,
                     client.get(live, headers=HX).status_code,
                     client.get("/readyz").status_code}
    assert statuses == {200, 204}
    assert client.get("/readyz").json["shared_store"] == "unreachable"
    assert sum("unreachable" in line for line in warnings(store_log)) == 1
    redis_server.start()
    deadline = time.monotonic() + 10
    while client.get("/readyz").json["shared_store"] != "ok":
        assert time.monotonic() < deadline, "never used again"
        client.get(live, headers=HX)
        time.sleep(0.2)
    assert "answers again" in store_log.text


@pytest.mark.parametrize("limited", [False, True])
def test_a_hung_redis_holds_one_page_briefly_then_none(app_factory, redis_server, limited):
    """SIGSTOP: connections open, nothing answers. Our store waits its quarter-second timeout
    once, then serves on its own state; Flask-Limiter, on the same Redis, waits its own: about
    half a second in all, as the README promises."""
    app = seeded(app_factory(SHARED_STORE_URL=redis_server.url, EMBED_SECRET=SECRET,
                             RATE_LIMIT="1000/minute" if limited else "0"))
    client = app.test_client()
    token = sign("u", "c", SECRET, 600)
    assert client.get(f"/chat?token={token}").status_code == 200
    redis_server.pause()
    try:
        durations = []
        began = time.monotonic()
        for _ in range(8):
            started = time.monotonic()
            assert client.get(f"/chat?token={token}").status_code == 200
            durations.append(time.monotonic() - started)
        took = time.monotonic() - began
    finally:
        redis_server.resume()
    # "No wait" is judged below one timeout (0.25 s), not by a page's usual few milliseconds:
    # a busy machine can stretch a page past 0.1 s. The store tries again 1 s after it failed,
    # then 3 s, 7 s: a machine slow enough to reach one within the 8 pages waits again there,
    # as it should (CI once saw a page of 0.29 s after 1 s).
    retries = sum(at < took for at in (1, 3, 7))
    if limited:  # the store and Flask-Limiter each wait 0.25 s; the limiter looks again later
        assert max(durations) < 1.0 and sorted(durations)[4] < 0.2, durations
    else:
        waited = [duration for duration in durations[1:] if duration >= 0.2]
        assert durations[0] < 0.7 and len(waited) <= retries, (durations, took)


def test_a_unix_socket_serves_both_the_store_and_the_rate_limit(app_factory, redis_server):
    """``redis+unix://`` as Flask-Limiter spells it; redis-py calls it ``unix://``."""
    url = f"redis+unix://{redis_server.unix_socket}?db=0"
    app = seeded(app_factory(SHARED_STORE_URL=url, RATE_LIMIT="2/minute", LIVE_POLL_SECONDS=2))
    client = app.test_client()
    assert [client.get(CHAT).status_code for _ in range(3)] == [200, 200, 429]
    app.extensions["live_reads"].get_messages("u", "c", 9)
    stored = app.extensions["shared_store"].client.keys("memos-viewer:reads:answer:*")
    assert len(stored) == 1 and client.get("/readyz").json["shared_store"] == "ok"
    assert app.extensions["shared_store"].client.keys("LIMITS*")
    assert app.extensions["shared_store"].client.connection_pool.connection_kwargs["path"] \
        == str(redis_server.unix_socket)  # through the socket, not the TCP port


# --- what its users share ---------------------------------------------------------------------

def test_release_deletes_a_key_only_while_it_holds_the_owners_token(redis_server):
    """The breaker's probe and the live reads' locks end through it (one script for both)."""
    store = SharedStore(redis_server.url)
    client = redis.Redis.from_url(redis_server.url)
    client.set("memos-viewer:lock", "mine")
    store.release("memos-viewer:lock", "someone-else")
    assert client.get("memos-viewer:lock") == b"mine"  # expired and taken by another
    store.release("memos-viewer:lock", "mine")
    assert not client.exists("memos-viewer:lock")
    client.hset("memos-viewer:other", "field", "mine")  # not ours: never touched
    store.release("memos-viewer:other", "mine")
    assert client.hgetall("memos-viewer:other") == {b"field": b"mine"}
