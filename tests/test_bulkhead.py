"""A MemOS that hangs never takes every thread (viewer/bulkhead.py).

The production server (gunicorn.conf.py, one worker of 12 threads here) against a loopback
MemOS that accepts connections and never answers: 30 pages asked at once. At most a third of
the threads wait for MemOS; the other pages answer at once that MemOS is busy (503,
Retry-After), and /healthz, a static file and the landing page stay quick throughout.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import g
from upstream_apps import upstream_app

from tests.production import production_server
from viewer.bulkhead import Bulkhead, BusyError

TIMEOUT = 4  # MEMOS_TIMEOUT: how long a page waits for the hung MemOS


class HungMemOS:
    """Accepts every connection, reads what it is sent, answers nothing until closed."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone does not
        self.listener.close()
        self.thread.join(5)
        for connection in self.held:
            connection.close()


@pytest.fixture
def hung():
    memos = HungMemOS()
    yield memos
    memos.close()


@pytest.mark.parametrize("thread_count, page_count", [(12, 30), (96, 120)])  # 96: shipped
def test_a_hung_memos_leaves_health_static_and_landing_quick(tmp_path, unused_port, hung,
                                                             thread_count, page_count):
    environ = {"MEMOS_BASE_URL": f"http://127.0.0.1:{hung.port}/api/openmem/v1",
               "VIEWER_ACCESS": "open", "MEMOS_TIMEOUT": str(TIMEOUT),
               "MEMOS_DEADLINE": str(TIMEOUT + 1), "WEB_CONCURRENCY": "1",
               "GUNICORN_THREADS": str(thread_count), "LIVE_POLL_SECONDS": "0"}
    with production_server(tmp_path, unused_port, **environ) as url:
        def page(n: int):
            started = time.monotonic()
            response = requests.get(f"{url}/chat?user_id=u{n}&conversation_id=c", timeout=30)
            return response, time.monotonic() - started

        with ThreadPoolExecutor(page_count) as pool:
            pages = [pool.submit(page, n) for n in range(page_count)]
            time.sleep(0.5)  # the pages are waiting now
            quick = []
            while not all(future.done() for future in pages):
                for path in ("/healthz", "/", "/static/embed.js"):
                    started = time.monotonic()
                    response = requests.get(url + path, timeout=10)
                    quick.append((path, response.status_code, time.monotonic() - started))
                time.sleep(0.2)
            results = [future.result() for future in pages]
    assert quick and all(status == 200 for _, status, _ in quick), quick
    slow = [(path, round(seconds, 2)) for path, _, seconds in quick if seconds >= 1.0]
    assert not slow, slow
    busy = [(response, seconds) for response, seconds in results if response.status_code == 503]
    waited = [(response, seconds) for response, seconds in results
              if response.status_code == 504]
    assert len(busy) + len(waited) == page_count, [r.status_code for r, _ in results]
    slots = thread_count * 2 // 3  # gunicorn.conf.py: two thirds in flight, a quarter more wait
    held = slots + max(1, slots // 4)
    assert 1 <= len(waited) <= held, len(waited)
    assert len(busy) >= page_count - held
    for response, seconds in busy:
        assert response.headers["Retry-After"] == "2"
        assert "MemOS is busy" in response.text and "Too many pages" in response.text
        assert seconds < TIMEOUT  # refused after a short wait, not at the deadline


def test_a_slot_frees_for_the_next_call():
    bulkhead = Bulkhead(1, wait=0.05)
    with bulkhead.slot():
        with pytest.raises(BusyError) as raised, bulkhead.slot():
            pass
        assert raised.value.retry_after == 2
    with bulkhead.slot():  # released, even though the waiter gave up
        pass


def test_as_many_may_wait_as_there_are_slots_the_others_are_told_at_once():
    bulkhead = Bulkhead(1, wait=5)
    held, done = threading.Event(), threading.Event()

    def holder():
        with bulkhead.slot():
            held.set()
            done.wait(10)

    def waiter():
        with bulkhead.slot():
            pass

    threads = [threading.Thread(target=holder), threading.Thread(target=waiter)]
    threads[0].start()
    held.wait(5)
    threads[1].start()
    deadline = time.monotonic() + 5
    while bulkhead._waiting < 1:  # until the waiter is in line for the slot
        assert time.monotonic() < deadline, "the waiter never waited"
        time.sleep(0.005)
    started = time.monotonic()
    with pytest.raises(BusyError), bulkhead.slot():
        pass
    assert time.monotonic() - started < 0.5  # not its 5 s wait
    done.set()
    for thread in threads:
        thread.join(10)


def test_a_page_refused_busy_logs_no_upstream_call(app_factory, refused_port):
    """MemOS was not asked: the request log says so, as for a page the breaker refused."""
    app = upstream_app(app_factory, f"http://127.0.0.1:{refused_port}/api/openmem/v1",
                       MEMOS_API_KEY="k", MEMOS_MAX_IN_FLIGHT=1, RATE_LIMIT="0")
    source = app.extensions["memos_source"]
    with app.test_request_context("/chat?user_id=u&conversation_id=c"):
        app.preprocess_request()
        g.deadline = time.monotonic() + 0.2  # waits for a slot no longer than the deadline
        with source.source.bulkhead.slot():  # every slot taken
            started = time.monotonic()
            with pytest.raises(BusyError):
                source.get_messages("u", "c", 7)
            assert time.monotonic() - started < 0.5
        assert g.get("upstream_calls", 0) == 0 and g.get("upstream_seconds", 0.0) == 0.0


def test_a_busy_answer_kept_for_later_reads_is_busy_for_them_too(app_factory, refused_port):
    """Shared reads keep an error for a second and raise a copy of it for each later read."""
    app = upstream_app(app_factory, f"http://127.0.0.1:{refused_port}/api/openmem/v1",
                       MEMOS_API_KEY="k", MEMOS_MAX_IN_FLIGHT=1, RATE_LIMIT="0")
    source, reads = app.extensions["memos_source"], app.extensions["live_reads"]
    with app.test_request_context("/chat?user_id=u&conversation_id=c"):
        app.preprocess_request()
        g.deadline = time.monotonic() + 0.2
        with source.source.bulkhead.slot():  # every slot taken
            for _ in range(2):
                with pytest.raises(BusyError) as raised:
                    reads.get_messages("u", "c", 7)
                assert raised.value.retry_after == 2
