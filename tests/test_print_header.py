"""What a printed page says about itself, in the HTML (tests/browser/test_browser_print.py
prints it): the conversation, when it was printed, and that earlier messages are left out.
These lines are hidden on screen but translated all the same."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

CHAT = "/chat?user_id=u1&conversation_id=c1"
PRINTED = re.compile(r'<p class="print-only printed">(.*?)<time class="printed__time" '
                     r'datetime="([^"]+)">([^<]+)</time>(.*?)</p>')


@pytest.fixture
def client(app_factory):
    app = app_factory(RATE_LIMIT="0", CHAT_PAGE_SIZE=3, DISPLAY_TIMEZONE="Asia/Shanghai")
    app.extensions["memos_source"].add_messages("u1", "c1", [
        {"role": "user", "content": f"m{n}", "chat_time": f"2026-03-01 10:00:0{n}"}
        for n in range(5)])
    return app.test_client()


def printed(page: str) -> tuple[str, datetime, str]:
    """The printed line's words around the time, the time, and the time as written."""
    before, iso, text, after = PRINTED.search(page).groups()
    return before + "{time}" + after, datetime.fromisoformat(iso), text


@pytest.mark.parametrize("path", [CHAT, CHAT.replace("/chat", "/embed")])
def test_the_page_says_when_it_was_printed_in_the_display_zone(client, path):
    words, moment, text = printed(client.get(path).text)
    assert words == "Printed {time}"
    assert moment.utcoffset() == timedelta(hours=8)
    assert abs((datetime.now(moment.tzinfo) - moment).total_seconds()) < 60
    assert str(moment.year) in text and "+0800" in text  # Babel's long form, with its zone


def test_the_printed_lines_are_translated(client):
    page = client.get(CHAT + "&lang=zh-CN").text
    words, moment, text = printed(page)
    assert words == "打印于 {time}"
    assert f"{moment.year}年{moment.month}月{moment.day}日" in text
    assert "未包含更早的消息" in page  # the first page does not reach the start
    embed = client.get("/embed?user_id=u1&conversation_id=c1&lang=zh-CN").text
    assert re.search(r'<p class="print-header__title">对话 <span class="print-header__id">c1'
                     r"</span></p>", embed)


def test_the_widget_names_its_conversation_for_print_only(client):
    page = client.get("/embed?user_id=u1&conversation_id=c1&limit=5").text
    assert '<header class="print-only print-header">' in page
    assert 'class="print-header__id">c1</span>' in page
    assert "Earlier messages are not included" not in page  # all five are shown
    assert 'id="conversation-start"' in page


def test_an_id_is_escaped_in_the_printed_header(client):
    hostile = '<img src=x onerror="alert(1)">'
    page = client.get("/embed", query_string={"user_id": "u1", "conversation_id": hostile})
    assert page.status_code == 200
    assert hostile not in page.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page.text
