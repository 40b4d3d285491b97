"""Layout decisions: day breaks, the seam between batches, collapsing, themes."""

import gzip
import re
from datetime import date, datetime, timedelta, timezone, UTC

import brotli
import pytest

from memos_api import ContentPart, Message
from viewer.renderer import presentation

try:
    from compression import zstd  # Python 3.14+
except ImportError:
    from backports import zstd

UTC8 = timezone(timedelta(hours=8))


def message(text="hi", role="assistant", when=None):
    return Message(role=role, parts=(ContentPart("text", text),), created_at=when)


def at(day, hour=12):
    return datetime(2026, 3, day, hour, tzinfo=UTC8)


def days_ago(day, today):
    """A day label that shows what it was given (the real ones: tests/test_i18n.py)."""
    return f"{(today - day).days} days ago"


def test_day_breaks_mark_each_new_day_once():
    messages = [message(when=at(1, 9)), message(when=at(1, 23)), message(when=None),
                message(when=at(3, 1)), message(when=at(3, 2))]
    breaks = [b for b, _ in presentation.day_breaks(messages, UTC8, date(2026, 3, 3), days_ago)]
    assert [b.key if b else None for b in breaks] == ["2026-03-01", None, None, "2026-03-03",
                                                      None]
    assert breaks[0].label == "2 days ago" and breaks[3].label == "0 days ago"


def test_day_breaks_follow_the_display_zone():
    late_utc = datetime(2026, 3, 1, 20, tzinfo=UTC)  # already 2 March in UTC+8
    [(utc_break, _)] = presentation.day_breaks([message(when=late_utc)], UTC,
                                               date(2026, 3, 2), days_ago)
    [(local_break, _)] = presentation.day_breaks([message(when=late_utc)], UTC8,
                                                 date(2026, 3, 2), days_ago)
    assert utc_break.label == "1 days ago" and local_break.label == "0 days ago"


def test_shared_day_only_when_the_seam_falls_inside_a_day():
    batch = [message(when=at(1)), message(when=at(2, 8)), message(when=None)]
    assert presentation.shared_day(batch, message(when=at(2, 9)), UTC8) == "2026-03-02"
    assert presentation.shared_day(batch, message(when=at(3)), UTC8) is None
    assert presentation.shared_day(batch, None, UTC8) is None
    assert presentation.shared_day([message(when=None)], message(when=at(2)), UTC8) is None


def test_long_messages_collapse_sooner_for_system_and_tool():
    medium = "x" * 1000
    assert not presentation.is_long(message(medium, "assistant"))
    assert presentation.is_long(message(medium, "system"))
    assert presentation.is_long(message("line\n" * 50, "user"))
    start = presentation.preview_source("word " * 1000)
    assert start.endswith("…") and len(start) <= presentation.PREVIEW_CHARACTERS + 1


def seed_two_days(store):
    store.add_messages("u", "c", [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}",
         "chat_time": f"2026-03-0{1 + n // 7} 10:{n:02d}:00"} for n in range(14)])


def test_fragment_deletes_the_separator_it_repeats(client, store):
    seed_two_days(store)  # 7 messages on 1 March, 7 on 2 March; the page shows the last 6
    page = client.get("/chat?user_id=u&conversation_id=c").get_data(as_text=True)
    assert page.count('class="day-separator"') == 1 and 'id="day-2026-03-02"' in page
    url = re.search(r'data-hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    fragment = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-hx-swap-oob="delete:#day-2026-03-02"' in fragment
    assert fragment.index('id="day-2026-03-01"') < fragment.index('id="day-2026-03-02"')
    assert "Loaded 6 earlier messages." in fragment


def test_fragment_keeps_the_separator_when_days_differ(client, store):
    store.add_messages("u", "c", [
        {"role": "user", "content": f"m{n}", "chat_time": f"2026-03-0{1 + n // 6} 10:00:0{n % 6}"}
        for n in range(12)])
    page = client.get("/chat?user_id=u&conversation_id=c").get_data(as_text=True)
    url = re.search(r'data-hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    fragment = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "delete:" not in fragment and 'id="day-2026-03-01"' in fragment


def test_theme_is_forced_kept_in_links_and_checked(client, store):
    seed_two_days(store)
    dark = client.get("/chat?user_id=u&conversation_id=c&theme=dark").get_data(as_text=True)
    assert '<html lang="en" dir="ltr" data-theme="dark">' in dark
    assert re.search(r'id="load-more"[^>]*href="[^"]*theme=dark', dark, re.S)
    auto = client.get("/chat?user_id=u&conversation_id=c&theme=auto").get_data(as_text=True)
    assert "data-theme" not in auto and "theme=" not in auto
    bad = client.get("/chat?user_id=u&conversation_id=c&theme=purple")
    assert bad.status_code == 400 and "light, dark or auto" in bad.get_data(as_text=True)


def test_pages_are_compressed_per_response(client):
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in page.headers["Vary"]
    assert b"<!doctype html>" in gzip.decompress(page.data).lower()


def test_safaris_small_pages_are_brotli_at_level_4_and_large_ones_at_level_1(client, store):
    """Safari takes no zstd: a small page in brotli at level 4 (15% smaller than level 1), a
    page past 64 KB at level 1 (level 4 costs three times the CPU there for 5%)."""
    safari = {"Accept-Encoding": "gzip, deflate, br"}
    small = client.get("/chat?user_id=demo-user&conversation_id=demo-conversation",
                       headers=safari)
    html = brotli.decompress(small.data)
    assert small.headers["Content-Encoding"] == "br" and 4_000 < len(html) < 64 * 1024
    assert small.data == brotli.compress(html, quality=4)
    assert len(small.data) < 0.9 * len(brotli.compress(html, quality=1))
    assert "Accept-Encoding" in small.headers["Vary"]
    store.add_messages("u", "long", [
        {"role": "assistant", "content": f"Answer {n}: " + "words of an answer " * 40,
         "chat_time": f"2026-03-01 10:{n // 60:02d}:{n % 60:02d}"} for n in range(100)])
    large = client.get("/chat?user_id=u&conversation_id=long&limit=100", headers=safari)
    html = brotli.decompress(large.data)
    assert len(html) > 64 * 1024 and large.data == brotli.compress(html, quality=1)
    chrome = client.get("/chat?user_id=demo-user&conversation_id=demo-conversation",
                        headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert chrome.headers["Content-Encoding"] == "zstd"  # Chrome's, as it was
    refused = client.get("/chat?user_id=demo-user&conversation_id=demo-conversation",
                         headers={"Accept-Encoding": "br;q=0, gzip"})
    assert refused.headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize(("accepted", "chosen"), [
    ("gzip, deflate, br, zstd", "zstd"),  # Chrome, Edge and Firefox over HTTPS
    ("gzip, deflate, br", "br"),          # Safari
    ("br;q=1, zstd;q=0.5", "br"),         # the browser's preference first
    ("gzip, deflate", "gzip"),
    ("identity", None),
    # Refused (q=0) is refused, whatever the spelling: never sent one the client declined.
    ("zstd;q=0", None),
    ("ZSTD;Q=0, BR;Q=0", None),
    ("zstd;q=0, br;q=0, gzip;q=0", None),
    ("zstd; q=0, gzip", "gzip"),
    ("zstd;q=0.000, gzip;q=0.5", "gzip"),
    ("*;q=0, identity", None),
    ("zstd;q=0, *", "br"),
    ("identity, br;q=0.5", None),          # none preferred: sent as it is
    ("identity;q=0.5, br", "br"),
])
def test_pages_are_sent_in_the_smallest_encoding_the_browser_takes(client, accepted, chosen):
    # zstd at its default level makes a small page ~9% smaller than brotli at the level a page
    # can afford (1), in about the same time, and a 1000-message page smaller and sooner.
    html = client.get("/chat?user_id=demo-user&conversation_id=demo-conversation",
                      headers={"Accept-Encoding": "identity"}).data
    page = client.get("/chat?user_id=demo-user&conversation_id=demo-conversation",
                      headers={"Accept-Encoding": accepted})
    assert page.headers.get("Content-Encoding") == chosen
    assert "Accept-Encoding" in page.headers["Vary"]
    decode = {"zstd": zstd.decompress, "br": brotli.decompress, "gzip": gzip.decompress,
              None: lambda body: body}[chosen]
    printed = re.compile(rb'<time class="printed__time".*?</time>')  # this very second
    assert printed.sub(b"", decode(page.data)) == printed.sub(b"", html)
