"""The MemOS circuit breaker: what opens it and what does not, fast failures while it is open,
one probe, doubling cool-downs, its state shared through a real Redis, and a MemOS that hangs
for every call (measured)."""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from switchable_upstream import SwitchableUpstream
from upstream_apps import upstream_app

from viewer.bulkhead import SLOT_WAIT_SECONDS
from viewer.shared_store import SharedStore

CHAT = "/chat?user_id=u&conversation_id=c"
HX = {"HX-Request": "true"}
FAST = {"MEMOS_TIMEOUT": 0.3, "MEMOS_DEADLINE": 1.0, "RATE_LIMIT": "0",
        "MEMOS_BREAKER_FAILURES": 3, "MEMOS_BREAKER_WINDOW": 10,
        "MEMOS_BREAKER_COOLDOWN": 0.5, "MEMOS_BREAKER_MAX_COOLDOWN": 2}


@pytest.fixture
def upstream():
    with SwitchableUpstream() as server:
        yield server


def make_app(app_factory, upstream, **settings):
    return upstream_app(app_factory, upstream.base_url, MEMOS_API_KEY="k",
                        **{**FAST, **settings})


def page(client, path=CHAT, headers=None):
    started = time.monotonic()
    response = client.get(path, headers=headers or {})
    return response, time.monotonic() - started


def test_failures_in_a_row_open_it_and_pages_then_fail_at_once(app_factory, upstream):
    app = make_app(app_factory, upstream)
    client = app.test_client()
    upstream.switch("500")
    for _ in range(3):
        assert page(client)[0].status_code == 502
    assert upstream.requests == 3
    response, elapsed = page(client)
    html = response.get_data(as_text=True)
    # At once: not after MEMOS_TIMEOUT (0.3 s); the margin is for a busy machine.
    assert response.status_code == 503 and elapsed < 0.2 and upstream.requests == 3
    assert response.headers["Retry-After"] == "1"  # 0.5 s left, rounded up
    assert re.search(r'class="alert__title">MemOS did not answer</h[12]>', html)
    assert "this one was not sent" in html and "Error 503" in html
    assert app.extensions["breaker"].state()[0] == "open"


@pytest.mark.parametrize("mode", ["not-found", "bad-key"])
def test_memos_refusals_show_it_is_up_and_never_open_it(app_factory, upstream, mode):
    client = make_app(app_factory, upstream).test_client()
    upstream.switch(mode)
    statuses = {page(client)[0].status_code for _ in range(8)}
    assert 503 not in statuses and upstream.requests == 8


def test_an_answer_between_failures_starts_the_count_again(app_factory, upstream):
    client = make_app(app_factory, upstream).test_client()
    for mode in ("500", "500", "ok", "500", "500", "ok", "500", "500"):
        upstream.switch(mode)
        assert page(client)[0].status_code in (200, 502)
    assert upstream.requests == 8  # never two... three in a row: never open


def test_failures_spread_wider_than_the_window_do_not_open_it(app_factory, upstream):
    client = make_app(app_factory, upstream, MEMOS_BREAKER_WINDOW=0.2).test_client()
    upstream.switch("500")
    for _ in range(4):
        page(client)
        time.sleep(0.15)  # at most two fall in any one window
    assert upstream.requests == 4 and page(client)[0].status_code == 502


def open_then_hang(app, upstream) -> None:
    """Three failures open the breaker; MemOS then hangs, and the cool-down (0.3 s) passes:
    the next call is the probe."""
    upstream.switch("500")
    for _ in range(3):
        page(app.test_client())
    upstream.switch("hang")
    time.sleep(0.35)


def test_one_probe_after_the_cool_down_while_the_others_still_fail_at_once(app_factory,
                                                                          upstream):
    app = make_app(app_factory, upstream, MEMOS_BREAKER_COOLDOWN=0.3)
    open_then_hang(app, upstream)
    before = upstream.requests
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: page(app.test_client()), range(10)))
    assert upstream.requests == before + 1  # the probe alone reached MemOS
    fast = [(r.status_code, elapsed) for r, elapsed in results if elapsed < 0.1]
    assert len(fast) == 9 and {status for status, _ in fast} == {503}
    assert all(r.headers["Retry-After"] == "1" for r, elapsed in results if elapsed < 0.1)


def test_while_it_is_open_a_page_never_waits_for_a_slot_held_by_the_probe(app_factory,
                                                                         upstream):
    """The breaker answers before the bulkhead: with the probe hung in the only slot, the
    next page is told at once that MemOS did not answer, with the breaker's Retry-After,
    not after waiting its second for a slot (which was the order: 1.0 s, "busy")."""
    app = make_app(app_factory, upstream, MEMOS_MAX_IN_FLIGHT=1, MEMOS_TIMEOUT=1.5,
                   MEMOS_DEADLINE=2, MEMOS_BREAKER_COOLDOWN=0.3)
    open_then_hang(app, upstream)
    before = upstream.requests
    with ThreadPoolExecutor(1) as pool:
        probe = pool.submit(page, app.test_client())
        while upstream.requests == before:  # the probe holds the slot, waiting for MemOS
            time.sleep(0.01)
        response, elapsed = page(app.test_client())
        assert probe.result()[0].status_code == 504
    assert response.status_code == 503 and elapsed < 0.1, elapsed
    assert response.headers["Retry-After"] == "1"
    assert "MemOS did not answer" in response.text and "not sent" in response.text
    assert app.extensions["breaker"].state()[0] == "open"  # the hung probe failed


@pytest.mark.parametrize("shared", [False, True], ids=["this-process", "redis"])
def test_a_page_that_waited_for_a_slot_while_it_opened_is_refused_once_it_has_one(
        app_factory, upstream, request, shared):
    """Pages let through while the breaker was closed, then waiting for a slot held by a
    hung call, do not ask MemOS when that call's failure opens it: they get the slot it
    frees and are refused at once (503, "MemOS did not answer"). They asked MemOS before,
    and each held the slot for MemOS's whole timeout again (CI saw 25 hung calls where 16
    slots and the failures before the opening one allow 20)."""
    settings = {"SHARED_STORE_URL": request.getfixturevalue("redis_server").url} if shared \
        else {}
    app = make_app(app_factory, upstream, MEMOS_MAX_IN_FLIGHT=2, MEMOS_BREAKER_FAILURES=1,
                   **settings)
    upstream.switch("hang")
    with app.extensions["memos_source"].source.bulkhead.slot(), ThreadPoolExecutor(2) as pool:
        hung = pool.submit(page, app.test_client())  # the other slot, until MemOS's timeout
        while upstream.requests == 0:
            time.sleep(0.01)
        waiting = pool.submit(page, app.test_client())  # no slot: waits for the hung one's
        assert hung.result()[0].status_code == 504
        response, elapsed = waiting.result()
    assert upstream.requests == 1
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "MemOS did not answer" in response.text and "not sent" in response.text
    assert 0.2 < elapsed < 1.0  # it did wait for the slot (MEMOS_TIMEOUT 0.3 s), not longer
    assert app.extensions["breaker"].state()[0] == "open"


def test_a_page_refused_for_want_of_a_slot_is_no_verdict_on_memos(app_factory, upstream):
    """A busy bulkhead means MemOS was not asked: it neither counts as a failure nor as an
    answer that would start the count of failures again."""
    app = make_app(app_factory, upstream, MEMOS_MAX_IN_FLIGHT=1, MEMOS_TIMEOUT=2.5,
                   MEMOS_DEADLINE=3)  # three failures in a row open it
    upstream.switch("500")
    assert page(app.test_client())[0].status_code == 502  # failure 1
    upstream.switch("hang")
    with ThreadPoolExecutor(4) as pool:
        held = pool.submit(page, app.test_client(), "/chat?user_id=u&conversation_id=held")
        while upstream.requests == 1:
            time.sleep(0.01)
        # No slot: one waits its second for it, the others are refused at once.
        busy = [response for response, _ in pool.map(lambda _: page(app.test_client()),
                                                     range(3))]
        assert held.result()[0].status_code == 504  # failure 2
    assert [r.status_code for r in busy] == [503] * 3
    assert all("MemOS is busy" in r.text for r in busy)
    assert upstream.requests == 2
    upstream.switch("500")
    assert page(app.test_client())[0].status_code == 502  # failure 3: in a row, still
    assert app.extensions["breaker"].state()[0] == "open"


def test_a_failed_probe_doubles_the_cool_down_up_to_its_cap(app_factory, upstream):
    app = make_app(app_factory, upstream, MEMOS_BREAKER_COOLDOWN=0.25,
                   MEMOS_BREAKER_MAX_COOLDOWN=1)
    breaker = app.extensions["breaker"]
    client = app.test_client()
    upstream.switch("500")
    for _ in range(3):
        page(client)
    for nominal in (0.25, 0.5, 1.0, 1.0):  # doubling, then capped
        state, left = breaker.state()
        assert state == "open" and nominal - 0.2 < left <= nominal, (nominal, left)
        time.sleep(left + 0.02)
        assert page(client)[0].status_code == 502  # the probe, refused by MemOS
    upstream.switch("ok")
    time.sleep(breaker.state()[1] + 0.02)
    assert page(client)[0].status_code == 200  # the probe: MemOS answers, it closes
    assert breaker.state() == ("closed", 0.0)


def test_a_live_check_gets_the_retry_after_and_the_readyz_says_it_is_open(app_factory,
                                                                          upstream):
    app = make_app(app_factory, upstream, MEMOS_BREAKER_COOLDOWN=5, MEMOS_BREAKER_MAX_COOLDOWN=60,
                   READYZ_CACHE_SECONDS=0)
    client = app.test_client()
    upstream.switch("500")
    for _ in range(3):
        page(client)
    check = ("/chat/newer?user_id=u&conversation_id=c&after=3.0123456789abcdef"
             "&since=2026-03-01T10:00:00%2B08:00")
    response, elapsed = page(client, check, HX)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert 'class="live-notice"' in response.text and elapsed < 0.2  # not MEMOS_TIMEOUT
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["breaker"] == {"state": "open",
                                                                   "retry_after": 5}
    assert "not sent" in ready.json["detail"]


def test_the_log_counts_no_upstream_call_for_a_page_refused_at_once(app_factory, upstream):
    app = make_app(app_factory, upstream)
    upstream.switch("500")
    for _ in range(3):
        page(app.test_client())
    with app.test_request_context(CHAT):
        app.preprocess_request()
        from flask import g

        with pytest.raises(Exception, match="not sent"):
            app.extensions["memos_source"].get_messages("u", "c", 7)
        assert g.get("upstream_calls", 0) == 0


def test_the_clients_settings_are_reached_through_the_breaker(app_factory, upstream):
    timed = make_app(app_factory, upstream).extensions["memos_source"]
    timed.source.backoff = 0.5  # as tests tune the client's own retries
    assert timed.source.source.backoff == 0.5 and "backoff" not in vars(timed.source)
    assert timed.source.base_url == upstream.base_url


def test_the_embedded_store_has_no_breaker(app_factory):
    assert app_factory().extensions["breaker"] is None


def test_zero_failures_turns_it_off(app_factory, upstream):
    app = make_app(app_factory, upstream, MEMOS_BREAKER_FAILURES=0)
    assert app.extensions["breaker"] is None
    upstream.switch("500")
    assert [page(app.test_client())[0].status_code for _ in range(5)] == [502] * 5


# --- shared through Redis ------------------------------------------------------------------

def test_instances_open_and_close_together(app_factory, upstream, redis_server):
    first, second = (make_app(app_factory, upstream, SHARED_STORE_URL=redis_server.url,
                              MEMOS_BREAKER_COOLDOWN=0.4) for _ in range(2))
    upstream.switch("500")
    for app in (first, second, first):  # three in a row, across two instances
        assert page(app.test_client())[0].status_code == 502
    response, elapsed = page(second.test_client())
    assert response.status_code == 503 and elapsed < 0.2 and upstream.requests == 3
    upstream.switch("ok")
    time.sleep(0.45)
    assert page(first.test_client())[0].status_code == 200  # the probe, on the first
    assert page(second.test_client())[0].status_code == 200  # closed for the second too
    assert second.extensions["breaker"].state()[0] == "closed"


def test_one_probe_for_the_whole_deployment(app_factory, upstream, redis_server):
    apps = [make_app(app_factory, upstream, SHARED_STORE_URL=redis_server.url,
                     MEMOS_BREAKER_COOLDOWN=0.3) for _ in range(3)]
    upstream.switch("500")
    for app in apps:
        page(app.test_client())
    upstream.switch("hang")
    time.sleep(0.35)
    before = upstream.requests
    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(lambda n: page(apps[n % 3].test_client())[0].status_code,
                                 range(12)))
    assert upstream.requests == before + 1
    assert statuses.count(503) == 11 and statuses.count(504) == 1


def test_with_redis_gone_each_instance_keeps_its_own_breaker(app_factory, upstream,
                                                              redis_server):
    app = make_app(app_factory, upstream, SHARED_STORE_URL=redis_server.url)
    redis_server.stop()
    upstream.switch("500")
    statuses = [page(app.test_client())[0].status_code for _ in range(5)]
    assert statuses == [502, 502, 502, 503, 503] and upstream.requests == 3


def test_breaker_keys_that_are_not_ours_do_not_break_it(app_factory, upstream, redis_server):
    app = make_app(app_factory, upstream, SHARED_STORE_URL=redis_server.url)
    store = SharedStore(redis_server.url)
    base = store.key("breaker", store.digest(upstream.base_url))
    store.client.set(f"{base}:failures", "many")
    store.client.hset(f"{base}:tripped", "x", "y")
    store.client.set(f"{base}:probe", "stuck forever")  # no expiry
    upstream.switch("500")
    statuses = [page(app.test_client())[0].status_code for _ in range(6)]
    assert 500 not in statuses and set(statuses) <= {502, 503}
    upstream.switch("ok")
    deadline = time.monotonic() + 5
    while page(app.test_client())[0].status_code != 200:
        assert time.monotonic() < deadline, "it never closed again"
        time.sleep(0.1)


# --- a MemOS that hangs for every call, measured -----------------------------------------------

def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@pytest.fixture
def request_log(log_of):
    """The app's JSON request log lines (viewer/observability.py)."""
    return log_of("viewer.requests")


def test_a_hung_memos_then_pages_fail_fast_and_come_back_after_one_probe(app_factory,
                                                                         live_server, upstream,
                                                                         request_log):
    """150 pages over 1.5 s while MemOS hangs for every call; then MemOS comes back.

    How long the app took is read from its own request log (the server's clock, from the
    request's start to its last byte): the test's client threads share this process's CPU
    with the server, and on a busy machine their own scheduling would be measured too."""
    app = make_app(app_factory, upstream, MEMOS_BREAKER_FAILURES=5, MEMOS_BREAKER_COOLDOWN=1,
                   MEMOS_BREAKER_MAX_COOLDOWN=4)
    server = live_server(app=app)
    breaker = app.extensions["breaker"]
    local = threading.local()
    results, health, done = [], [], threading.Event()

    def get(path):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        started = time.monotonic()
        response = local.session.get(server.url + path, timeout=10)
        return started, time.monotonic() - started, response

    def ask(number):
        started, elapsed, response = get(f"/chat?user_id=u&conversation_id=c{number}")
        results.append((started, elapsed, response.status_code,
                        response.headers.get("Retry-After")))

    opened: list[float] = []  # when the breaker was first seen open (wall clock, as logs)

    def probe_health():
        while not done.is_set():
            health.append(get("/healthz")[1])
            if not opened and breaker.state()[0] == "open":
                opened.append(time.time())
            time.sleep(0.02)

    def pages_logged():
        """The /chat lines, each with its start (wall clock): written at its end."""
        lines = [{**json.loads(record.getMessage()), "end": record.created}
                 for record in request_log.records if record.name == "viewer.requests"]
        return [{**line, "start": line["end"] - line["duration_ms"] / 1000}
                for line in lines if line["path"] == "/chat"]

    upstream.switch("hang")
    watcher = threading.Thread(target=probe_health)
    watcher.start()
    try:
        with ThreadPoolExecutor(20) as pool:
            for number in range(150):
                pool.submit(ask, number)
                time.sleep(0.01)
        upstream.switch("ok")
        back, left = time.monotonic(), breaker.state()[1]
        asked = 151  # the 150, and the first look for a page again
        while get(CHAT)[2].status_code != 200:
            assert time.monotonic() - back < 10, "pages never came back"
            asked += 1
            time.sleep(0.05)
        recovered = time.monotonic() - back
    finally:
        done.set()
        watcher.join()
    # Each line is written just after its response is sent: wait for the last ones.
    deadline = time.monotonic() + 5
    while len(pages_logged()) < asked:
        assert time.monotonic() < deadline, (len(pages_logged()), asked)
        time.sleep(0.02)

    assert len(results) == 150 and {status for _, _, status, _ in results} <= {503, 504}
    # No page past its deadline (MEMOS_DEADLINE, 1 s), by the server's clock; the client's
    # adds its own threads' waits for the GIL on a busy machine (1.47 s seen): a blow-up guard.
    assert max(elapsed for _, elapsed, _, _ in results) < 1.0 + 2.0
    refused = [(elapsed, retry) for _, elapsed, status, retry in results if status == 503]
    assert len(refused) >= 120 and all(re.fullmatch(r"[1-4]", retry) for _, retry in refused)
    pages = pages_logged()
    assert max(record["duration_ms"] for record in pages) < 1000 + 300
    busy = [record["duration_ms"] for record in pages if record["status"] == 503]
    assert len(busy) >= len(refused) and all(
        record["upstream_calls"] == 0 for record in pages if record["status"] == 503)
    # Pages that came while the first calls hung waited for a slot (viewer/bulkhead.py),
    # at most its wait; those that came once the breaker was open were refused at once.
    assert max(busy) < SLOT_WAIT_SECONDS * 1000 + 300, sorted(busy)[-5:]
    assert opened, "the breaker never opened"
    fast = [record["duration_ms"] for record in pages
            if record["status"] == 503 and record["start"] > opened[0]]
    assert len(fast) >= 100, len(fast)
    # Generous guards: the test's client threads share this process's GIL with the server,
    # and 20 of them at once stretch a 2 ms refusal to 50 ms or more on a 2-core machine.
    # #18's 50 ms at the 95th percentile is measured by `make bench` against gunicorn.
    assert percentile(fast, 0.95) < 150
    assert max(fast) < SLOT_WAIT_SECONDS * 1000  # none waited for a slot
    # 16 slots, the 4 calls that took the slots freed by the failures before the fifth (the
    # calls that waited longer were refused: it was open), and the probes.
    hung = sum(record["status"] == 504 for record in pages)
    assert hung <= 16 + 4 + 2
    assert max(health) < 0.5 and percentile(health, 0.5) < 0.05
    assert recovered < left + 0.3 + 0.5  # the rest of the cool-down, one probe, a margin
    print(f"\nhung MemOS: {hung} pages waited for it; {len(fast)} refused at once, p95 "
          f"{percentile(fast, 0.95):.1f} ms (server), "
          f"{percentile([e for e, _ in refused], 0.95) * 1000:.1f} ms (client); /healthz max "
          f"{max(health) * 1000:.1f} ms; served again {recovered:.2f} s after MemOS came "
          f"back ({left:.2f} s of cool-down left)")
