"""The Chinese interface in a real browser: no English left, times in Chinese, the language kept.

Every page is opened with ``?lang=zh-CN`` (one family by ``Accept-Language`` alone) in a browser
whose own locale is English (``en-US``), so whatever reads Chinese does because the page asked
for it. "No English" is tests/untranslated.py's judgement over what a reader meets once the
scripts have run (``reader_text``): the visible text, the title, the attributes read aloud or
shown as tooltips, the hidden controls and the phrases the page keeps for its scripts. The
messages are seeded in Chinese, so nothing on screen is skipped: only the identifiers the
address gave (ids, and parameters an error quotes back) may be Latin letters.

Accessibility (axe) and validity (Nu) of the Chinese pages reuse the helpers of
test_accessibility.py and test_html_validity.py. The server-rendered Chinese pages, the catalog
and the pseudo-locale are tests/test_i18n.py.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import jwt
import pytest
from browser_helpers import (
    chat_url,
    embed_url,
    freeze_clock,
    load_earlier,
    load_everything,
    make_messages,
    MENU,
    MESSAGE,
    NEWER,
    open_menu,
    rewrite_newest,
    run_check,
    scroll_up,
    widget_div,
    widget_frame,
)
from playwright.sync_api import expect, Frame, Page, Response
from test_accessibility import describe, FAILING_IMPACTS, MODES, require_axe, run_axe
from test_browser_live import past_shared_answer
from test_html_validity import assert_valid_html, vnu_command
from untranslated import echoed, english_words, reader_texts
from upstream_apps import upstream_app
from werkzeug import Request
from werkzeug import Response as WerkzeugResponse

from viewer.access import sign

pytestmark = pytest.mark.browser

USER, CONVERSATION = "u1", "c1"
IDS = {USER, CONVERSATION}
ZH = {"lang": "zh-CN"}  # what the reader asks for
KEPT = "lang=zh-Hans"  # what every link and request of the page then carries
ENGLISH_BROWSER = {"locale": "en-US", "timezone_id": "Asia/Shanghai"}
SECRET = "an-embed-secret-that-is-long-enough-32b"
INTERVAL = 2  # LIVE_POLL_SECONDS where live updates are tested: the smallest allowed
API_BASE = "/api/openmem/v1/"
API_PATH = API_BASE + "get/message"
BEIJING = timezone(timedelta(hours=8))
HAN = re.compile("[\u4e00-\u9fff]")
STATUS = ".live__status"
MESSAGE_COPY = f"{MESSAGE} .message__meta .copy-button"  # one a message (code blocks add theirs)

CODE = "[1, 2, 3]"
EDITED = "谢谢，我把措辞改了一下。"
# One of everything a message can show, in Chinese: every role, a code block (with its
# language's name) and an image, a long system prompt and a long answer (both collapsed), and
# a message edited after it was written. Four earlier ones wait behind "load earlier".
CONVERSATION_MESSAGES = make_messages(4, prefix="更早的消息", hour=8) + [
    {"role": "user", "content": "你好，帮我看看这组数据。", "chat_time": "2026-03-01 09:00:00"},
    {"role": "assistant", "content": f"好的，数据如下：\n\n```json\n{CODE}\n```\n\n"
     "![趋势图](https://example.com/chart.png)", "chat_time": "2026-03-01 09:00:01"},
    {"role": "system", "content": "你是一个乐于助人的助手，请用简体中文回答。" * 30,
     "chat_time": "2026-03-01 09:00:02"},
    {"role": "tool", "content": "查询完成，共 3 条记录。", "chat_time": "2026-03-01 09:00:03"},
    {"role": "assistant", "content": "这是一个很长的回答。" * 400,
     "chat_time": "2026-03-01 09:00:04"},
    {"role": "user", "content": EDITED, "chat_time": "2026-03-01 09:00:05"},
]


# --- seeding ----------------------------------------------------------------------------------

def mark_edited(store, text: str, written: str, edited: str, conversation: str = CONVERSATION,
                ) -> None:
    """Give the message saying ``text`` these creation and update times (Beijing) in the
    store's SQLite file: LocalStore has no API for editing; MemOS does edit."""
    connection = sqlite3.connect(store.path)
    try:
        with connection:
            changed = connection.execute(
                "UPDATE messages SET create_time = ?, update_time = ? WHERE conversation_id = ?"
                " AND json_extract(message, '$.content') = ?", (written, edited, conversation,
                                                               text)).rowcount
    finally:
        connection.close()
    assert changed == 1


def add_conversation(store) -> None:
    store.add_messages(USER, CONVERSATION, CONVERSATION_MESSAGES)
    mark_edited(store, EDITED, "2026-03-01 09:00:05", "2026-03-01 09:30:00")


def chinese_messages(count: int, prefix: str = "消息", **options) -> list[dict]:
    return make_messages(count, prefix=prefix, **options)


# --- what a reader meets ------------------------------------------------------------------------

# The attributes a reader meets through a screen reader or as a tooltip, wherever they are
# (message contents included: they are seeded in Chinese), and the words of input buttons.
READER_ATTRIBUTES = """() => [...document.querySelectorAll('*')].flatMap(element => [
    ...['title', 'aria-label', 'aria-description', 'alt', 'placeholder']
        .map(name => element.getAttribute(name)).filter(Boolean),
    ...(element.matches('input[type=submit], input[type=button], input[type=reset]')
        ? [element.value] : [])])"""


def reader_text(where: Page | Frame) -> str:
    """Everything a reader meets on ``where`` (a page, or the widget's frame) as it is now.

    ``innerText`` is what the scripts left on screen; reader_texts() adds, from the live DOM,
    what is there but not shown (hidden controls, ``data-text-*`` and the ``chat-texts``
    phrases the scripts will say later)."""
    return "\n".join([where.title(), where.evaluate("document.body.innerText"),
                      *where.evaluate(READER_ATTRIBUTES), *reader_texts(where.content())])


def assert_chinese(where: Page | Frame, identifiers: set[str] = frozenset()) -> str:
    """``where`` declares Chinese and shows no English but ``identifiers`` (and the ids);
    return what it says."""
    expect(where.locator("html")).to_have_attribute("lang", "zh-Hans")
    text = reader_text(where)
    left = english_words(text, IDS | set(identifiers))
    assert not left, f"English on {where.url}: {sorted(set(left))}\n---\n{text}"
    assert HAN.search(text), text
    return text


def requests_to(page: Page, path: str) -> list[str]:
    """The URLs of the requests for ``path`` that ``page`` (its frames included) makes from
    now on, as it makes them."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url) if path in request.url
            else None)
    return urls


@pytest.fixture
def context(new_context):
    """The default context: a browser in English, so the page's language is what counts."""
    return new_context(**ENGLISH_BROWSER)


# --- apps to open pages on ----------------------------------------------------------------------

@dataclass
class Servers:
    """Viewers on the embedded store, on a MemOS stand-in, or on a MemOS that is not there."""

    live_server: Callable
    app_factory: Callable
    httpserver: object
    refused_port: int

    def embedded(self, **settings):
        """A viewer on its embedded store, holding the Chinese conversation."""
        server = self.live_server(**settings)
        add_conversation(server.store)
        return server

    def memos(self, answer: Callable[[Request], WerkzeugResponse], **settings):
        """A viewer whose MemOS (on loopback) answers every request with ``answer``."""
        self.httpserver.expect_request(API_PATH, method="POST").respond_with_handler(answer)
        return self._upstream(self.httpserver.url_for(API_BASE), **settings)

    def unreachable(self, **settings):
        """A viewer whose MemOS is a loopback port nothing listens on."""
        return self._upstream(f"http://127.0.0.1:{self.refused_port}{API_BASE}", **settings)

    def _upstream(self, base_url: str, **settings):
        app = upstream_app(self.app_factory, base_url, **{
            "MEMOS_API_KEY": "sk-zh-test-key", "MEMOS_TIMEOUT": 1, **settings})
        app.extensions["memos_source"].source.backoff = 0.01  # the client's own quick retries
        return self.live_server(app)


@pytest.fixture
def servers(live_server, app_factory, httpserver_ipv4, refused_port):
    yield Servers(live_server, app_factory, httpserver_ipv4, refused_port)
    httpserver_ipv4.check_handler_errors()


def memos_answer(messages: list[dict]) -> Callable[[Request], WerkzeugResponse]:
    """Answer /get/message like MemOS: the newest ``message_limit_number`` of ``messages``."""
    def newest(request: Request) -> WerkzeugResponse:
        limit = request.get_json()["message_limit_number"] or 6
        body = {"code": 0, "message": "ok", "data": {"message_detail_list": messages[-limit:]}}
        return WerkzeugResponse(json.dumps(body), content_type="application/json")
    return newest


def memos_code(code: int) -> Callable[[Request], WerkzeugResponse]:
    """MemOS's way of failing: HTTP 200, an error code and an English message in the body."""
    return lambda request: WerkzeugResponse(
        json.dumps({"code": code, "data": None, "message": "token invalid"}),
        content_type="application/json")


def slow(request: Request) -> WerkzeugResponse:
    time.sleep(1.5)  # longer than the viewer's MEMOS_DEADLINE below: it gives up first
    return WerkzeugResponse("{}", content_type="application/json")


# --- the landing page ---------------------------------------------------------------------------

def test_the_open_landing_page_is_chinese_and_its_form_keeps_the_language(servers, page):
    server = servers.embedded()
    page.goto(server.url + "/?lang=zh-CN")
    expect(page.get_by_role("heading", name="打开对话")).to_be_visible()
    expect(page.get_by_role("link", name="打开示例对话")).to_be_visible()
    assert_chinese(page)

    page.get_by_label("用户 ID").fill(USER)
    page.get_by_label("对话 ID").fill(CONVERSATION)
    page.get_by_role("button", name="打开", exact=True).click()
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert KEPT in page.url
    assert_chinese(page)


def test_the_signed_links_landing_page_is_chinese(servers, page):
    server = servers.embedded(EMBED_SECRET=SECRET)
    page.goto(server.url + "/?lang=zh-CN")
    expect(page.locator("#signed-links")).to_contain_text("签名链接")
    expect(page.locator("form")).to_have_count(0)
    assert_chinese(page)


def test_a_browser_asking_for_chinese_gets_it_without_lang_in_the_address(servers,
                                                                          new_context):
    server = servers.embedded()
    page = new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                       extra_http_headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
                       ).new_page()
    page.goto(server.url + "/")
    expect(page.get_by_role("button", name="打开", exact=True)).to_be_visible()
    assert_chinese(page)

    older = requests_to(page, "/chat/older")
    page.goto(chat_url(server.url, USER, CONVERSATION))
    assert_chinese(page)
    load_earlier(page)
    expect(page.locator("#conversation-start")).to_have_text("对话开始")
    assert_chinese(page)
    # Nothing was chosen in the address, so nothing is added to it: the browser's header
    # chooses again for the fragment.
    assert len(older) == 1 and "lang=" not in older[0]


# --- a conversation -----------------------------------------------------------------------------

def test_the_chat_page_is_chinese_in_every_part(servers, page):
    server = servers.embedded()
    page.goto(chat_url(server.url, USER, CONVERSATION, **ZH))
    messages = page.locator(MESSAGE)
    expect(messages).to_have_count(6)
    expect(page.locator(".message__author")).to_have_text(
        ["用户", "助手", "系统", "工具", "助手", "用户"])
    expect(page.locator("#load-more")).to_have_text("加载更早的消息")
    expect(page.locator(".code-block__lang")).to_have_text("JSON")
    expect(messages.nth(1).get_by_role("link", name="图片：趋势图")).to_be_visible()
    expect(page.get_by_role("log")).to_have_attribute("aria-label", "对话消息")
    expect(page.locator(".live__check")).to_have_text("检查新消息")
    edited = page.locator(".message__edited")
    expect(edited).to_have_text("已编辑")
    expect(edited).to_have_attribute("title", "编辑于 " + page.evaluate(
        "new Intl.DateTimeFormat('zh-Hans', {dateStyle: 'full', timeStyle: 'short'})"
        ".format(new Date('2026-03-01T09:30:00+08:00'))"))
    summaries = page.locator("details.message__more > summary")
    expect(summaries).to_have_text(["显示完整消息", "显示完整消息"])
    assert_chinese(page)

    # "Show full message": both long ones open, their whole text (and its buttons) on screen.
    for summary in summaries.all():
        summary.click()
    expect(page.locator("details.message__more[open]")).to_have_count(2)
    expect(page.locator(".message__preview")).to_have_count(2)
    expect(page.locator(".message__preview").first).to_be_hidden()
    assert_chinese(page)


def test_copy_buttons_and_what_they_say_after_a_click_are_chinese(servers, new_context):
    server = servers.embedded()
    page = new_context(**ENGLISH_BROWSER,
                       permissions=["clipboard-read", "clipboard-write"]).new_page()
    page.goto(chat_url(server.url, USER, CONVERSATION, **ZH))
    expect(page.locator(MESSAGE)).to_have_count(6)
    message_copy = page.locator(MESSAGE).nth(3).locator(".message__meta .copy-button")
    code_copy = page.locator(".code-block .copy-button")
    expect(message_copy).to_have_text("复制")
    expect(code_copy).to_have_text("复制代码")
    expect(page.locator(".copy-button")).to_have_count(7)  # six messages, one code block
    open_menu(page)  # and the whole conversation (as Markdown)
    expect(page.locator(f"{MENU} .menu__copy")).to_have_text("将对话复制为 Markdown")
    expect(page.locator(f"{MENU} .menu__print")).to_have_text("打印")
    page.keyboard.press("Escape")  # the open menu lies over the first messages
    expect(page.locator(".copy-link")).to_have_count(6)
    expect(page.locator(".copy-link").first).to_have_text("复制链接")

    code_copy.click()
    expect(code_copy).to_have_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()").strip() == CODE
    message_copy.click()
    expect(message_copy).to_have_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()") == "查询完成，共 3 条记录。"
    assert_chinese(page)


def test_a_refused_copy_says_so_in_chinese(servers, page):
    server = servers.embedded()
    # As a browser that refuses the clipboard to this page would.
    page.add_init_script("navigator.clipboard.writeText = () => "
                         "Promise.reject(new DOMException('refused', 'NotAllowedError'));")
    page.goto(chat_url(server.url, USER, CONVERSATION, **ZH))
    copy = page.locator(MESSAGE).first.locator(".message__meta .copy-button")
    copy.click()
    expect(copy).to_have_text("复制失败")
    assert_chinese(page)


def test_load_earlier_keeps_the_language_and_says_what_it_loaded_in_chinese(servers, page):
    server = servers.embedded()
    older = requests_to(page, "/chat/older")
    page.goto(chat_url(server.url, USER, CONVERSATION, **ZH))
    assert load_earlier(page) == 4
    expect(page.locator(MESSAGE)).to_have_count(10)
    expect(page.locator("#history-status")).to_have_text(
        re.compile(r"^已加载 4 条更早的消息。\s*已经到对话开头了。$"))
    expect(page.locator("#conversation-start")).to_have_text("对话开始")
    expect(page.locator(".message__author").first).to_have_text("用户")
    expect(page.locator(f"{MESSAGE} .copy-button")).to_have_count(11)  # the new ones' too
    assert_chinese(page)
    assert len(older) == 1 and KEPT in older[0], older


@pytest.mark.parametrize("failure", ["network", "memos"])
def test_a_failed_load_earlier_says_so_in_chinese(servers, page, failure):
    if failure == "network":
        server = servers.embedded()
    else:  # MemOS answers the page (once), then fails with an error code
        server = servers.memos(memos_code(40101))
        servers.httpserver.expect_oneshot_request(API_PATH, method="POST").respond_with_handler(
            memos_answer(chinese_messages(10)))
    page.goto(chat_url(server.url, USER, CONVERSATION, **ZH))
    expect(page.locator(MESSAGE)).to_have_count(6)
    if failure == "network":  # the request never reaches the viewer: chat.js's own words
        page.route("**/chat/older**", lambda route: route.abort())

    page.locator("#load-more").click()

    alert = page.locator("#history-head").get_by_role("alert")
    expect(alert).to_contain_text("无法连接服务器，请检查网络后重试。" if failure == "network"
                                  else "MemOS 拒绝了此 API 密钥或其权限（错误码 40101）。")
    expect(alert.get_by_role("link", name="重试")).to_be_visible()
    assert_chinese(page)


def test_an_empty_conversation_is_chinese_until_its_first_messages_arrive(servers, page):
    server = servers.embedded(LIVE_POLL_SECONDS=INTERVAL)
    freeze_clock(page)
    checks = requests_to(page, NEWER)
    page.goto(chat_url(server.url, USER, "empty", **ZH))
    empty_state = page.locator("#conversation-empty")
    expect(empty_state.get_by_role("heading")).to_have_text("还没有消息")
    expect(empty_state).to_contain_text("这个对话有了消息后，会显示在这里。")
    expect(page.locator(MENU)).to_have_count(0)  # nothing to download yet
    assert_chinese(page, {"empty"})

    server.store.add_messages(USER, "empty", chinese_messages(2, prefix="第一条"))
    assert run_check(page, INTERVAL).status == 200
    expect(page.locator(MESSAGE)).to_have_count(2)
    expect(page.locator("#conversation-start")).to_have_text("对话开始")
    open_menu(page)  # the downloads came with the first messages
    expect(page.locator(MENU).get_by_role("link")).to_have_text(
        ["下载为 JSON", "下载为 Markdown", "下载为纯文本"])
    assert_chinese(page, {"empty"})
    assert len(checks) == 1 and KEPT in checks[0], checks


def test_a_capped_conversation_says_so_in_chinese(servers, page):
    server = servers.embedded(MEMOS_MAX_LIMIT=12)
    server.store.add_messages(USER, "long", chinese_messages(20))
    page.goto(chat_url(server.url, USER, "long", **ZH))
    assert load_everything(page) == 1
    expect(page.locator(MESSAGE)).to_have_count(12)
    expect(page.locator("#history-capped")).to_have_text(
        "可能还有更早的消息，但 MemOS API 最多只返回一个对话最近的 12 条消息。")
    assert_chinese(page, {"long"})


# --- the widget -------------------------------------------------------------------------------

def test_the_widget_is_chinese_on_its_own_and_framed_by_a_host_page(servers, host_site, page):
    server = servers.embedded(EMBED_ALLOWED_ORIGINS=host_site.origin)
    page.goto(embed_url(server.url, USER, CONVERSATION, **ZH))
    expect(page.locator(MESSAGE)).to_have_count(6)
    expect(page.locator(".topbar")).to_have_count(0)
    assert_chinese(page)

    host_site.show(server.url, widget_div(embed_url(server.url, USER, CONVERSATION, **ZH)))
    older = requests_to(page, "/chat/older")
    page.goto(host_site.url)
    frame = widget_frame(page)
    assert_chinese(frame)
    load_earlier(frame)
    expect(frame.locator("#conversation-start")).to_have_text("对话开始")
    assert_chinese(frame)
    assert len(older) == 1 and KEPT in older[0] and "layout=embed" in older[0], older


def test_a_signed_widget_is_chinese(servers, page):
    server = servers.embedded(EMBED_SECRET=SECRET)
    page.goto(f"{server.url}/embed?" + urlencode({"token": signed_as(server, 600), **ZH}))
    expect(page.locator(MESSAGE)).to_have_count(6)
    assert_chinese(page)


# --- every kind of error ------------------------------------------------------------------------

def post_form(page: Page, url: str) -> Response:
    """Submit a form to ``url`` by POST (a method the viewer does not answer)."""
    with page.expect_navigation() as navigation:
        page.evaluate("""url => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = url;
            document.body.append(form);
            form.submit();
        }""", url)
    return navigation.value


def signed_as(server, ttl: int, conversation: str = CONVERSATION) -> str:
    with server.app.app_context():
        return sign(USER, conversation, SECRET, ttl)


def open_error(servers: Servers, page: Page, name: str) -> Response:
    """Open the page of the error ``name`` (see ERRORS) and return its response."""
    chat = f"/chat?user_id={USER}&conversation_id={CONVERSATION}&lang=zh-CN"
    embed = chat.replace("/chat?", "/embed?")
    if name == "400-missing-user":
        return page.goto(servers.embedded().url + f"/chat?conversation_id={CONVERSATION}"
                         "&lang=zh-CN")
    if name == "400-bad-limit":
        return page.goto(servers.embedded().url + chat + "&limit=many")
    if name == "400-bad-theme":
        return page.goto(servers.embedded().url + chat + "&theme=neon")
    if name == "403-no-token":  # the widget, where the error page has no site chrome
        return page.goto(servers.embedded(EMBED_SECRET=SECRET).url + "/embed?lang=zh-CN")
    if name == "403-expired-token":
        server = servers.embedded(EMBED_SECRET=SECRET)
        return page.goto(f"{server.url}/chat?token={signed_as(server, -10)}&lang=zh-CN")
    if name == "403-other-conversation":
        server = servers.embedded(EMBED_SECRET=SECRET)
        token = signed_as(server, 600, "another")
        return page.goto(f"{server.url}/chat?token={token}&conversation_id={CONVERSATION}"
                         "&lang=zh-CN")
    if name == "404-no-page":
        return page.goto(servers.embedded().url + "/no/such/page?lang=zh-CN")
    if name == "404-memos-not-found":
        return page.goto(servers.memos(memos_code(40001)).url + chat)
    if name == "405-wrong-method":
        server = servers.embedded()
        page.goto(server.url + "/?lang=zh-CN")
        return post_form(page, chat)
    if name == "429-rate-limit":
        server = servers.embedded(RATE_LIMIT="1/minute")
        assert page.goto(server.url + chat).status == 200  # the one request a minute
        return page.goto(server.url + chat)
    if name == "502-memos-error-code":
        return page.goto(servers.memos(memos_code(40101)).url + chat)
    if name == "502-memos-http-500":
        return page.goto(servers.memos(
            lambda request: WerkzeugResponse("oops", 500)).url + chat)
    if name == "503-memos-rate-limit":
        return page.goto(servers.memos(memos_code(40300)).url + chat)
    if name == "503-unreachable":
        return page.goto(servers.unreachable().url + chat)
    if name == "503-unreachable-widget":
        return page.goto(servers.unreachable().url + embed)
    if name == "504-timeout":
        return page.goto(servers.memos(slow, MEMOS_TIMEOUT=0.3, MEMOS_DEADLINE=0.5).url + chat)
    raise AssertionError(f"no such error: {name}")


# name -> (status, its heading, what the page says: the reason, the way out offered (None:
# none can help)[, Latin words it may keep: values the address must be given as they are])
ERRORS = {
    "400-missing-user": (400, "此链接缺少要打开的对话", "缺少用户 ID", "返回首页"),
    "400-bad-limit": (400, "此链接无法使用", "“many”", "返回首页"),
    "400-bad-theme": (400, "此链接无法使用", "主题只能是", "返回首页",
                      {"light", "dark", "auto"}),
    "403-no-token": (403, "你无法打开这个对话", "没有令牌", None),  # a signed widget
    "403-expired-token": (403, "你无法打开这个对话", "此链接已过期", None),
    "403-other-conversation": (403, "你无法打开这个对话", "不一致", None),
    "404-no-page": (404, "找不到页面", "这个地址没有对应的页面。", "返回首页"),
    "404-memos-not-found": (404, "找不到这个对话", "没有找到该用户或对话", "重试"),
    "405-wrong-method": (405, "请求方式不正确", "不支持此类请求", "返回首页"),
    "429-rate-limit": (429, "请求过于频繁", "请求过于频繁", "返回首页"),
    "502-memos-error-code": (502, "MemOS 返回了错误", "错误码 40101", "重试"),
    "502-memos-http-500": (502, "MemOS 返回了错误", "HTTP 500", "重试"),
    "503-memos-rate-limit": (503, "MemOS 正忙", "限制请求频率", "重试"),
    "503-unreachable": (503, "MemOS 暂时不可用", "无法连接 MemOS", "重试"),
    "503-unreachable-widget": (503, "MemOS 暂时不可用", "无法连接 MemOS", "重试"),
    "504-timeout": (504, "MemOS 没有响应", "MemOS 响应超时", "重试"),
}


@pytest.mark.parametrize("name", ERRORS)
def test_every_error_page_is_chinese(servers, page, name):
    status, heading, words, way_out, *values = ERRORS[name]
    response = open_error(servers, page, name)
    assert response.status == status, response.text()[:500]
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading")).to_have_text(heading)  # in plain words...
    expect(alert.locator(".alert__status")).to_have_text(f"错误 {status}")  # ...then the code
    expect(alert).to_contain_text(words)
    # The way out, in Chinese too; a 4xx offers no retry: the same request gets the same answer.
    expect(alert.get_by_role("link")).to_have_text([way_out] if way_out else [])
    # An error may quote what the address said (a parameter, its value): those may stay.
    assert_chinese(page, echoed(response.url).union(*values))


# --- live updates -------------------------------------------------------------------------------

def live_page(server, page: Page, conversation: str = CONVERSATION, **query) -> list[str]:
    """Open the conversation with the page's clock frozen; return the live checks it will
    make (their URLs, as made)."""
    freeze_clock(page)
    checks = requests_to(page, NEWER)
    page.goto(chat_url(server.url, USER, conversation, **ZH, **query))
    expect(page.locator(MESSAGE).first).to_be_visible()
    return checks


def new_messages(servers: Servers, page: Page) -> list[str]:
    server = servers.embedded(LIVE_POLL_SECONDS=INTERVAL)
    server.store.add_messages(USER, "busy", chinese_messages(12))
    checks = live_page(server, page, "busy", limit=12)
    scroll_up(page)
    server.store.add_messages(USER, "busy", chinese_messages(1, prefix="新消息", hour=10))
    past_shared_answer(server)
    assert run_check(page, INTERVAL).status == 200
    expect(page.locator("#new-messages")).to_have_text("1 条新消息")
    past_shared_answer(server)
    server.store.add_messages(USER, "busy", chinese_messages(2, prefix="又一条", hour=11))
    assert run_check(page, INTERVAL).status == 200  # by the Live-Next the first one gave
    expect(page.locator("#new-messages")).to_have_text("3 条新消息")
    return checks


def gap(servers: Servers, page: Page) -> list[str]:
    server = servers.embedded(LIVE_POLL_SECONDS=INTERVAL, MEMOS_MAX_LIMIT=20)
    checks = live_page(server, page)
    server.store.add_messages(USER, CONVERSATION, chinese_messages(25, prefix="新消息", hour=10))
    past_shared_answer(server)
    assert run_check(page, INTERVAL).status == 200
    marker = page.locator(".live-gap")
    expect(marker).to_contain_text("新消息太多，一次无法全部获取")
    expect(marker.get_by_role("link")).to_have_text("重新加载以按顺序查看")
    return checks


def paused(servers: Servers, page: Page) -> list[str]:
    server = servers.embedded(LIVE_POLL_SECONDS=INTERVAL)
    checks = live_page(server, page)
    page.clock.fast_forward("31:00")  # thirty idle minutes: a pause
    expect(page.locator(STATUS)).to_have_text("实时更新已暂停。")
    resume = page.get_by_role("button", name="恢复实时更新")
    expect(resume).to_be_visible()
    assert_chinese(page)  # before "resume" takes the pause's words away
    with page.expect_response(lambda response: NEWER in response.url):
        resume.click()
    expect(resume).to_be_hidden()
    return checks


def changed(servers: Servers, page: Page) -> list[str]:
    server = servers.embedded(LIVE_POLL_SECONDS=INTERVAL)
    checks = live_page(server, page)
    rewrite_newest(server.store, "deleted", USER, CONVERSATION)
    past_shared_answer(server)
    assert run_check(page, INTERVAL).status == 409
    notice = page.locator(".live-notice")
    expect(notice).to_contain_text("这个对话发生了变化")
    expect(notice.get_by_role("link")).to_have_text("重新加载页面")
    expect(page.locator(STATUS)).to_have_text("实时更新已停止。")
    return checks


def expired(servers: Servers, page: Page) -> list[str]:
    server = servers.embedded(EMBED_SECRET=SECRET, LIVE_POLL_SECONDS=INTERVAL)
    token = signed_as(server, 3)  # good for two seconds at least: time to load the page
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    freeze_clock(page)
    checks = requests_to(page, NEWER)
    page.goto(f"{server.url}/chat?" + urlencode({"token": token, **ZH}))
    expect(page.locator(MESSAGE)).to_have_count(6)
    time.sleep(max(0.0, expires - time.time()) + 0.1)  # the server's clock is the real one
    assert run_check(page, INTERVAL).status == 403
    expect(page.locator(STATUS)).to_have_text("实时更新已停止。此链接已过期，请重新获取。")
    return checks


def retrying(servers: Servers, page: Page) -> list[str]:
    server = servers.memos(memos_answer(chinese_messages(8)), LIVE_POLL_SECONDS=INTERVAL)
    checks = live_page(server, page)
    expect(page.locator(MESSAGE)).to_have_count(6)
    servers.httpserver.clear_all_handlers()
    servers.httpserver.expect_request(API_PATH, method="POST").respond_with_response(
        WerkzeugResponse("down", 503))
    past_shared_answer(server)
    assert run_check(page, INTERVAL).status == 503
    expect(page.locator(STATUS)).to_have_text("暂时无法检查新消息，正在重试…")
    expect(page.get_by_role("alert")).to_have_count(0)
    return checks


LIVE_STATES = {"new-messages": new_messages, "gap": gap, "paused": paused,
               "changed": changed, "expired": expired, "retrying": retrying}


@pytest.mark.parametrize("state", LIVE_STATES)
def test_live_updates_speak_chinese_and_every_check_keeps_the_language(servers, page, state):
    checks = LIVE_STATES[state](servers, page)
    assert_chinese(page, {"busy"})
    assert checks, "no live check was made"
    assert all(KEPT in url for url in checks), checks


# --- times and days -----------------------------------------------------------------------------

def test_the_scripts_write_times_and_days_in_the_pages_language_not_the_browsers(servers,
                                                                                   page):
    server = servers.embedded()
    server.store.add_messages(USER, "times", [
        {"role": "user", "content": "上周五的问题", "chat_time": "2026-02-27 09:00:00"},
        {"role": "assistant", "content": "昨晚的回答", "chat_time": "2026-03-01 20:00:00"},
        {"role": "user", "content": "今天早上", "chat_time": "2026-03-02 09:00:00"},
        {"role": "assistant", "content": "五分钟前", "chat_time": "2026-03-02 11:55:00"},
        {"role": "user", "content": "刚刚", "chat_time": "2026-03-02 12:00:00"},
    ])
    freeze_clock(page)  # the page's now: 2026-03-02 12:00:01 in Beijing, the browser's zone
    page.goto(chat_url(server.url, USER, "times", **ZH))
    # The browser's own language is English: left to itself, Intl would write English.
    assert page.evaluate("navigator.language") == "en-US"
    assert page.evaluate("new Intl.RelativeTimeFormat(undefined, {numeric: 'auto'})"
                         ".format(-1, 'day')") == "yesterday"

    expect(page.locator(".day-separator time")).to_have_text(
        ["2026年2月27日星期五", "昨天", "今天"])
    times = page.locator(f"{MESSAGE} time")
    expect(times).to_have_text(["09:00", "20:00", "3小时前", "5分钟前", "现在"])
    expect(times.first).to_have_attribute("title", "2026年2月27日星期五 09:00")
    expect(times.last).to_have_attribute("title", "2026年3月2日星期一 12:00")
    assert_chinese(page, {"times"})


def test_without_javascript_the_servers_days_and_times_are_chinese(servers, new_context):
    server = servers.embedded()
    now = datetime.now(BEIJING)
    yesterday = now.date() - timedelta(days=1)
    server.store.add_messages(USER, "times", [
        {"role": "user", "content": "元旦的问题", "chat_time": "2025-01-01 10:00:00"},
        {"role": "assistant", "content": "昨天的回答", "chat_time": f"{yesterday} 12:00:00"},
        {"role": "user", "content": "现在的问题", "chat_time": f"{now:%Y-%m-%d %H:%M:%S}"},
    ])
    mark_edited(server.store, "元旦的问题", "2025-01-01 10:00:00", "2025-01-01 10:30:00",
                "times")
    page = new_context(**ENGLISH_BROWSER, java_script_enabled=False).new_page()
    page.goto(chat_url(server.url, USER, "times", **ZH))
    expect(page.locator(".day-separator time")).to_have_text(
        ["2025年1月1日星期三", "昨天", "今天"])
    expect(page.locator(f"{MESSAGE} time").first).to_have_text("10:00")
    expect(page.locator(".message__edited")).to_have_attribute(
        "title", "编辑于 2025年1月1日 +0800 10:30:00")
    expect(page.locator(".copy-button")).to_have_count(0)  # no script ran
    expect(page.get_by_role("link", name="检查新消息")).to_be_visible()
    assert_chinese(page, {"times"})


# --- accessibility and validity -----------------------------------------------------------------

def landing(server, page: Page, theme: dict) -> Response:
    response = page.goto(server.url + "/?" + urlencode({**ZH, **theme}))
    expect(page.get_by_role("button", name="打开", exact=True)).to_be_visible()
    return response


def chat(server, page: Page, theme: dict) -> Response:
    response = page.goto(chat_url(server.url, USER, CONVERSATION, **ZH, **theme))
    expect(page.locator(MESSAGE_COPY)).to_have_count(6)  # the scripts have run
    return response


def widget(server, page: Page, theme: dict) -> Response:
    response = page.goto(embed_url(server.url, USER, CONVERSATION, **ZH, **theme))
    expect(page.locator(MESSAGE_COPY)).to_have_count(6)
    return response


def error_404(server, page: Page, theme: dict) -> Response:
    response = page.goto(server.url + "/no/such/page?" + urlencode({**ZH, **theme}))
    assert response.status == 404
    expect(page.get_by_role("alert")).to_be_visible()
    return response


def empty(server, page: Page, theme: dict) -> Response:
    response = page.goto(chat_url(server.url, USER, "empty", **ZH, **theme))
    expect(page.locator("#conversation-empty")).to_be_visible()
    return response


def chat_menu(server, page: Page, theme: dict) -> Response:
    response = chat(server, page, theme)
    open_menu(page)
    return response


CHINESE_PAGES: dict[str, Callable[..., Response]] = {
    "landing": landing, "chat": chat, "chat-menu": chat_menu, "widget": widget,
    "error-404": error_404, "empty": empty}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", CHINESE_PAGES)
def test_chinese_pages_have_no_serious_accessibility_violations(servers, new_context, name,
                                                                mode):
    require_axe()
    server = servers.embedded()
    color_scheme, forced = MODES[mode]
    # bypass_csp: axe is injected as an inline script (see test_accessibility.py).
    page = new_context(**ENGLISH_BROWSER, color_scheme=color_scheme, bypass_csp=True).new_page()
    CHINESE_PAGES[name](server, page, {"theme": forced} if forced else {})
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")

    violations = run_axe(page)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, (f"{len(failing)} serious/critical axe violation(s) on {name} ({mode}):\n"
                         + "\n".join(describe(v) for v in failing))


def test_chinese_pages_are_valid_html_as_served_and_as_the_scripts_leave_them(
        servers, context, tmp_path):
    command = vnu_command()
    server = servers.embedded()
    documents: dict[str, str] = {}
    for theme in ("light", "dark"):
        page = context.new_page()
        for name, open_page in CHINESE_PAGES.items():
            served = open_page(server, page, {"theme": theme}).text()
            assert '<html lang="zh-Hans"' in served
            documents[f"{name}-{theme}-served"] = served
            documents[f"{name}-{theme}-in-browser"] = page.content()
        page.close()
    assert_valid_html(command, documents, tmp_path)
