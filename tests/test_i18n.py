"""The reader's language: how it is chosen and kept, the Chinese wording, and the catalogs.

- Choice: ``?lang=`` first, then ``Accept-Language``, then English; every link a page makes
  keeps ``?lang=``.
- Wording: the Chinese of roles, days, errors (by MemOS code, not by parsing English) and the
  command line's ``--lang``.
- Catalogs: every text ``make pot`` extracts has a Chinese translation with the same
  placeholders; and every page, rendered in a pseudo-locale whose every translation is written
  in full-width letters, shows no plain English: a text that never went through gettext.

The Chinese pages in a real browser (scripts' phrases, Intl dates, axe and Nu) are
tests/browser/test_browser_chinese.py.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from datetime import date, datetime, timedelta, UTC
from html import unescape
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from untranslated import echoed, english_words, reader_texts, untranslated
from upstream_apps import upstream_app
from werkzeug.wrappers import Response

from memos_api import is_known_wording, MemOSError
from viewer import errors, templating
from viewer.access import MemoriesRefused, sign
from viewer.export import DownloadsBusy
from viewer.renderer import formatting
from viewer.validation import MissingConversation

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
HX = {"HX-Request": "true"}
CHAT = "/chat?user_id=u1&conversation_id=c1"
IDS = {"u1", "c1"}
SECRET = "i18n-tests-secret-0123456789abcdefghijkl"
PREFIX = "/api/openmem/v1"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w+\}")


def add(store, count, *, user="u1", conversation="c1", day=1, text="消息 {n}"):
    store.add_messages(user, conversation, [
        {"role": ("user", "assistant", "system", "tool")[n % 4], "content": text.format(n=n),
         "chat_time": f"2026-03-{day:02d} 10:00:{n:02d}"} for n in range(count)])


def attribute(page: str, name: str) -> str:
    return unescape(re.search(rf'{name}="([^"]*)"', page).group(1))


def links(page: str) -> list[str]:
    """Every URL the page offers: links, htmx requests, live checks, and forms as the
    address they submit to (a GET form's action with its hidden fields)."""
    found = re.findall(r'(?:href|hx-get|data-live-url)="([^"]*)"', page)
    for action, fields in re.findall(r'<form [^>]*?action="([^"]*)"[^>]*>(.*?)</form>', page,
                                     re.S):
        hidden = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', fields)
        found.append(action + "?" + "&".join(f"{name}={value}" for name, value in hidden))
    return [unescape(url) for url in found if not url.startswith(("/static/", "#"))]


@pytest.fixture
def app(app_factory):
    return app_factory(LIVE_POLL_SECONDS=2, RATE_LIMIT="0")


@pytest.fixture
def client(app):
    return app.test_client()


# --- choosing the language -----------------------------------------------------------------

@pytest.mark.parametrize("asked", ["zh-CN", "zh", "zh-Hans", "zh-SG", "zh_CN", "ZH-cn",
                                   "zh-Hans-CN"])
def test_chinese_is_asked_for_by_its_usual_tags(client, asked):
    page = client.get(f"/?lang={asked}").text
    assert '<html lang="zh-Hans"' in page and "打开对话" in page


@pytest.mark.parametrize("header, lang", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
    ("fr-FR, zh;q=0.5", "zh-Hans"),          # the first language spoken here wins
    ("en-US,zh-CN;q=0.8", "en"),
    ("zh-TW", "en"),                          # Traditional Chinese is not spoken here
    ("zh-Hant-HK, zh-HK", "en"),
    ("*", "en"),
    ("", "en"),
    ("xx;q=abc, zh-CN;q=", "zh-Hans"),        # a malformed header is read as well as it can be
])
def test_accept_language_chooses_when_the_address_does_not(client, header, lang):
    page = client.get("/", headers={"Accept-Language": header}).text
    assert f'<html lang="{lang}"' in page


@pytest.mark.parametrize("query, header", [
    ("", ""), ("", "zh-CN,zh;q=0.9"), ("", "zh-TW"), ("?lang=zh", "en"), ("?lang=en", "zh"),
    ("?lang=xx", "zh"), ("?lang=", "zh-Hans"),
])
@pytest.mark.parametrize("babel_first", [False, True])
def test_the_locale_kept_as_a_name_is_flask_babels(app, query, header, babel_first):
    from flask_babel import get_locale

    from viewer.i18n import locale_name

    with app.test_request_context("/" + query, headers={"Accept-Language": header}):
        if babel_first:
            chosen = str(get_locale())
            assert locale_name() == chosen
        else:
            assert locale_name() == str(get_locale())


def test_the_page_declares_its_direction_with_its_language(client):
    for lang in ("en", "zh-CN"):
        assert 'dir="ltr"' in client.get(f"/?lang={lang}").text.split(">", 2)[1]
    # The messages take their own direction, not the page's (viewer/renderer/markdown.py).
    assert client.get(CHAT).text.count('dir="rtl"') == 0


def test_the_address_wins_over_the_browser(client):
    chinese = client.get("/?lang=zh-CN", headers={"Accept-Language": "en"}).text
    english = client.get("/?lang=en", headers={"Accept-Language": "zh-CN"}).text
    assert '<html lang="zh-Hans"' in chinese and '<html lang="en"' in english
    assert "Open a conversation" in english


@pytest.mark.parametrize("asked", ["fr", "zh-TW", "klingon", "x" * 5000, "zh-CN\x00",
                                   "<script>", "zh-Hant", "%"])
def test_an_unknown_language_is_english_not_an_error(client, store, asked):
    add(store, 2)
    for path in ("/", "/chat"):
        query = {"lang": asked} | ({"user_id": "u1", "conversation_id": "c1"} if path != "/"
                                   else {})
        response = client.get(path, query_string=query)
        assert response.status_code == 200 and '<html lang="en"' in response.text
        assert not any("lang=" in url and "lang=en" not in url for url in links(response.text))
    # Links name the language shown, not what was asked for.
    assert "lang=en" in client.get("/chat", query_string={"lang": asked, "user_id": "u1",
                                                          "conversation_id": "c1"}).text


def test_an_empty_lang_leaves_the_choice_to_the_browser(client):
    page = client.get("/?lang=", headers={"Accept-Language": "zh-CN"}).text
    assert '<html lang="zh-Hans"' in page


def test_every_link_of_a_chinese_page_keeps_the_language(app_factory):
    app = app_factory(LIVE_POLL_SECONDS=2, RATE_LIMIT="0", CHAT_PAGE_SIZE=3)
    store = app.extensions["memos_source"]
    add(store, 10)
    client = app.test_client()
    page = client.get(CHAT + "&lang=zh-CN&theme=dark").text
    offered = links(page)
    assert len(offered) >= 4  # home, load earlier (htmx and plain), live check, reload
    assert all("lang=zh-Hans" in url and "theme=dark" in url for url in offered), offered

    first = client.get(CHAT + "&lang=zh-Hans&limit=3").text
    older = re.search(r'hx-get="(/chat/older[^"]*)"', first).group(1)
    fragment = client.get(unescape(older), headers=HX)
    assert fragment.status_code == 200 and "加载更早的消息" in fragment.text
    assert all("lang=zh-Hans" in url for url in links(fragment.text)), links(fragment.text)

    check = attribute(page, "data-live-url")
    add(store, 1, day=2, text="新的一条")
    time.sleep(1.05)  # past the shared answer's life (a second: viewer/sharing.py)
    newer = client.get(check, headers=HX)
    assert newer.status_code == 200 and "lang=zh-Hans" in newer.headers["Live-Next"]
    assert all("lang=zh-Hans" in url for url in links(newer.text))


def test_the_start_page_keeps_the_language_in_its_demo_link_and_form(client):
    page = client.get("/?lang=zh").text
    demo = re.search(r'<a class="button" href="([^"]*)"', page).group(1)
    assert "lang=zh-Hans" in unescape(demo)
    assert '<input type="hidden" name="lang" value="zh-Hans">' in page
    assert 'name="lang"' not in client.get("/").text  # nothing chosen, nothing kept


def test_the_widget_keeps_the_language_and_the_token(app_factory):
    app = app_factory(EMBED_SECRET=SECRET, LIVE_POLL_SECONDS=2, RATE_LIMIT="0",
                      CHAT_PAGE_SIZE=3)
    add(app.extensions["memos_source"], 8)
    with app.app_context():
        token = sign("u1", "c1", SECRET, 600)
    page = app.test_client().get(f"/embed?token={token}&lang=zh-CN").text
    assert '<html lang="zh-Hans"' in page and "加载更早的消息" in page
    offered = links(page)
    assert offered and all("lang=zh-Hans" in url and "token=" in url for url in offered)


def test_retry_links_keep_the_language(app_factory, refused_port):
    app = upstream_app(app_factory, f"http://127.0.0.1:{refused_port}", MEMOS_API_KEY="k",
                       RATE_LIMIT="0")
    client = app.test_client()
    page = client.get(CHAT + "&lang=zh-CN")
    assert page.status_code == 503 and '<html lang="zh-Hans"' in page.text
    retry = re.search(r'class="alert__retry" href="([^"]*)"', page.text).group(1)
    assert "lang=zh-Hans" in unescape(retry)
    older = client.get("/chat/older?user_id=u1&conversation_id=c1&shown=6&depth=6"
                       "&anchor=1.0123456789abcdef&lang=zh-CN", headers=HX)
    assert older.status_code == 503
    assert all("lang=zh-Hans" in url for url in links(older.text)), links(older.text)


def test_a_page_chosen_by_the_browser_adds_no_lang_to_its_links(client, store):
    add(store, 8)
    page = client.get(CHAT, headers={"Accept-Language": "zh-CN"}).text
    assert '<html lang="zh-Hans"' in page and "加载更早的消息" in page
    assert not any("lang=" in url for url in links(page))


# --- what Chinese readers read --------------------------------------------------------------

def test_roles_are_named_in_chinese(client, store):
    add(store, 4)
    page = client.get(CHAT + "&lang=zh-CN").text
    labels = re.findall(r'<p class="message__author">([^<]*)</p>', page)
    assert labels == ["用户", "助手", "系统", "工具"]


def test_days_are_written_in_the_readers_language(app):
    today = date(2026, 3, 3)
    with app.test_request_context("/?lang=zh-CN"):
        assert templating.day_label(today, today) == "今天"
        assert templating.day_label(date(2026, 3, 2), today) == "昨天"
        assert templating.day_label(date(2026, 3, 1), today) == "2026年3月1日星期日"
    with app.test_request_context("/"):
        assert templating.day_label(today, today) == "Today"
        assert templating.day_label(date(2026, 3, 2), today) == "Yesterday"
        assert templating.day_label(date(2026, 3, 1), today) == "Sunday, 1 March 2026"


def test_a_chinese_page_dates_its_days_in_chinese(client, store):
    add(store, 2)
    add(store, 1, conversation="today")
    connection = sqlite3.connect(store.path)
    with connection:  # chat_time decides the day; move the last message to now
        now = datetime.now(UTC) + timedelta(hours=8)
        connection.execute("UPDATE messages SET message = json_set(message, '$.chat_time', ?)"
                           " WHERE conversation_id = 'today'", (f"{now:%Y-%m-%d %H:%M:%S}",))
    connection.close()
    assert ">2026年3月1日星期日<" in client.get(CHAT + "&lang=zh-Hans").text
    page = client.get("/chat?user_id=u1&conversation_id=today&lang=zh-Hans").text
    assert ">今天<" in page


def test_the_scripts_phrases_are_chinese(client, store):
    add(store, 2)
    page = client.get(CHAT + "&lang=zh-CN").text
    meta = re.search(r"<meta name=\"chat-texts\" content='([^']*)'>", page).group(1)
    phrases = json.loads(unescape(meta))
    assert phrases["copy"] == "复制" and phrases["tryAgain"] == "重试"
    assert attribute(page, "data-text-new-many") == "{count} 条新消息"


def test_every_phrase_chat_js_says_is_on_the_page_in_both_languages(client, store):
    """chat.js keeps no English copy of its texts (the name would show instead): each name it
    asks for must be in the page's chat-texts, and differ between the two languages."""
    add(store, 2)
    names = set(re.findall(r'phrase\("(\w+)"\)', (ROOT / "static" / "chat.js").read_text()))
    assert {"copy", "network", "downloadFailed"} <= names
    texts = {}
    for lang in ("en", "zh-Hans"):
        page = client.get(CHAT + f"&lang={lang}").text
        meta = re.search(r"<meta name=\"chat-texts\" content='([^']*)'>", page).group(1)
        texts[lang] = json.loads(unescape(meta))
        assert names <= texts[lang].keys(), names - texts[lang].keys()
        assert all(texts[lang][name].strip() for name in names)
    assert all(texts["en"][name] != texts["zh-Hans"][name] for name in names)
    assert "{status}" in texts["zh-Hans"]["downloadFailed"]


def test_validation_errors_are_chinese(client):
    missing = client.get("/chat?conversation_id=c1&lang=zh-CN")
    assert missing.status_code == 400 and "缺少用户 ID" in missing.text
    assert "此链接缺少要打开的对话" in missing.text and "错误 400" in missing.text
    assert "missing" not in missing.text


def test_a_refused_token_is_explained_in_chinese(app_factory):
    client = app_factory(EMBED_SECRET=SECRET).test_client()
    refused = client.get("/embed?lang=zh-CN")
    assert refused.status_code == 403 and '<html lang="zh-Hans"' in refused.text
    assert not english_words(" ".join(reader_texts(refused.text)))


@pytest.mark.parametrize("answer, status, words", [
    ('{"code": 40101, "data": null, "message": "token invalid"}', 502, "错误码 40101"),
    ('{"code": 40001, "data": null, "message": "no data"}', 404, "没有找到该用户或对话"),
    ('{"code": 40132, "data": null, "message": "key expired"}', 502, "API 密钥"),
])
def test_memos_errors_are_worded_in_chinese_by_their_code(app_factory, httpserver, answer,
                                                          status, words):
    httpserver.expect_request(PREFIX + "/get/message").respond_with_response(
        Response(answer, content_type="application/json"))
    app = upstream_app(app_factory, httpserver.url_for(PREFIX), MEMOS_API_KEY="k")
    response = app.test_client().get(CHAT + "&lang=zh-CN")
    assert response.status_code == status and words in response.text
    assert not english_words(" ".join(reader_texts(response.text)), IDS)


def test_the_viewers_own_rate_limit_is_explained_in_chinese(app_factory):
    client = app_factory(RATE_LIMIT="1/minute").test_client()
    client.get(CHAT + "&lang=zh-Hans")
    refused = client.get(CHAT + "&lang=zh-Hans")
    assert refused.status_code == 429
    assert "每 60 秒最多响应 1 次请求" in refused.text


def test_the_command_line_adds_the_language_to_a_widget_link(app_factory):
    app = app_factory(EMBED_SECRET=SECRET)
    add(app.extensions["memos_source"], 2)
    runner = app.test_cli_runner()
    made = runner.invoke(args=["embed-url", "u1", "c1", "--lang", "zh-CN"])
    assert made.exit_code == 0, made.output
    url = made.stdout.strip()  # the link alone (its id is said on stderr)
    assert url.endswith("&lang=zh-Hans")
    page = app.test_client().get(url.removeprefix("http://localhost"))
    assert page.status_code == 200 and '<html lang="zh-Hans"' in page.text
    unknown = runner.invoke(args=["embed-url", "u1", "c1", "--lang", "fr"])
    assert unknown.exit_code != 0 and "not a language this viewer speaks" in unknown.output


# --- the catalogs ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    """Every translatable text, extracted as `make translations` extracts it."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(["make", "--no-print-directory", "-s", "pot", f"POT={pot}"], cwd=ROOT,
                   check=True, timeout=120)
    with pot.open("rb") as file:
        return read_po(file)


def chinese() -> Catalog:
    with CATALOG.open("rb") as file:
        return read_po(file, locale="zh_Hans")


def texts_of(message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


def test_every_text_has_a_chinese_translation_with_its_placeholders(extracted):
    catalog = chinese()
    problems = []
    for message in extracted:
        if not message.id:
            continue
        translated = catalog.get(message.id)
        if translated is None:
            problems.append(f"missing: {message.id!r}")
            continue
        strings = translated.string if isinstance(translated.string, tuple) \
            else (translated.string,)
        if translated.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {message.id!r}")
        wanted = set().union(*(PLACEHOLDER.findall(text) for text in texts_of(message)))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"placeholders differ: {message.id!r} -> {string!r}")
    assert not problems, "run `make translations` and translate:\n" + "\n".join(problems)


def test_the_catalog_holds_no_stale_texts(extracted):
    wanted = {message.id for message in extracted if message.id}
    stale = [message.id for message in chinese() if message.id and message.id not in wanted]
    assert not stale, f"no longer in the code (run `make translations`): {stale}"


def plain(text):
    """``text`` as a hashable value: plural forms come back from a ``.mo`` as lists."""
    return tuple(text) if isinstance(text, (list, tuple)) else text


def test_the_compiled_catalog_is_the_current_one():
    compiled = CATALOG.with_suffix(".mo")
    assert compiled.is_file(), "run `make install` to compile the catalogs"
    with compiled.open("rb") as file:
        loaded = {plain(message.id): plain(message.string) for message in read_mo(file)
                  if message.id}
    source = {plain(message.id): plain(message.string) for message in chinese() if message.id}
    assert loaded == source, "translations changed since `make install` compiled them"


# --- the pseudo-locale ----------------------------------------------------------------------

def pseudo(text: str) -> str:
    """``text`` in full-width letters, its placeholders and markup left as they are."""
    pieces = re.split(r"(%\(\w+\)[sd]|%[sd]|\{\w+\}|<[^>]*>|&\w+;)", text)
    return "".join(piece if index % 2 else
                   "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c
                           for c in piece)
                   for index, piece in enumerate(pieces))


@pytest.fixture(scope="module")
def pseudo_translations(extracted, tmp_path_factory) -> Path:
    """A directory whose zh_Hans catalog translates every text into full-width letters."""
    catalog = Catalog(locale="zh_Hans")
    for message in extracted:
        if message.id:
            # Chinese has one plural form: the plural's wording serves every count.
            wording = pseudo(texts_of(message)[-1])
            catalog.add(message.id, (wording,) if isinstance(message.id, tuple) else wording)
    directory = tmp_path_factory.mktemp("pseudo")
    compiled = directory / "zh_Hans" / "LC_MESSAGES" / "messages.mo"
    compiled.parent.mkdir(parents=True)
    with compiled.open("wb") as file:
        write_mo(file, catalog)
    return directory


@pytest.fixture
def pseudo_app(app_factory, pseudo_translations):
    def build(**settings):
        return app_factory(BABEL_TRANSLATION_DIRECTORIES=str(pseudo_translations),
                           LIVE_POLL_SECONDS=2, RATE_LIMIT="0", **settings)
    return build


def assert_translated(response, status=200):
    assert response.status_code == status, response.text[:500]
    left = untranslated(response.text, IDS | echoed(response.request.url))
    assert not left, f"English left on {response.request.url}: {left}"
    assert re.search("[Ａ-Ｚａ-ｚ]", response.text)  # the pseudo-locale is in use


def rich_conversation(store):
    """One of everything a message can show: roles, long, edited, notes, images."""
    long_code = "```python\n" + "x = 1\n" * 2500 + "```"
    store.add_messages("u1", "c1", [
        {"role": "user", "content": "你好", "chat_time": "2026-03-01 10:00:00"},
        {"role": "assistant", "content": "很长的回答。" * 400, "chat_time": "2026-03-01 10:00:01"},
        {"role": "system", "content": "x" * 30_000, "chat_time": "2026-03-02 10:00:02"},
        {"role": "tool", "content": long_code, "chat_time": "2026-03-02 10:00:03"},
        {"role": "assistant", "content": "![图表](https://example.com/a.png) ![](b.png)",
         "chat_time": "2026-03-02 10:00:04"},
        {"role": "user", "content": "改过的", "chat_time": "2026-03-02 10:00:05"},
    ])
    connection = sqlite3.connect(store.path)
    with connection:
        connection.execute("UPDATE messages SET update_time = datetime(create_time, '+1 hour')"
                           " WHERE message LIKE '%10:00:05%'")
    connection.close()


def test_every_page_in_the_pseudo_locale_shows_no_english(pseudo_app):
    app = pseudo_app(MEMOS_MAX_LIMIT=12, CHAT_PAGE_SIZE=3)
    store = app.extensions["memos_source"]
    rich_conversation(store)
    client = app.test_client()
    for path in ("/?lang=zh", "/nowhere?lang=zh", CHAT + "&lang=zh&limit=6",
                 "/chat?user_id=u1&conversation_id=empty&lang=zh-Hans",
                 "/embed?user_id=u1&conversation_id=c1&lang=zh&limit=3"):
        assert_translated(client.get(path), 404 if "nowhere" in path else 200)
    page = client.get(CHAT + "&lang=zh&limit=6").text
    assert 'class="message__note"' in page and 'class="message__edited"' in page
    assert "message__more" in page  # a long message, collapsed
    assert pseudo("image: %(description)s") % {"description": "图表"} in page
    assert pseudo("image") in page

    add(store, 40, conversation="capped")
    capped = client.get("/chat?user_id=u1&conversation_id=capped&lang=zh&limit=12")
    assert 'id="history-capped"' in capped.text
    assert_translated(capped)

    first = client.get(CHAT + "&lang=zh-Hans&limit=3").text
    older = re.search(r'hx-get="(/chat/older[^"]*)"', first).group(1)
    assert_translated(client.get(unescape(older), headers=HX))
    check = attribute(page, "data-live-url")
    store.add_messages("u1", "c1", [{"role": "assistant", "content": "新", "chat_time":
                                     "2026-03-03 10:00:00"}])
    time.sleep(1.05)  # past the shared answer's life (a second: viewer/sharing.py)
    assert_translated(client.get(check, headers=HX))
    changed = re.sub(r"after=[0-9]+\.[0-9a-f]{16}", "after=3.0123456789abcdef", check)
    assert_translated(client.get(changed, headers=HX), 409)
    add(store, 30, conversation="gap")
    gap_page = client.get("/chat?user_id=u1&conversation_id=gap&lang=zh-Hans").text
    store.add_messages("u1", "gap", [{"role": "user", "content": f"新 {n}"} for n in range(30)])
    time.sleep(0.2)
    gap = client.get(attribute(gap_page, "data-live-url"), headers=HX)
    assert 'class="live-gap"' in gap.text
    assert_translated(gap)


def test_tool_calls_and_attachments_in_the_pseudo_locale_show_no_english(pseudo_app):
    app = pseudo_app()
    store = app.extensions["memos_source"]
    calls = [{"id": f"c{n}", "type": "function",
              "function": {"name": f"tool_{n}", "arguments": json.dumps({"n": n})}}
             for n in range(24)]
    store.add_messages("u1", "tools", [
        {"role": "assistant", "content": "", "chat_time": "2026-03-01 10:00:00",
         "tool_calls": [{"id": "anonymous", "function": {"arguments": "{}"}}, *calls]},
        {"role": "tool", "content": '{"ok": true}', "tool_call_id": "c1",
         "chat_time": "2026-03-01 10:00:01"},
        {"role": "user", "chat_time": "2026-03-01 10:00:02", "content": [
            {"type": "file", "file": {"filename": "报表.csv"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/图.png"}},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            {"type": "video", "video": {"name": "片段"}}]},
        {"role": "assistant", "content": "# 标题\n\n" + "很长的回答。\n" * 60,
         "chat_time": "2026-03-01 10:00:03"},
    ])
    response = app.test_client().get("/chat?user_id=u1&conversation_id=tools&lang=zh")
    assert_translated(response)
    page = response.text
    for wording in ("Called a tool", "Show less", "File", "Image", "Audio", "Attachment"):
        assert pseudo(wording) in page, wording
    assert pseudo("Called %(name)s") % {"name": '<code dir="ltr">tool_0</code>'} in page
    assert pseudo("%(num)s more tool calls are not shown.") % {"num": 5} in page
    assert "Answer to call" not in page and pseudo("Answer to call %(call)s")[:6] in page


def test_permalinks_in_the_pseudo_locale_show_no_english(pseudo_app):
    """A message opened by its link; one not found, with or without the cap to blame; a
    malformed one; and the script's "Copy link"."""
    app = pseudo_app(MEMOS_MAX_LIMIT=12, CHAT_PAGE_SIZE=3)
    store = app.extensions["memos_source"]
    add(store, 20)
    add(store, 4, conversation="short")
    client = app.test_client()
    shown = client.get(CHAT + "&lang=zh&limit=12").text
    link = re.findall(r' id="m-([0-9a-f]{12})"', shown)[2]
    linked = client.get(CHAT + f"&lang=zh&message={link}")
    assert 'aria-current="true"' in linked.text
    assert_translated(linked)
    for conversation in ("c1", "short"):  # the cap may hide it; the whole was searched
        missing = client.get(f"/chat?user_id=u1&conversation_id={conversation}&lang=zh"
                             "&message=0123456789ab")
        assert 'id="message-not-found"' in missing.text
        assert_translated(missing)
    for value in ("XYZ", "0123456789AB", "0123456789ab&message=0123456789ab", ""):
        assert_translated(client.get(CHAT + f"&lang=zh&message={value}"), 400)
    phrases = json.loads(unescape(re.search(r"<meta name=\"chat-texts\" content='([^']*)'>",
                                            linked.text).group(1)))
    assert phrases["copyLink"] == pseudo("Copy link")


@pytest.mark.parametrize("path, status", [
    ("/chat?lang=zh", 400),
    ("/chat?user_id=u1&lang=zh-Hans", 400),
    ("/chat?user_id=%20&conversation_id=c1&lang=zh-Hans", 400),
    (CHAT + "&limit=many&lang=zh-Hans", 400),
    (CHAT + "&theme=neon&lang=zh-Hans", 400),
    (CHAT + "&live=maybe&lang=zh-Hans", 400),
    ("/chat/older?user_id=u1&conversation_id=c1&shown=x&lang=zh-Hans", 400),
    ("/chat/newer?user_id=u1&conversation_id=c1&after=nope&lang=zh-Hans", 400),
    ("/no-such-page?lang=zh", 404),
    # the downloads (viewer/export.py)
    ("/chat/export?user_id=u1&conversation_id=c1&format=pdf&lang=zh-Hans", 400),
    ("/chat/export?user_id=u1&conversation_id=c1&lang=zh-Hans", 400),
    (CHAT + "&export=2&lang=zh-Hans", 400),
])
def test_refusals_in_the_pseudo_locale_show_no_english(pseudo_app, path, status):
    client = pseudo_app().test_client()
    if not path.startswith("/chat/newer"):  # without htmx, a check is a reload of the page
        assert_translated(client.get(path), status)
    assert_translated(client.get(path, headers=HX), status)


def test_exports_in_the_pseudo_locale_show_no_english(pseudo_app):
    app = pseudo_app(MEMOS_MAX_LIMIT=5)
    add(app.extensions["memos_source"], 6)  # more than the cap: the note is there too
    client = app.test_client()
    for kind in ("md", "txt"):
        response = client.get(f"/chat/export?user_id=u1&conversation_id=c1&format={kind}"
                              "&lang=zh")
        assert response.status_code == 200
        assert not english_words(response.text, IDS), response.text
        assert re.search("[Ａ-Ｚａ-ｚ]", response.text)  # the pseudo-locale is in use
    assert_translated(client.get("/embed?user_id=u1&conversation_id=c1&export=1&lang=zh"))


def test_a_wrong_method_in_the_pseudo_locale_shows_no_english(pseudo_app):
    assert_translated(pseudo_app().test_client().post(CHAT + "&lang=zh-Hans"), 405)


@pytest.mark.parametrize("query", ["", "&token=abc", "&token={expired}", "&token={other}",
                                   "&token={good}&user_id=someone-else"])
def test_signed_refusals_in_the_pseudo_locale_show_no_english(pseudo_app, query):
    app = pseudo_app(EMBED_SECRET=SECRET)
    with app.app_context():
        tokens = {"expired": sign("u1", "c1", SECRET, -10),
                  "other": sign("u1", "c1", "another-secret-0123456789abcdefghijkl", 600),
                  "good": sign("u1", "c1", SECRET, 600)}
    client = app.test_client()
    assert_translated(client.get("/embed?lang=zh" + query.format(**tokens)), 403)
    assert_translated(client.get("/?lang=zh"))  # the signed-links landing page


def test_the_rate_limit_in_the_pseudo_locale_shows_no_english(app_factory,
                                                              pseudo_translations):
    app = app_factory(BABEL_TRANSLATION_DIRECTORIES=str(pseudo_translations),
                      RATE_LIMIT="1/minute")
    client = app.test_client()
    client.get(CHAT + "&lang=zh-Hans")
    assert_translated(client.get(CHAT + "&lang=zh-Hans"), 429)


UPSTREAM_FAILURES = {
    "auth": Response('{"code": 40132, "data": null, "message": "expired"}',
                     content_type="application/json"),
    "unknown auth": Response('{"code": 40114, "data": null, "message": ""}',
                             content_type="application/json"),
    "rate limited": Response('{"code": 40300, "data": null, "message": ""}',
                             content_type="application/json"),
    "not found": Response('{"code": 40001, "data": null, "message": "no data"}',
                          content_type="application/json"),
    "HTTP 429": Response("slow down", 429, headers={"Retry-After": "30"}),
    "HTTP 500": Response("oops", 500),
    "HTTP 503": Response("down", 503),
    "not JSON": Response("<html>hello</html>", content_type="text/html"),
    "no data": Response('{"code": 0, "message": "ok"}', content_type="application/json"),
    "odd code": Response('{"code": 77777, "data": null, "message": ""}',
                         content_type="application/json"),
}


@pytest.mark.parametrize("name", list(UPSTREAM_FAILURES))
def test_upstream_failures_in_the_pseudo_locale_show_no_english(pseudo_app, httpserver, name):
    httpserver.expect_request(PREFIX + "/get/message").respond_with_response(
        UPSTREAM_FAILURES[name])
    app = pseudo_app(MEMOS_BASE_URL=httpserver.url_for(PREFIX), MEMOS_API_KEY="k",
                     VIEWER_ACCESS="open")
    client = app.test_client()
    page = client.get(CHAT + "&lang=zh-Hans")
    assert page.status_code >= 400
    assert_translated(page, page.status_code)
    older = client.get("/chat/older?user_id=u1&conversation_id=c1&shown=6&depth=6"
                       "&anchor=1.0123456789abcdef&lang=zh-Hans", headers=HX)
    assert_translated(older, page.status_code)
    newer = client.get("/chat/newer?user_id=u1&conversation_id=c1&after=0&lang=zh-Hans",
                       headers=HX)
    assert_translated(newer, page.status_code)


def test_an_unreachable_or_slow_upstream_in_the_pseudo_locale_shows_no_english(
        pseudo_app, httpserver, refused_port, stall):
    unreachable = pseudo_app(MEMOS_BASE_URL=f"http://127.0.0.1:{refused_port}",
                             MEMOS_API_KEY="k", VIEWER_ACCESS="open")
    assert_translated(unreachable.test_client().get(CHAT + "&lang=zh-Hans"), 503)
    httpserver.expect_request(PREFIX + "/get/message").respond_with_handler(
        stall(1.5, Response("{}")))
    slow = pseudo_app(MEMOS_BASE_URL=httpserver.url_for(PREFIX), MEMOS_API_KEY="k",
                      VIEWER_ACCESS="open", MEMOS_TIMEOUT=0.3, MEMOS_DEADLINE=0.5)
    assert_translated(slow.test_client().get(CHAT + "&lang=zh-Hans"), 504)


def test_every_memos_wording_and_note_is_translated_in_the_pseudo_locale(pseudo_app,
                                                                        extracted):
    app = pseudo_app()
    wordings = [message.id for message in extracted
                if isinstance(message.id, str) and is_known_wording(message.id)]
    assert len(wordings) > 20  # the client's code table and its own failures
    notes = [formatting.TOO_LONG, formatting.TOO_COSTLY, formatting.PAGE_FULL,
             formatting.CODE_PLAIN, errors.CHANGED_MESSAGE, *errors.HEADINGS.values(),
             *(words for _, words in errors.HEADING_BY_ERROR), MissingConversation.heading,
             MemoriesRefused.heading, DownloadsBusy.heading,
             errors.CLIENT_HEADING, errors.SERVER_HEADING, *errors.DESCRIPTIONS.values()]
    with app.test_request_context("/?lang=zh"):
        said = [errors.memos_message(MemOSError(wording, code=40101, http_status=500))
                for wording in wordings] + [str(note) for note in notes] + [
            templating.role_label(role) for role in templating.ROLE_LABELS]
    left = {text: english_words(text) for text in said if english_words(text)}
    assert not left
