"""What a page reuses from page to page (issue #19) never carries one reader's page into another's.

Templates are compiled once per language with their fixed texts translated in
(viewer/localized.py), links are joined to paths built once (viewer/links.py), and the printed
time is written once a second per language: each is checked against what it replaces, and
readers of two conversations in two languages, interleaved, each get their own page.
"""

from __future__ import annotations

import re
import time

import pytest
from flask import request, url_for

from viewer.access import sign
from viewer.links import encode_query, link

SECRET = "a-secret-for-the-chrome-tests-of-32-bytes"
# Query values as hostile as a reader can send: every character url_for treats specially.
HOSTILE = ["plain", "a b+c", "x&y=z", "#frag", "100%", "?/:@!$'()*,;", "名字", "🙂", "é\u0301",
           "<script>", '"quoted"', "\u202eevil", "a\tb\nc", ""]
WORDS = {"alice": "secret number", "bob": "private"}  # in their messages only
OPEN_CHAT = "user_id=demo-user&conversation_id=demo-conversation"
PRINTED = re.compile(r'<time class="printed__time" datetime="[^"]*">[^<]*</time>')


@pytest.mark.parametrize("script_root", ["", "/viewer", "/a b/ü"])
def test_links_are_byte_for_byte_what_url_for_builds(app, script_root):
    endpoints = ["chat.chat", "chat.embed", "chat.older", "chat.newer", "chat.export",
                 "chat.memories", "chat.memory_search", "chat.index"]
    with app.test_request_context("/", base_url=f"http://localhost{script_root}/"):
        assert request.script_root == script_root
        for endpoint in endpoints:
            assert link(endpoint) == url_for(endpoint)
            for value in HOSTILE:
                params = {"user_id": value, "skipped": None, "conversation_id": value[::-1],
                          "limit": 7}
                assert link(endpoint, encode_query(params)) == url_for(endpoint, **params)


def test_link_paths_follow_the_mount_point_of_each_request(app):
    with app.test_request_context("/", base_url="http://localhost/one/"):
        assert link("chat.chat") == "/one/chat"
    with app.test_request_context("/", base_url="http://localhost/two/"):
        assert link("chat.chat") == "/two/chat"
    for number in range(200):  # mount points come from proxies: what is kept stays bounded
        with app.test_request_context("/", base_url=f"http://localhost/m{number}/"):
            assert link("chat.export") == f"/m{number}/chat/export"
    assert len(app.extensions["link_paths"]) <= 64


def test_folded_translations_render_as_translated_at_run_time(app):
    """A language's compiled templates print what Flask-Babel's ``_`` prints, escaping
    included: the translation as markup, ``%%`` formatted, arguments escaped."""
    source = ('{{ _("Download as JSON") }}|{{ _("Copy") }}|{{ _("Try again") }}|'
              '{{ _("Error %(status)s", status="<b>") }}|{{ _("no such text & <b>") }}|'
              '<a title="{{ _("Live updates paused.") }}">{{ label or _("Find") }}</a>')
    for lang in ("en", "zh-Hans"):
        with app.test_request_context(f"/?lang={lang}"):
            folded = app.jinja_env.for_language()
            assert folded is not app.jinja_env
            compiled = folded.from_string(source)
            # The base environment outside the overlay translates at run time, as before.
            assert compiled.render() == app.jinja_env.from_string(source).render()
    with app.test_request_context("/?lang=zh-Hans"):
        assert "复制" in app.jinja_env.for_language().from_string(source).render()


def test_each_language_has_one_overlay_however_many_requests(app):
    client = app.test_client()
    for lang in ["en", "zh-Hans", "fr", "zh-CN", "xx-yy", "en-GB"] * 5:
        client.get(f"/?lang={lang}")
    assert set(app.jinja_env.language_overlays) == {"en", "zh_Hans"}


@pytest.fixture
def two_readers(app_factory):
    app = app_factory(EMBED_SECRET=SECRET)
    store = app.extensions["memos_source"]
    store.add_messages("alice", "alice-chat", [
        {"role": "user", "content": f"alice's secret number {n}"} for n in range(4)])
    store.add_messages("bob", "bob-chat", [
        {"role": "assistant", "content": f"bob's **private** note {n}"} for n in range(3)])
    tokens = {"alice": sign("alice", "alice-chat", SECRET, 600, accent="#aa0000"),
              "bob": sign("bob", "bob-chat", SECRET, 600, memories="user")}
    return app, tokens


def page(client, token, lang, layout="chat"):
    response = client.get(f"/{layout}?token={token}&lang={lang}")
    assert response.status_code == 200
    return PRINTED.sub("", response.get_data(as_text=True))


def test_two_signed_readers_in_two_languages_interleaved_get_only_their_own(two_readers,
                                                                            app_factory):
    app, tokens = two_readers
    client = app.test_client()
    other = {"alice": "bob", "bob": "alice"}
    seen = {}
    for _ in range(3):
        for reader in ("alice", "bob"):
            for lang in ("zh-Hans", "en"):
                for layout in ("chat", "embed"):
                    text = page(client, tokens[reader], lang, layout)
                    assert tokens[reader] in text and WORDS[reader] in text
                    assert tokens[other[reader]] not in text
                    assert WORDS[other[reader]] not in text and f"{other[reader]}-chat" not in text
                    assert f'<html lang="{lang}"' in text
                    assert ("检查新消息" in text) == (lang == "zh-Hans")  # "Check for new messages"
                    # The same page every time: nothing from another reader's page stays in it.
                    assert seen.setdefault((reader, lang, layout), text) == text
    assert "#aa0000" not in seen[("bob", "en", "chat")]
    assert "aa0000" in seen[("alice", "en", "chat")]
    assert "memories" in seen[("bob", "en", "chat")]


def test_a_page_is_the_same_as_the_first_page_of_a_fresh_app(two_readers, app_factory):
    """Whatever was made for earlier readers, a reader's page is byte for byte what a freshly
    started app makes for them as its very first page."""
    app, tokens = two_readers
    client = app.test_client()
    for reader in ("bob", "alice", "bob"):
        for lang in ("en", "zh-Hans"):
            page(client, tokens[reader], lang)
            page(client, tokens[reader], lang, "embed")
    for reader in ("alice", "bob"):
        for lang in ("zh-Hans", "en"):
            for layout in ("embed", "chat"):
                fresh = app_factory(EMBED_SECRET=SECRET).test_client()  # the same store
                assert page(client, tokens[reader], lang, layout) == page(
                    fresh, tokens[reader], lang, layout)


def test_the_printed_time_is_in_each_readers_language_within_one_second(two_readers):
    app, tokens = two_readers
    client = app.test_client()
    for _ in range(5):
        stamps = {}
        for lang in ("zh-Hans", "en", "zh-Hans"):
            text = client.get(f"/chat?token={tokens['alice']}&lang={lang}").get_data(
                as_text=True)
            stamps[lang] = PRINTED.search(text).group(0)
        assert "年" in stamps["zh-Hans"] and "年" not in stamps["en"]
        time.sleep(0.2)


def test_the_scripts_texts_are_utf8_json_that_no_text_can_break_out_of():
    import json

    from viewer.templating import texts_json

    hostile = {"a": "</script><script>alert(1)</script>", "b": "' onload='x", "c": "&amp; <!--",
               "d": "line\u2028break\u2029para", "e": "复制 «ok» 🙂", "f": '"\\'}
    written = texts_json(hostile)
    for forbidden in ("<", ">", "&", "'", "\u2028", "\u2029"):
        assert forbidden not in written
    assert "复制 «ok» 🙂" in written  # UTF-8, not \u escapes
    assert json.loads(written) == hostile


def test_a_chinese_page_carries_its_scripts_texts_in_utf8(app):
    text = app.test_client().get(f"/chat?{OPEN_CHAT}&lang=zh-Hans").get_data(as_text=True)
    content = re.search(r"<meta name=\"chat-texts\" content='([^']*)'>", text).group(1)
    assert "复制" in content and "\\u" not in content


def test_control_characters_are_found_as_unicode_classes_them():
    """``has_controls`` searches a fixed class instead of asking unicodedata per character:
    the same answer for every code point."""
    import unicodedata

    from viewer.validation import has_controls

    for code in range(0x110000):
        char = chr(code)
        expected = unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp")
        assert has_controls(f"id-{char}-x") is expected, hex(code)
