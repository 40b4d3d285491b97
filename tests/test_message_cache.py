"""The rendered-message cache: reuse, and a bound in bytes as well as in entries."""

from __future__ import annotations

import sys
import threading

import pytest
from markupsafe import Markup

from memos_api import ContentPart, Message
from viewer.renderer.message_cache import MessageCache
from viewer.settings import ConfigError


def message(number: int, size: int = 100) -> Message:
    return Message("assistant", (ContentPart("text", f"{number}:" + "x" * size),))


def html(size: int) -> Markup:
    return Markup("<p>" + "y" * size + "</p>")


def test_kept_html_is_reused_and_counted():
    cache = MessageCache(max_entries=10, max_bytes=1_000_000)
    assert cache.get(message(1)) is None
    cache.put(message(1), html(10))
    assert cache.get(message(1)) == html(10)  # an equal message, not the same object
    info = cache.info()
    assert (info.hits, info.misses, info.entries) == (1, 1, 1)
    assert info.bytes == sys.getsizeof(html(10)) + sys.getsizeof(message(1).parts[0].text)


def test_the_bound_in_bytes_evicts_the_least_recently_used():
    cache = MessageCache(max_entries=1000, max_bytes=200_000)
    for number in range(50):
        cache.put(message(number), html(10_000))
        cache.get(message(0))  # kept in use
    info = cache.info()
    assert info.bytes <= 200_000 and 10 <= info.entries < 50
    assert cache.get(message(0)) is not None and cache.get(message(1)) is None
    assert cache.get(message(49)) is not None


def test_the_bound_in_entries_still_holds():
    cache = MessageCache(max_entries=3, max_bytes=10**9)
    for number in range(5):
        cache.put(message(number), html(1))
    assert cache.info().entries == 3 and cache.get(message(1)) is None


def test_an_entry_too_big_for_its_share_is_not_kept():
    cache = MessageCache(max_entries=100, max_bytes=80_000)
    cache.put(message(1), html(20_000))  # over an eighth of the bound
    assert cache.info().entries == 0 and cache.get(message(1)) is None


def test_size_zero_keeps_nothing():
    cache = MessageCache(max_entries=0, max_bytes=10**9)
    cache.put(message(1), html(1))
    assert cache.info().entries == 0


def test_threads_sharing_it_keep_the_count_exact():
    cache = MessageCache(max_entries=64, max_bytes=150_000)

    def work(offset: int) -> None:
        for number in range(400):
            key = message((number * 7 + offset) % 97, size=50)
            if cache.get(key) is None:
                cache.put(key, html(1000 + number % 500))

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    info = cache.info()
    held = sum(size for _, size in cache._items.values())
    assert info.bytes == held <= 150_000 and info.entries <= 64


def test_the_app_bounds_its_cache_by_the_setting(app_factory):
    app = app_factory(RENDERED_MESSAGE_CACHE_BYTES=400_000)
    store = app.extensions["memos_source"]
    store.add_messages("u", "c", [{"role": "assistant", "content": f"**{n}** " + "word " * 2000,
                                   "chat_time": f"2026-03-01 10:{n:02d}:00"} for n in range(40)])
    client = app.test_client()
    first = client.get("/chat?user_id=u&conversation_id=c&limit=40").get_data(as_text=True)
    info = app.jinja_env.globals["message_list"].cache_info()
    assert 0 < info.entries < 40 and info.bytes <= 400_000
    newest = client.get("/chat?user_id=u&conversation_id=c&limit=5").get_data(as_text=True)
    assert app.jinja_env.globals["message_list"].cache_info().hits == 5  # all of them kept
    assert newest.count("<article") == 5 and first.count("<article") == 40


@pytest.mark.parametrize("value", ["lots", "-1", "1.5"])
def test_a_bad_byte_bound_is_a_configuration_error(app_factory, value):
    with pytest.raises(ConfigError, match="RENDERED_MESSAGE_CACHE_BYTES"):
        app_factory(RENDERED_MESSAGE_CACHE_BYTES=value)
