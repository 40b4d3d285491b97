"""Find in the conversation (viewer/find.py): ``?q=`` on /chat and /embed.

What matches (case, full-width and half-width forms, Chinese, NFKC's length changes), where
the marks go (parsed: only around text, never in a tag, never in code's markup), hostile
queries (markup, quotes, length, control and bidi characters, undecodable bytes), the bounds
(marks per message, results per page, time), one upstream call per search counted on a real
loopback MemOS, signed mode, the links a results page offers, its wording in Chinese and in
the pseudo-locale, and its HTML (the Nu checker).
"""

from __future__ import annotations

import re
import time
from html import unescape
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from page_text import texts
from test_history_fetches import CountingStore
from test_html_validity import assert_valid_html, vnu_command
from test_i18n import assert_translated, extracted, pseudo_app, pseudo_translations  # noqa: F401
from upstream_apps import upstream_app

from memos_api import ContentPart, Message
from viewer import find as find_module
from viewer.access import sign
from viewer.find import MAX_RESULTS, MAX_SNIPPETS, MAX_SPANS
from viewer.renderer.formatting import reading_text
from viewer.validation import MAX_QUERY_LENGTH

SECRET = "find-tests-secret-0123456789abcdefghijklmn"
CHAT = "/chat?user_id=u&conversation_id=c"


def add(store, contents, user="u", conversation="c", roles=("user", "assistant")):
    """Messages with ``contents``, one a second, oldest first."""
    store.add_messages(user, conversation, [
        {"role": roles[n % len(roles)], "content": content,
         "chat_time": f"2026-03-01 10:{n // 60 % 60:02d}:{n % 60:02d}"}
        for n, content in enumerate(contents)])


def search(client, query, path=CHAT, **extra):
    return client.get(path + "&" + urlencode({"q": query, **extra}))


class Results(HTMLParser):
    """A results page read back: each result's link and snippets, and every <mark> with
    what encloses it. Fails on a mark that holds an element or sits outside a snippet."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str]]] = []
        self.links: list[str] = []        # each result's link
        self.snippets: list[list[tuple[str, bool]]] = []  # their pieces (text, marked)
        self.marks: list[str] = []
        self.in_mark = False
        self.heading = ""
        self.elements_in_marks: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        if self.in_mark:
            self.elements_in_marks.append(tag)
        if tag == "mark":
            enclosing = [name for name, _ in self.stack]
            assert self.stack and "found-result__snippet" in self.stack[-1][1], enclosing
            assert not {"code", "pre", "a", "script"} & set(enclosing), enclosing
            self.in_mark = True
            self.marks.append("")
        if "found-result__link" in classes:
            self.links.append(values["href"])
        if "found-result__snippet" in classes:
            self.snippets.append([])
        if tag not in ("input", "meta", "link", "br", "img"):
            self.stack.append((tag, classes))

    def handle_endtag(self, tag):
        if tag == "mark":
            self.in_mark = False
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_data(self, data):
        if self.in_mark:
            self.marks[-1] += data
        if any("found-result__snippet" in classes for _, classes in self.stack):
            self.snippets[-1].append((data, self.in_mark))
        if any("found__heading" in classes for _, classes in self.stack):
            self.heading += data


def results(page: str) -> Results:
    parser = Results()
    parser.feed(page)
    parser.close()
    assert parser.elements_in_marks == []
    return parser


def snippet_texts(page: str) -> list[str]:
    return ["".join(text for text, _ in pieces) for pieces in results(page).snippets]


def assert_every_shown_match_is_marked(page: str, query: str) -> None:
    """No text a snippet shows unmarked holds the query (as find compares them)."""
    wanted = find_module.normalise(query)
    for pieces in results(page).snippets:
        for text, marked in pieces:
            assert marked or wanted not in find_module.normalise(text), (query, pieces)


@pytest.fixture
def app(app_factory):
    """conftest's app without rate limits (its ``client`` and ``store`` follow)."""
    return app_factory(RATE_LIMIT="0")


# --- what matches --------------------------------------------------------------------------

def test_matching_messages_are_listed_newest_first_with_the_match_marked(client, store):
    add(store, ["We take the train to Sintra.", "No trains on Sunday?", "Book a taxi.",
                "The TRAIN leaves at 07:55."])
    response = search(client, "train")
    assert response.status_code == 200
    found = results(response.text)
    assert found.heading == "3 messages match “train”"
    assert snippet_texts(response.text) == ["The TRAIN leaves at 07:55.",
                                            "No trains on Sunday?",
                                            "We take the train to Sintra."]
    assert found.marks == ["TRAIN", "train", "train"]
    assert_every_shown_match_is_marked(response.text, "train")
    assert 'id="messages"' not in response.text  # the list, not the conversation


def test_case_does_not_matter(client, store):
    add(store, ["Hello there", "HELLO AGAIN", "goodbye"])
    for query in ("hello", "HeLLo", "HELLO"):
        assert results(search(client, query).text).marks == ["HELLO", "Hello"]


def test_full_width_and_half_width_forms_match_each_other(client, store):
    add(store, ["abc in half width", "ｆｕｌｌ ｗｉｄｔｈ here", "ＡＢＣ in full width"])
    found = results(search(client, "ＡＢＣ").text)
    assert found.marks == ["ＡＢＣ", "abc"]  # each as the message wrote it
    assert results(search(client, "full").text).marks == ["full", "ｆｕｌｌ"]
    assert results(search(client, "ＷＩＤＴＨ").text).marks == ["width", "ｗｉｄｔｈ", "width"]


def test_chinese_matches_by_substring_whatever_the_punctuations_width(client, store):
    add(store, ["你好，世界！这是一个测试。", "我们坐火车去辛特拉。", "世界很大"])
    response = search(client, "世界")
    assert results(response.text).marks == ["世界", "世界"]
    assert snippet_texts(response.text) == ["世界很大", "你好，世界！这是一个测试。"]
    # The full-width comma is NFKC's ASCII comma: either finds it.
    assert results(search(client, "好,世").text).marks == ["好，世"]
    assert results(search(client, "火车").text).marks == ["火车"]
    assert results(search(client, "飞机").text).heading == "No message matches “飞机”"


@pytest.mark.parametrize("text, query, marked", [
    ("㍿ in one character", "株式会社", "㍿"),          # NFKC makes it four
    ("株式会社 in four", "㍿", "株式会社"),
    ("ｶﾞｲﾄﾞを読む", "ガイド", "ｶﾞｲﾄﾞ"),              # half-width kana and their marks
    ("Cafe\u0301 au lait", "CAFÉ", "Cafe\u0301"),     # a decomposed é
    ("Die STRASSE ist lang", "straße", "STRASSE"),    # ß folds to ss
    ("Die Straße ist lang", "STRASSE", "Straße"),
    ("ﬁnal word", "fin", "ﬁn"),                       # a ligature
    ("한국어 텍스트", "한국", "한국"),
])
def test_marks_fall_on_the_original_text_when_nfkc_changes_lengths(client, store, text,
                                                                   query, marked):
    add(store, [text])
    found = results(search(client, query).text)
    assert found.marks == [marked]
    assert "".join(piece for piece, _ in found.snippets[0]) == text


def test_only_text_parts_are_searched(client, store):
    store.add_messages("u", "c", [{"role": "user", "content": [
        {"type": "text", "text": "Here is the photo"},
        {"type": "image_url", "image_url": {"url": "https://example.com/sintra.png"}}]}])
    assert results(search(client, "photo").text).marks == ["photo"]
    assert results(search(client, "sintra.png").text).marks == []


# --- where the marks go --------------------------------------------------------------------

MARKUP_MESSAGES = [
    "```python\ndef span(): return '<span class=\"k\">class</span>'\n```",
    "Some **bold class** and a [class link](https://example.com/class) and `code class`",
    '<b class="x">raw class</b> <script>alert("class")</script>',
]


def test_marks_are_around_text_only_never_in_tags_or_code_markup(client, store):
    add(store, MARKUP_MESSAGES, roles=("assistant",))
    for query in ("class", "span", "<span", 'class="', "href", "mark"):
        page = search(client, query).text
        found = results(page)  # asserts every mark is text inside a snippet
        # Every match is marked as the message wrote it, escaped.
        assert all(normalised == find_module.normalise(query)
                   for normalised in map(find_module.normalise, found.marks)), found.marks
        assert "<script>alert" not in page and '<span class="k">' not in page
        assert page.count("<mark>") == len(found.marks) == page.count("</mark>")
        assert_every_shown_match_is_marked(page, query)
    page = search(client, "class").text
    # Code holds it twice, the HTML three times, the Markdown three times as a reader sees it
    # (a link's address is not on the page, nor are the marks that format the words).
    assert len(results(page).marks) == 2 + 3 + 3
    assert "more match" not in page
    assert not any("**" in text or "](" in text for text in snippet_texts(page))
    # The code is shown as typed: its markup is text, the marks around its words.
    assert any('<span class="k">class</span>' in text for text in snippet_texts(page))
    assert "&lt;span <mark>class</mark>=&#34;k&#34;&gt;<mark>class</mark>&lt;/span&gt;" in page


def test_snippets_are_bounded_and_on_one_line(client, store):
    add(store, ["x " * 500 + "needle" + "\n\n  y" * 500])
    [snippet] = snippet_texts(search(client, "needle").text)
    assert snippet.startswith("…") and snippet.endswith("…") and "needle" in snippet
    assert "\n" not in snippet and "  " not in snippet
    assert len(snippet) <= 2 * find_module.CONTEXT + len("needle") + 2


def test_controls_in_a_message_are_not_sent_to_the_page(client, store):
    add(store, ["bell\x07 and escape\x1b[31m around the word needle\x0c here"])
    page = search(client, "needle").text
    assert "\x07" not in page and "\x1b" not in page and "\x0c" not in page
    assert "needle" in results(page).marks


# --- hostile queries -----------------------------------------------------------------------

def test_a_query_with_markup_is_shown_as_typed_and_finds_it(client, store):
    add(store, ["<script>alert(1)</script> as text", "plain"])
    response = search(client, "<script>")
    assert response.status_code == 200
    assert "<script>alert" not in response.text and "<mark><script>" not in response.text
    found = results(response.text)
    assert found.heading == "1 message matches “<script>”" and found.marks == ["<script>"]
    assert '<bdi class="found__query">&lt;script&gt;</bdi>' in response.text


def test_a_query_with_quotes_stays_in_its_attribute(client, store):
    add(store, ['She said "go" and \'stay\''])
    response = search(client, '"go" onfocus="alert(1)')
    assert response.status_code == 200
    value = re.search(r'<input class="find-form__input"[^>]*>', response.text).group(0)
    assert ' onfocus="' not in value and "&#34;go&#34; onfocus=&#34;alert(1)" in value
    assert results(search(client, '"go"').text).marks == ['"go"']


def test_a_query_of_exactly_the_limit_is_searched(client, store):
    add(store, ["a" * 300])
    response = search(client, "a" * MAX_QUERY_LENGTH)
    assert response.status_code == 200 and results(response.text).marks


@pytest.mark.parametrize("query, phrase", [
    ("a" * (MAX_QUERY_LENGTH + 1), "The search is 201 characters long; it can be at most 200."),
    ("界" * 250, "The search is 250 characters long"),
    ("tab\there", "control characters"),
    ("line\nbreak", "control characters"),
    ("nul\x00byte", "control characters"),
    ("escape\x1b[31m", "control characters"),
    ("del\x7f", "control characters"),
    ("c1\x85", "control characters"),
    ("para\u2029graph", "control characters"),
    ("evil\u202etxt.exe", "change the direction of text"),
    ("isolate\u2067x\u2069", "change the direction of text"),
    ("\u202aembedded", "change the direction of text"),
])
def test_a_bad_query_is_a_400_that_says_why(client, store, query, phrase):
    add(store, ["anything"])
    for path in (CHAT, "/embed?user_id=u&conversation_id=c"):
        response = search(client, query, path)
        assert response.status_code == 400, query
        assert phrase in unescape(response.text) and 'role="alert"' in response.text
        assert query not in response.text  # neither echoed nor searched


def test_a_bad_query_is_explained_in_chinese(client):
    response = search(client, "a" * 201, lang="zh-Hans")
    assert response.status_code == 400
    assert "搜索内容长 201 个字符，最多只能有 200 个。" in response.text
    response = search(client, "x\u202ey", lang="zh-Hans")
    assert response.status_code == 400 and "会改变文字方向的不可见字符" in response.text


def test_a_query_given_twice_is_refused(client):
    response = client.get(CHAT + "&q=a&q=b")
    assert response.status_code == 400 and "given 2 times" in response.text


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%ED%B0%80x", "%FF%FE", "%C3", "%F0%9F%98"])
def test_undecodable_bytes_and_lone_surrogates_are_plain_text(client, store, raw):
    """Werkzeug keeps bytes that are not UTF-8 as the escapes they came as: the query is that
    text, searched and shown, never a lone surrogate in the page."""
    add(store, ["a message about %ED and other things"])
    response = client.get(f"{CHAT}&q={raw}")
    assert response.status_code == 200
    response.text.encode("utf-8")  # no lone surrogate anywhere
    assert results(response.text).heading.endswith(f"“{unescape(raw)}”")


@pytest.mark.parametrize("query", ["", "   ", "\u3000"])
def test_an_empty_query_is_the_normal_page(client, store, query):
    add(store, ["one", "two"])
    response = client.get(CHAT + "&q=" + quote(query))
    assert response.status_code == 200
    assert 'id="messages"' in response.text and "found__heading" not in response.text
    assert texts(response.text) == ["one", "two"]


# --- bounds --------------------------------------------------------------------------------

def test_a_message_holding_the_query_thousands_of_times_stays_bounded(client, store):
    add(store, ["needle " * 20_000, "one needle"])
    started = time.thread_time()
    response = search(client, "needle")
    spent = time.thread_time() - started
    found = results(response.text)
    assert found.heading == "2 messages match “needle”"
    assert len(found.snippets) <= MAX_SNIPPETS + 1  # the long one's, and the other's
    marked = len(found.marks) - 1  # the long one's
    assert 3 <= marked <= MAX_SPANS
    assert f"and {20_000 - marked} more matches in this message" in response.text
    assert_every_shown_match_is_marked(response.text, "needle")
    assert len(response.get_data()) < 20_000  # not the 140 KB message
    assert spent < 1.0


def test_results_per_page_are_capped_with_a_note(client, store):
    add(store, [f"match {n}" for n in range(MAX_RESULTS + 30)] + ["nothing"])
    response = search(client, "match")
    found = results(response.text)
    assert found.heading == f"{MAX_RESULTS + 30} messages match “match”"
    assert len(found.links) == MAX_RESULTS
    assert snippet_texts(response.text)[0] == f"match {MAX_RESULTS + 29}"  # the newest
    assert "30 more messages match: add words to the search to narrow them." in response.text


def test_a_long_query_over_long_repetitive_text_takes_linear_time(client, store):
    # A needle that almost matches everywhere: quadratic searching would take seconds.
    add(store, [("a" * 199 + "b") * 500, "a" * 100_000])
    started = time.thread_time()
    response = search(client, "a" * 199 + "c")
    assert response.status_code == 200 and results(response.text).heading.startswith("No ")
    assert time.thread_time() - started < 1.0


def test_past_its_cpu_budget_a_result_shows_its_start_unmarked(client, store, monkeypatch):
    monkeypatch.setattr(find_module, "FIND_SECONDS", -1.0)  # spent before it starts
    # Full-width, so mapped character by character, and far in: the clock is looked at.
    add(store, ["ｘ" * 10_000 + " ｆｉｎｄ" * 5])
    response = search(client, "find")
    found = results(response.text)
    assert found.heading == "1 message matches “find”" and found.marks == []
    assert snippet_texts(response.text)[0].startswith("ｘｘｘ")
    assert "and 5 more matches in this message" in response.text


def test_answers_dense_with_markdown_are_read_within_a_budget(client, store):
    # Each answer is 20,000 characters of emphasis: reading them all without their marks
    # took 4.8 s for 1000 (Python, event by event); past the budget they are read as typed.
    add(store, ["*a* " * 4_900] * 300, roles=("assistant",))
    started = time.thread_time()
    response = search(client, "a")
    assert time.thread_time() - started < 1.0
    assert results(response.text).heading == "300 messages match “a”"


def test_past_its_reading_budget_an_answer_is_searched_as_typed(client, store, monkeypatch):
    add(store, ["Some **bold** words"], roles=("assistant",))
    assert results(search(client, "bold words").text).heading == "1 message matches “bold words”"
    assert results(search(client, "**bold**").text).heading.startswith("No ")
    monkeypatch.setattr(find_module, "SEARCH_SECONDS", -1.0)  # spent before it starts
    assert results(search(client, "bold words").text).heading.startswith("No ")
    response = search(client, "**bold**")
    assert results(response.text).heading == "1 message matches “**bold**”"
    assert snippet_texts(response.text) == ["Some **bold** words"]


def test_a_run_of_a_million_combining_marks_stays_bounded(client, store):
    # One cluster of a million characters was mapped in one go, and walked to its end once
    # per match placed: 2.5 s of CPU, past the budget the mapping looks at.
    add(store, ["a" + "\u0301" * 1_000_000])
    started = time.thread_time()
    response = search(client, "\u0301")
    assert time.thread_time() - started < 1.0
    found = results(response.text)
    assert found.heading == "1 message matches “\u0301”" and found.marks
    assert len(response.get_data()) < 20_000


def test_a_full_read_says_older_messages_were_not_searched(app_factory):
    app = app_factory(RATE_LIMIT="0", MEMOS_MAX_LIMIT=5)
    add(app.extensions["memos_source"], [f"word {n}" for n in range(8)])
    response = search(app.test_client(), "word")
    assert results(response.text).heading == "5 messages match “word”"
    assert "Only the 5 most recent messages were searched" in response.text


# --- one upstream read ---------------------------------------------------------------------

@pytest.fixture
def local_store(tmp_path) -> CountingStore:
    """What ``memos_server`` serves, counting its reads."""
    return CountingStore(tmp_path / "memos.sqlite3")


def test_a_search_reads_memos_once_as_widely_as_allowed(app_factory, memos_server, local_store):
    app = upstream_app(app_factory, memos_server.base_url, MEMOS_API_KEY=memos_server.api_key,
                       MEMOS_MAX_LIMIT=40, RATE_LIMIT="0")
    add(local_store, [f"text {n}" + (" needle" if n % 3 == 0 else "") for n in range(60)])
    client = app.test_client()
    for path in (CHAT, "/embed?user_id=u&conversation_id=c"):
        local_store.limits.clear()
        response = search(client, "needle", path)
        assert response.status_code == 200
        assert local_store.limits == [40]  # one call: the widest, as the export's
        # Of the newest 40 (20 to 59), those numbered by a multiple of 3.
        assert results(response.text).heading == "13 messages match “needle”"


def test_an_upstream_failure_is_the_pages_error_with_a_retry_of_the_search(app_factory,
                                                                           unused_port):
    app = upstream_app(app_factory, f"http://127.0.0.1:{unused_port}/api/openmem/v1",
                       MEMOS_API_KEY="k", MEMOS_TIMEOUT=1, RATE_LIMIT="0")
    response = search(app.test_client(), "needle")
    assert response.status_code in (502, 503, 504) and 'role="alert"' in response.text
    retry = unescape(re.search(r'class="alert__retry" href="([^"]*)"', response.text).group(1))
    assert parse_qs(urlsplit(retry).query)["q"] == ["needle"]


# --- signed mode ---------------------------------------------------------------------------

@pytest.fixture
def signed(app_factory):
    app = app_factory(EMBED_SECRET=SECRET, RATE_LIMIT="0")
    store = app.extensions["memos_source"]
    add(store, ["alice's shared word", "alice again"], user="alice", conversation="a")
    add(store, ["bob's secret shared word"], user="bob", conversation="b")
    add(store, ["alice's other conversation, shared word"], user="alice", conversation="a2")
    return app


def test_signed_mode_searches_the_tokens_conversation_only(signed):
    client = signed.test_client()
    with signed.app_context():
        alice = sign("alice", "a", SECRET, 600)
        expired = sign("alice", "a", SECRET, -5)
    for layout in ("chat", "embed"):
        response = client.get(f"/{layout}?token={alice}&q=shared")
        assert response.status_code == 200
        assert snippet_texts(response.text) == ["alice's shared word"]
        assert "secret" not in response.text and "other conversation" not in response.text
        for query in (f"token={alice}&user_id=bob&conversation_id=b",
                      f"token={alice}&conversation_id=a2", f"token={expired}", "token=junk",
                      "user_id=bob&conversation_id=b", ""):
            refused = client.get(f"/{layout}?{query}&q=shared")
            assert refused.status_code == 403, (layout, query)
            assert "shared word" not in refused.text and "found-result" not in refused.text


def test_signed_results_link_with_the_token_only(signed):
    client = signed.test_client()
    with signed.app_context():
        alice = sign("alice", "a", SECRET, 600)
    page = client.get(f"/chat?token={alice}&q=alice&theme=dark").text
    found = results(page)
    assert len(found.links) == 2
    for link in found.links:
        query = parse_qs(urlsplit(unescape(link)).query)
        assert query.keys() == {"token", "theme", "message"}
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page))
    assert hidden == {"token": alice, "theme": "dark"}


# --- the links of a results page -----------------------------------------------------------

def test_each_result_links_to_its_permalink_which_shows_that_message(client, store):
    add(store, [f"filler {n}" for n in range(40)] + ["the needle is here"]
        + [f"after {n}" for n in range(30)])
    page = search(client, "needle", theme="dark", lang="zh-Hans").text
    [link] = results(page).links
    url = urlsplit(unescape(link))
    query = parse_qs(url.query)
    assert url.path == "/chat" and url.fragment == "m-" + query["message"][0]
    assert query.keys() == {"user_id", "conversation_id", "theme", "lang", "message"}
    shown = client.get(unescape(link).split("#")[0]).text
    assert f'id="{url.fragment}" aria-current="true"' in shown
    assert "the needle is here" in texts(shown)


def test_the_results_page_keeps_the_readers_choices_and_drops_the_query(client, store):
    add(store, ["one needle", "two"])
    page = search(client, "needle", theme="light", lang="zh-Hans", live="0").text
    back = unescape(re.search(r'<p class="found__back"><a href="([^"]*)"', page).group(1))
    assert parse_qs(urlsplit(back).query) == {"user_id": ["u"], "conversation_id": ["c"],
                                              "theme": ["light"], "lang": ["zh-Hans"],
                                              "live": ["0"]}
    links = [unescape(href) for href in re.findall(r'href="([^"]*)"', page)]
    assert not [link for link in links if "q=" in link]
    # The menu's field holds the query, to change it; the page it leads back to does not.
    assert 'name="q" value="needle"' in page
    conversation = client.get(back).text
    assert 'name="q" value=""' in conversation and "needle" in conversation
    assert not [link for link in re.findall(r'(?:href|hx-get|data-live-url)="([^"]*)"',
                                            conversation) if "q=" in link]


def test_the_menu_offers_the_field_with_the_choices_kept(client, store):
    add(store, ["one", "two"])
    page = client.get(CHAT + "&theme=dark&lang=zh-Hans&live=0&limit=2").text
    form = re.search(r'<form class="find-form" role="search" method="get" action="([^"]*)">'
                     r'(.*?)</form>', page, re.S)
    assert form and form.group(1) == "/chat"
    hidden = re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', form.group(2))
    # The limit and a permalink's message are not kept: a search is of the whole read.
    assert hidden == [("user_id", "u"), ("conversation_id", "c"), ("theme", "dark"),
                      ("live", "0"), ("lang", "zh-Hans")]
    assert '<label class="find-form__label" for="find-query">在对话中查找</label>' in page
    assert re.search(r'<input class="find-form__input" id="find-query" type="search" '
                     r'name="q" value="" maxlength="200"', form.group(2))


def test_the_widget_searches_in_the_widget(client, store):
    add(store, ["a needle", "hay"])
    plain = client.get("/embed?user_id=u&conversation_id=c").text
    assert "find-form" not in plain  # no menu unless asked for (?export=1)
    page = client.get("/embed?user_id=u&conversation_id=c&export=1").text
    assert 'action="/embed"' in page and '<input type="hidden" name="export" value="1">' in page
    found = search(client, "needle", "/embed?user_id=u&conversation_id=c").text
    [link] = results(found).links
    assert unescape(link).startswith("/embed?user_id=u&conversation_id=c&message=")
    back = re.search(r'<p class="found__back"><a href="([^"]*)"', found).group(1)
    assert unescape(back) == "/embed?user_id=u&conversation_id=c"


def test_an_empty_conversation_finds_nothing(client):
    response = search(client, "anything", "/chat?user_id=nobody&conversation_id=none")
    assert response.status_code == 200
    assert results(response.text).heading == "No message matches “anything”"


# --- language and markup -------------------------------------------------------------------

CHINESE = ["我们坐火车去辛特拉。", "从机场坐地铁，不坐火车。", "里斯本的天气很好。"]


def test_the_results_page_in_chinese(client, store):
    add(store, CHINESE)
    page = search(client, "火车", lang="zh-Hans").text
    assert results(page).heading == "2 条消息包含“火车”"
    assert "返回对话" in page and "<title>查找“火车” · c · " in page
    add(store, ["火车 " * 200], conversation="many")
    many = search(client, "火车", "/chat?user_id=u&conversation_id=many", lang="zh-Hans").text
    assert f"这条消息中还有 {200 - len(results(many).marks)} 处匹配" in many


def test_the_results_page_in_the_pseudo_locale_shows_no_english(pseudo_app):  # noqa: F811
    app = pseudo_app(MEMOS_MAX_LIMIT=3)
    store = app.extensions["memos_source"]
    add(store, CHINESE + ["火车 " * 200], user="u1", conversation="c1")
    client = app.test_client()
    for layout in ("chat", "embed"):
        for query in ("火车", "没有"):
            assert_translated(client.get(f"/{layout}?user_id=u1&conversation_id=c1&export=1"
                                         f"&lang=zh&q={quote(query)}"))
        for query in ("x" * 201, "a\tb", "a\u202eb"):
            assert_translated(client.get(f"/{layout}?user_id=u1&conversation_id=c1&lang=zh"
                                         f"&q={quote(query)}"), 400)


def test_results_pages_are_valid_html(client, store, tmp_path):
    command = vnu_command()
    add(store, MARKUP_MESSAGES + CHINESE + ["needle " * 50, "Straße ﬁnal ｶﾞｲﾄﾞ"])
    widget = "/embed?user_id=u&conversation_id=c&export=1"
    pages = {
        "find-results": search(client, "class").text,
        "find-chinese": search(client, "火车", lang="zh-Hans", theme="dark").text,
        "find-capped": search(client, "needle").text,
        "find-nfkc": search(client, "STRASSE").text,
        "find-nothing": search(client, '"<none>"').text,
        "find-widget": search(client, "needle", widget).text,
        "find-refused": search(client, "x" * 201).text,
        "menu-with-find": client.get(CHAT).text,
    }
    assert "<mark>" in pages["find-results"] and "found-result__more" in pages["find-capped"]
    assert_valid_html(command, pages, tmp_path)


def test_an_answer_is_searched_as_its_reader_sees_it():
    """Markdown's marks are not words: a reader who saw "bold class" finds it, and no one
    finds an address they never saw or the asterisks around a word."""
    markdown = ("# Title\n\nSome **bold** and `code` [a link](https://example.com/hidden)\n\n"
                "- [x] done\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<b>raw</b>")
    words = reading_text(Message("assistant", (ContentPart("text", markdown),)))
    assert words.splitlines() == ["Title", "Some bold and code a link", "done", "", "a b ",
                                  "1 2 ", "", "<b>raw</b>"]
    # A user's words are shown as typed, so they are searched as typed.
    typed = Message("user", (ContentPart("text", "**as typed**"),))
    assert reading_text(typed) == "**as typed**"
