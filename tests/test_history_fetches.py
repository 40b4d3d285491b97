"""How many upstream calls "load earlier" makes, counted by a real MemOS server over HTTP.

The local store's server answers the app's client; the store under it records the limit of
every ``/get/message`` it serves. A failed anchor search asks twice: the next limit, then
the cap (it once doubled the limit up to four times).
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from page_text import texts
from upstream_apps import upstream_app

from memos_api.local import LocalStore

CAP = 200
PAGE = 6
FIRST_LIMIT = PAGE + PAGE + 1  # depth of the first page + one page + one to see beyond


class CountingStore(LocalStore):
    """A LocalStore that records the limit of every read it serves."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limits: list[int | None] = []

    def get_message_dicts(self, user_id, conversation_id, limit=None):
        self.limits.append(limit)
        return super().get_message_dicts(user_id, conversation_id, limit)


@pytest.fixture
def local_store(tmp_path) -> CountingStore:
    """What ``memos_server`` serves (this module's override of the shared fixture)."""
    return CountingStore(tmp_path / "memos.sqlite3")


@pytest.fixture
def client(app_factory, memos_server):
    app = upstream_app(app_factory, memos_server.base_url, MEMOS_API_KEY=memos_server.api_key,
                       MEMOS_MAX_LIMIT=CAP, CHAT_PAGE_SIZE=PAGE)
    return app.test_client()


def add(store, count, start=0):
    store.add_messages("u", "c", [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}",
         "chat_time": f"2026-01-01 10:{n // 60:02d}:{n % 60:02d}"}
        for n in range(start, start + count)])


def first_page(client, store) -> str:
    """The first page's "load earlier" URL; the store's count starts again after it."""
    html = client.get("/chat?user_id=u&conversation_id=c").text
    store.limits.clear()
    return unescape(re.search(r'data-hx-get="([^"]+)"', html).group(1))


def load_earlier(client, url):
    return client.get(url, headers={"HX-Request": "true"})


def test_an_anchor_pushed_out_of_reach_costs_two_calls(client, local_store):
    add(local_store, 300)
    url = first_page(client, local_store)
    add(local_store, CAP, start=300)  # the shown messages are now beyond the cap
    response = load_earlier(client, url)
    assert response.status_code == 409 and "changed" in response.text
    assert local_store.limits == [FIRST_LIMIT, CAP]


def test_an_anchor_that_never_existed_costs_two_calls(client, local_store):
    add(local_store, 300)
    url = re.sub(r"anchor=[^&]+", "anchor=3.0123456789abcdef", first_page(client, local_store))
    assert load_earlier(client, url).status_code == 409
    assert local_store.limits == [FIRST_LIMIT, CAP]


def test_growth_past_the_next_limit_is_found_at_the_cap_without_gaps(client, local_store):
    add(local_store, 300)
    url = first_page(client, local_store)
    add(local_store, 20, start=300)  # the anchor moved 20 back: past the next limit
    response = load_earlier(client, url)
    assert response.status_code == 200
    assert texts(response.text) == [f"message {n}" for n in range(288, 294)]
    assert local_store.limits == [FIRST_LIMIT, CAP]


def test_no_growth_costs_one_call(client, local_store):
    add(local_store, 300)
    response = load_earlier(client, first_page(client, local_store))
    assert texts(response.text) == [f"message {n}" for n in range(288, 294)]
    assert local_store.limits == [FIRST_LIMIT]
