"""Pages kept as sent (viewer/page_cache.py) are only ever sent for a request that would have
rendered them byte for byte: another reader, language, query, mount point, encoding, day or
answer from MemOS gets its own page; a kept page lasts seconds; a link revoked or expired since
is refused; memory stays within its bound."""

from __future__ import annotations

import gzip
import re
import time
from datetime import date, timedelta

import brotli
import pytest
from flask import template_rendered

try:
    from compression import zstd  # Python 3.14+
except ImportError:
    from backports import zstd

from viewer import page_cache
from viewer.access import sign
from viewer.renderer import formatting, presentation

SECRET = "a-secret-for-the-page-cache-tests-of-32-bytes"
CHAT = "/chat?user_id=u1&conversation_id=c1"
PRINTED = re.compile(rb'<time class="printed__time" datetime="[^"]*">[^<]*</time>')
BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}
DECODE = {"zstd": zstd.decompress, "br": brotli.decompress, "gzip": gzip.decompress}


def seeded(app, user="u1", conversation="c1", count=4, word="hello"):
    app.extensions["memos_source"].add_messages(user, conversation, [
        {"role": "user" if n % 2 else "assistant", "content": f"{word} **{n}**"}
        for n in range(count)])
    return app


def sent(response) -> tuple[int, dict, bytes]:
    """What a response sends: status, headers (but Date), body as sent."""
    headers = {name: value for name, value in response.headers.items() if name != "Date"}
    return response.status_code, headers, response.get_data()


def decoded(response) -> bytes:
    """The page's HTML without the printed time (a second may pass between two renders)."""
    body = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    if encoding:
        body = DECODE[encoding](body)
    return PRINTED.sub(b"", body)


@pytest.fixture
def cached(app_factory):
    return seeded(app_factory(EMBED_SECRET="", VIEWER_ACCESS="open"))


def test_a_page_sent_again_is_what_was_sent_and_what_a_fresh_render_makes(cached, app_factory):
    client = cached.test_client()
    for headers in (BROWSER, {"Accept-Encoding": "gzip, deflate, br"},
                    {"Accept-Encoding": "gzip"}, {}):
        first = client.get(CHAT, headers=headers)
        again = client.get(CHAT, headers=headers)
        assert first.status_code == 200
        assert sent(again) == sent(first)  # headers included: Vary, encoding, length
        assert again.headers["Vary"] == "Accept-Encoding, Accept-Language"
        uncached = app_factory(RENDERED_PAGE_CACHE_BYTES=0).test_client()  # the same store
        assert decoded(uncached.get(CHAT, headers=headers)) == decoded(again)
    assert len(cached.extensions["pages"]) == 4  # one per encoding asked
    rendered = []
    with template_rendered.connected_to(lambda sender, template, **_: rendered.append(
            template.name), cached):
        assert sent(client.get(CHAT, headers=BROWSER)) == sent(client.get(CHAT,
                                                                           headers=BROWSER))
    assert rendered == []  # sent as kept: no template ran


def test_a_kept_page_holds_no_file_data_or_extra_fields_it_does_not_count(app_factory):
    """Parts as they came (an image's data) and MemOS's extra fields are not shown, nor
    counted in a kept page's size: the key keeps its messages without them."""
    app = app_factory()
    data = "data:image/png;base64," + "A" * 200_000
    app.extensions["memos_source"].add_messages("u1", "c1", [
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image_url", "image_url": {"url": data}}]}])
    client = app.test_client()
    page = decoded(client.get(CHAT, headers=BROWSER))
    assert b"look" in page and data.encode() not in page
    (key,) = app.extensions["pages"]._items
    for message, _shown in key[6]:
        assert message.content is None and message.extra == {}
    # A browser's huge Accept-Encoding is part of the key: counted.
    before = app.extensions["pages"]._bytes
    client.get(CHAT, headers={"Accept-Encoding": "gzip, " + "x" * 6000})
    assert app.extensions["pages"]._bytes - before > 6000


def test_a_new_message_upstream_shows_at_once(cached):
    client = cached.test_client()
    assert b"hello" in decoded(client.get(CHAT, headers=BROWSER))
    cached.extensions["memos_source"].add_messages("u1", "c1", [
        {"role": "user", "content": "just arrived"}])
    assert b"just arrived" in decoded(client.get(CHAT, headers=BROWSER))


def test_each_query_language_and_mount_point_gets_its_own_page(cached):
    client = cached.test_client()
    pages = {}
    for query in ("", "&lang=zh-Hans", "&theme=dark", "&limit=2", "&live=0", "&lang=en"):
        for script_root in ("", "/viewer"):
            response = client.get(CHAT + query, headers=BROWSER,
                                  base_url=f"http://localhost{script_root}")
            body = decoded(response)
            assert f'href="{script_root}/chat?'.encode() in body
            pages[(query, script_root)] = body
    assert len(set(pages.values())) == len(pages)  # a chosen language stays in the links
    assert "检查新消息".encode() in pages[("&lang=zh-Hans", "")]
    assert b'data-theme="dark"' in pages[("&theme=dark", "")]
    # The same address, kept in English, asked by a browser that prefers Chinese.
    zh = decoded(client.get(CHAT, headers={**BROWSER, "Accept-Language": "zh-CN,zh;q=0.9"}))
    assert "检查新消息".encode() in zh and "检查新消息".encode() not in pages[("", "")]
    assert decoded(client.get(CHAT, headers=BROWSER)) == pages[("", "")]


def test_two_signed_readers_never_get_each_others_page(app_factory):
    app = app_factory(EMBED_SECRET=SECRET)
    seeded(app, "alice", "a-chat", word="alice-secret")
    seeded(app, "bob", "b-chat", word="bob-secret")
    tokens = {"alice": sign("alice", "a-chat", SECRET, 600),
              "bob": sign("bob", "b-chat", SECRET, 600)}
    client = app.test_client()
    for _ in range(3):
        for reader, other in (("alice", "bob"), ("bob", "alice")):
            body = decoded(client.get(f"/chat?token={tokens[reader]}", headers=BROWSER))
            assert f"{reader}-secret".encode() in body and f"{other}-secret".encode() not in body
            assert tokens[other].encode() not in body
    # The same conversation asked by ids on a signed viewer: refused, kept page or not.
    assert client.get("/chat?user_id=alice&conversation_id=a-chat").status_code == 403


def test_a_link_revoked_or_expired_after_its_page_was_kept_is_refused(app_factory):
    app = seeded(app_factory(EMBED_SECRET=SECRET), "alice", "a-chat")
    client = app.test_client()
    revoked = sign("alice", "a-chat", SECRET, 600, link_id="to-revoke")
    short = sign("alice", "a-chat", SECRET, 2)  # expires 1 to 2 seconds from now
    assert client.get(f"/chat?token={revoked}").status_code == 200
    assert client.get(f"/chat?token={short}").status_code == 200
    app.extensions["revocations"].revoke("to-revoke", time.time() + 600)
    refused = client.get(f"/chat?token={revoked}")
    assert refused.status_code == 403 and b"revoked" in refused.get_data()
    time.sleep(2.05)  # PyJWT's rule: expired once exp <= now
    expired = client.get(f"/chat?token={short}")
    assert expired.status_code == 403 and b"expired" in expired.get_data()


def test_a_tampered_token_is_not_taken_for_a_good_one_kept(app_factory):
    app = seeded(app_factory(EMBED_SECRET=SECRET), "alice", "a-chat")
    client = app.test_client()
    token = sign("alice", "a-chat", SECRET, 600)
    assert client.get(f"/chat?token={token}").status_code == 200
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}"
    assert client.get(f"/chat?token={forged}").status_code == 403
    other = sign("alice", "a-chat", "another-secret-of-at-least-32-bytes!", 600)
    assert client.get(f"/chat?token={other}").status_code == 403


def test_a_kept_page_lasts_seconds_then_is_made_again(cached):
    client = cached.test_client()
    pages = cached.extensions["pages"]
    now = [1000.0]
    pages.clock = lambda: now[0]
    first = client.get(CHAT, headers=BROWSER)
    now[0] += page_cache.KEEP_SECONDS - 0.5
    assert client.get(CHAT, headers=BROWSER).get_data() == first.get_data()
    now[0] += 1
    made = []
    original = pages._keep
    pages._keep = lambda *args: made.append(args) or original(*args)
    client.get(CHAT, headers=BROWSER)
    assert made  # rendered and kept again: its printed time is new
    assert len(pages) == 1


def test_a_new_day_makes_a_new_page(cached, monkeypatch):
    client = cached.test_client()
    written = decoded(client.get(CHAT, headers=BROWSER))
    assert b">Today<" in written
    tomorrow = presentation.local_today(cached.config["DISPLAY_TIMEZONE"]) + timedelta(days=1)
    monkeypatch.setattr(presentation, "local_today", lambda zone: tomorrow)
    assert b">Yesterday<" in decoded(client.get(CHAT, headers=BROWSER))
    assert isinstance(tomorrow, date)


def test_a_page_cut_short_by_its_budget_is_not_kept(cached, monkeypatch):
    client = cached.test_client()
    monkeypatch.setattr(formatting.PageBudget.__init__, "__defaults__", (0.0,))
    cut = decoded(client.get(CHAT + "&lang=en", headers=BROWSER))
    assert b"to keep this page quick" in cut
    assert len(cached.extensions["pages"]) == 0
    monkeypatch.undo()
    assert b"<strong>" in decoded(client.get(CHAT + "&lang=en", headers=BROWSER))


def test_pages_stay_within_their_bytes(app_factory):
    app = seeded(app_factory(RENDERED_PAGE_CACHE_BYTES=60_000), count=6)
    client = app.test_client()
    pages = app.extensions["pages"]
    for n in range(40):  # 40 queries, 40 pages of a few KB
        assert client.get(f"{CHAT}&limit={n % 6 + 1}&theme=light&x{n}=1",
                          headers=BROWSER).status_code == 200
        assert pages._bytes <= 60_000
    assert 0 < len(pages) < 40
    off = seeded(app_factory(RENDERED_PAGE_CACHE_BYTES=0))
    off.test_client().get(CHAT)
    assert len(off.extensions["pages"]) == 0


@pytest.mark.parametrize("value", ["-1", "lots", "1.5"])
def test_the_setting_must_be_a_whole_number_of_bytes(app_factory, value):
    from viewer.settings import ConfigError

    with pytest.raises(ConfigError, match="RENDERED_PAGE_CACHE_BYTES"):
        app_factory(RENDERED_PAGE_CACHE_BYTES=value)


def test_an_error_page_is_never_kept(app_factory, refused_port):
    app = app_factory(MEMOS_API_KEY="k", MEMOS_BASE_URL=f"http://127.0.0.1:{refused_port}",
                      VIEWER_ACCESS="open")
    client = app.test_client()
    assert client.get(CHAT).status_code == 503
    assert len(app.extensions["pages"]) == 0
