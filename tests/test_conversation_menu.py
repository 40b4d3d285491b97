"""The conversation menu (templates/partials/menu.html) and the empty state, as served.

The page decides in Python (``Slice.downloads``, ``Fresh.downloads``) whether there is anything
to offer: the downloads of a conversation with messages, on the full page or in a widget asked
for them (``?export=1``); nothing for an empty conversation, which says so in the middle of the
page instead, until a live check brings its first messages and the menu with them.
"""

from __future__ import annotations

import re
from html import unescape

import pytest

CHAT = "/chat?user_id=u&conversation_id=c"
EMBED = "/embed?user_id=u&conversation_id=c"
HX = {"HX-Request": "true"}
SLOT = re.compile(r'<div class="conversation-menu" id="conversation-menu"'
                  r'( data-hx-swap-oob="true")?>(.*?)</div>', re.S)


@pytest.fixture
def app(app_factory):
    return app_factory(LIVE_POLL_SECONDS=5)


def say(n: int) -> dict:
    return {"role": "user" if n % 2 else "assistant", "content": f"message {n}",
            "chat_time": f"2026-03-01 09:00:{n:02d}"}


def menu(page: str) -> str | None:
    """What the page's menu slot holds ("" when empty), or None without a slot."""
    found = SLOT.search(page)
    return found and found.group(2)


def downloads(page: str) -> list[tuple[str, str]]:
    """The menu's download links: (format, words)."""
    return [(kind, words) for kind, words in re.findall(
        r'<a class="menu__item menu__download" href="/chat/export\?[^"]*format=(\w+)">([^<]*)</a>',
        menu(page) or "")]


def test_a_conversation_page_has_the_menu_in_its_header(app, client):
    app.extensions["memos_source"].add_messages("u", "c", [say(n) for n in range(3)])
    page = client.get(CHAT).text
    header = page[page.index('<header class="topbar">'):page.index("</header>")]
    assert 'id="conversation-menu"' in header
    assert '<details class="menu no-print">' in header
    assert '<span class="visually-hidden">Conversation menu</span>' in header
    assert downloads(page) == [("json", "Download as JSON"), ("md", "Download as Markdown"),
                               ("txt", "Download as text")]
    copy_url = unescape(re.search(r'data-copy-url="([^"]*)"', page)[1])
    assert copy_url == "/chat/export?user_id=u&conversation_id=c&format=md"
    assert 'data-text-print="Print"' in page
    assert "Download:" not in page and 'class="exports' not in page


def test_the_title_keeps_the_whole_id_in_text_and_tooltip(app, client):
    hostile = '"><b>' + "long-id-" * 11 + "end"
    app.extensions["memos_source"].add_messages("u", hostile, [say(1)])
    page = client.get("/chat", query_string={"user_id": "u", "conversation_id": hostile}).text
    escaped = hostile.replace('"', "&#34;").replace("<", "&lt;").replace(">", "&gt;")
    assert f'<h1 class="topbar__title" dir="auto" title="{escaped}">{escaped}</h1>' in page
    assert '<p class="topbar__meta" title="u">' in page


@pytest.mark.parametrize("lang, heading, words", [
    ("en", "No messages yet", "When messages are added to this conversation, they will show "
                              "here."),
    ("zh-CN", "还没有消息", "这个对话有了消息后，会显示在这里。"),
])
def test_an_empty_conversation_says_so_and_offers_no_downloads(client, lang, heading, words):
    page = client.get(f"{CHAT}&lang={lang}").text
    assert 'id="conversation-empty"' in page
    assert f'<h2 class="empty-state__title">{heading}</h2>' in page
    assert f'<p class="empty-state__text">{words}</p>' in page
    assert menu(page) == ""  # the slot is there, for the first messages to fill
    assert "/chat/export" not in page and "<details class=\"menu" not in page


def test_the_widget_has_the_menu_only_when_asked_and_not_when_empty(app, client):
    assert "/chat/export" not in client.get(EMBED + "&export=1").text  # empty: nothing yet
    app.extensions["memos_source"].add_messages("u", "c", [say(n) for n in range(2)])
    plain = client.get(EMBED).text
    assert menu(plain) == "" and "/chat/export" not in plain
    asked = client.get(EMBED + "&export=1").text
    assert [kind for kind, _ in downloads(asked)] == ["json", "md", "txt"]
    assert 'class="topbar"' not in asked
    assert all("export=1" in unescape(url) for url in
               re.findall(r'href="(/chat/export[^"]*)"', asked))


@pytest.mark.parametrize("path, offered", [(CHAT, True), (EMBED + "&export=1", True),
                                           (EMBED, False)])
def test_the_first_messages_bring_the_menu_to_an_empty_page(app, client, path, offered):
    page = client.get(path).text
    assert menu(page) == ""
    live = unescape(re.search(r'data-live-url="([^"]*)"', page)[1])
    store = app.extensions["memos_source"]
    store.add_messages("u", "c", [say(n) for n in range(2)])

    first = client.get(live, headers=HX)

    assert first.status_code == 200
    swapped = SLOT.search(first.text)
    if offered:
        assert swapped and swapped.group(1)  # out of band, into the page's slot
        assert [kind for kind, _ in downloads(first.text)] == ["json", "md", "txt"]
    else:
        assert not swapped and "/chat/export" not in first.text
    # Later checks bring messages only: the menu is there already.
    store.add_messages("u", "c", [say(n) for n in range(2, 4)])
    later = client.get(first.headers["Live-Next"], headers=HX)
    assert later.status_code == 200 and "message 3" in later.text
    assert not SLOT.search(later.text)
