"""Property-based fuzzing (hypothesis) of the app's inputs and of MemOS's answers.

- Any query string on ``/chat``, ``/embed``, ``/chat/older`` (with and without htmx),
  ``/chat/newer`` (any ``since``, to the edges of what a datetime holds) and ``/chat/export``,
  in open and in signed mode: never a 500 or a traceback, always one of the documented statuses.
- Stray parameters (``url_for``'s own names, names starting with ``_``, anything) on pages
  whose upstream call fails: the retry link stays relative and carries only access, ``limit``
  and ``theme``.
- Any HTTP body from MemOS (arbitrary bytes, any JSON value, any envelope, any ``data``, any
  ``message_detail_list``, any items): ``MemOSClient.get_messages`` returns messages or raises
  a ``MemOSError``, nothing else; and the app shows it without a 500.

Runs are reproducible (``derandomize``, no example database), bounded in examples and time.
Bugs these found are pinned as ``@example``\\s.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import warnings
from datetime import timedelta, timezone
from html import unescape
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import jwt
import pytest
from hypothesis import event, example, given, HealthCheck, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from upstream_apps import UPSTREAM_ACCESS
from werkzeug import Request, Response

from app import create_app
from memos_api import MemOSClient, MemOSError, Message, message_from_api, sort_by_time
from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID
from memos_api.local.demo import DEMO_MESSAGES
from viewer.access import sign
from viewer.history import anchor_token

ALLOWED = {200, 204, 302, 400, 403, 404, 409, 502, 503, 504}
SECRET = "fuzz-embed-secret-0123456789-abcdefghijk"  # 40 characters
assert len(SECRET) == 40
PREFIX = "/api/openmem/v1"
PATH = PREFIX + "/get/message"
ANCHOR = "1.0123456789abcdef"

FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(autouse=True)
def quiet_expected_warnings(caplog):
    """Failures are logged as warnings by design; keep hundreds of them out of the report."""
    caplog.set_level(logging.ERROR, logger="viewer.failures")


def assert_clean(result, where: str) -> None:
    body = result.get_data(as_text=True)
    assert result.status_code != 500, f"{where}: 500\n{body[:3000]}"
    assert result.status_code in ALLOWED, f"{where}: {result.status_code}\n{body[:3000]}"
    assert "Traceback" not in body, where
    event(f"HTTP {result.status_code}")  # --hypothesis-show-statistics shows what was reached


# --- strategies ------------------------------------------------------------------------------

# Text that can be URL-encoded (lone surrogates cannot); raw bytes cover invalid UTF-8.
any_text = st.text(st.characters(codec="utf-8"), max_size=120)
INTERESTING = ["", " ", "0", "-1", "1", "6", "50", "51", "999999999", "1000000000", "1e3",
               "0x10", "\u0661\u0662", "\u00b2", "６", "+6", " 6", "6 ", "auto", "light", "dark",
               "embed", "page", ANCHOR, ANCHOR + "\n", "9.ffffffffffffffff", "1.0123456789ABCDEF",
               DEMO_USER_ID, DEMO_CONVERSATION_ID, "x" * 100, "x" * 101, "\x00", "\t", "\u2028",
               "%", "%zz", "&", "=", "#", "+", "?", "/", "..", "<script>", "'\"", "\ufeff"]
values = st.one_of(st.sampled_from(INTERESTING), any_text, st.binary(max_size=40))
PARAMS = ["user_id", "conversation_id", "limit", "theme", "anchor", "depth", "shown", "token",
          "layout", "after", "since", "format"]
names = st.one_of(st.sampled_from(PARAMS), st.sampled_from(PARAMS).map(str.upper), any_text)
counts = st.integers(min_value=1, max_value=60).map(str)
# Times with any offset a zone can have, across all of datetime's years: the edges overflow
# when shown in another zone (0001-01-01T00:00:00+00:01 is in year 0 in UTC).
offsets = st.timedeltas(min_value=-timedelta(hours=23, minutes=59),
                        max_value=timedelta(hours=23, minutes=59)).map(timezone)
EDGE_TIMES = ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
              "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00",
              "0001-01-02T00:00:00+23:59", "9999-12-30T23:59:59-23:59"]
times = st.one_of(st.sampled_from(EDGE_TIMES),
                  st.datetimes(timezones=offsets).map(lambda moment: moment.isoformat()))

# Anchors the demo conversation's pages really carry (its times are fixed), with their depths:
# without them nearly every "load earlier" would stop at 409.
_DEMO = sort_by_time([message_from_api(item) for item in DEMO_MESSAGES])
DEMO_ANCHORS = [(anchor_token(_DEMO[start:]), len(_DEMO) - start) for start in range(len(_DEMO))]
NEWEST_ANCHOR = anchor_token(_DEMO[-3:])  # what a live check of the demo names


@st.composite
def queries(draw, ids: bool = True) -> list[tuple[str, str | bytes]]:
    """Mostly usable parameters, each sometimes fuzzed or left out, plus stray ones."""
    pairs: list[tuple[str, str | bytes]] = []

    def param(name: str, usable) -> None:
        choice = draw(st.sampled_from(["usable"] * 4 + ["fuzzed", "absent"]))
        if choice != "absent":
            pairs.append((name, draw(usable if choice == "usable" else values)))

    anchor, depth = draw(st.sampled_from(DEMO_ANCHORS))
    if ids:
        param("user_id", st.just(DEMO_USER_ID))
        param("conversation_id", st.just(DEMO_CONVERSATION_ID))
    param("limit", counts)
    param("theme", st.sampled_from(["light", "dark", "auto"]))
    param("anchor", st.just(anchor))
    param("depth", st.just(str(depth)) | counts)
    param("shown", counts)
    param("layout", st.sampled_from(["embed", "page"]))
    param("after", st.sampled_from(["0", NEWEST_ANCHOR]))
    param("since", times)
    param("format", st.sampled_from(["json", "md", "txt"]))
    pairs += draw(st.lists(st.tuples(names, values), max_size=3))
    return draw(st.permutations(pairs))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# JSON strings may escape lone surrogates ("\ud800"), which Python text cannot encode.
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                         st.integers(min_value=-(10**40), max_value=10**40),
                         st.floats(), st.text(max_size=40),
                         st.tuples(st.text(max_size=5), surrogates).map("".join))
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


def _signed(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jwt.encode(claims, secret, algorithm=algorithm)


claim_values = st.one_of(json_values, st.sampled_from([DEMO_USER_ID, DEMO_CONVERSATION_ID]))
claims = st.fixed_dictionaries({}, optional={
    "user_id": claim_values, "conversation_id": claim_values,
    "exp": st.one_of(st.integers(min_value=-(10**20), max_value=10**20), json_values,
                     st.just(int(time.time()) + 3600)),
    "nbf": json_values, "iat": json_values, "aud": json_values,
})
DEMO_TOKEN = sign(DEMO_USER_ID, DEMO_CONVERSATION_ID, SECRET, 3600)
tokens = st.one_of(
    st.just(DEMO_TOKEN), st.just(DEMO_TOKEN),  # listed twice: drawn more often
    st.just(DEMO_TOKEN).map(lambda token: token[:-1]),  # signature off by a character
    any_text,
    st.lists(st.text("ABCDEFabcdef0123456789-_=.", max_size=40), min_size=1, max_size=4)
    .map(".".join),
    st.tuples(json_values, json_values, st.binary(max_size=32)).map(
        lambda t: ".".join([b64(json.dumps(t[0]).encode()), b64(json.dumps(t[1]).encode()),
                            b64(t[2])])),
    claims.map(_signed),  # signed with the right secret: only the claims are odd
    st.tuples(claims, st.sampled_from(["HS384", "HS512"])).map(lambda t: _signed(*t)),
)
# The token first (so a stray "token" cannot shadow it), ids sometimes repeated in the query.
signed_queries = st.tuples(tokens, queries(ids=False), st.booleans()).map(
    lambda t: [("token", t[0]),
               *([("user_id", DEMO_USER_ID), ("conversation_id", DEMO_CONVERSATION_ID)]
                 if t[2] else []), *t[1]])


def encode(query: list[tuple[str, str | bytes]]) -> str:
    """A query string: UTF-8 text and raw bytes alike, percent-encoded."""
    return urlencode(query, quote_via=quote)


# --- app inputs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    """An app in open mode and one in signed mode, on seeded embedded stores."""
    root = tmp_path_factory.mktemp("fuzz-apps")
    built = {}
    for mode, extra in (("open", {}), ("signed", {"EMBED_SECRET": SECRET})):
        # Hundreds of requests from one address: the rate limit has its own tests.
        built[mode] = create_app({"TESTING": True, "MEMOS_API_KEY": "", "MEMOS_BASE_URL": "",
                                  "MEMOS_LOCAL_DB": str(root / f"{mode}.sqlite3"),
                                  "RATE_LIMIT": "0", **extra})
    return built


def request_every_view(app, query: list) -> None:
    client = app.test_client()
    string = encode(query)
    for path in ("/chat", "/embed", "/chat/older"):
        assert_clean(client.get(f"{path}?{string}"), f"{path}?{string}")
    assert_clean(client.get(f"/chat/older?{string}", headers={"HX-Request": "true"}),
                 f"/chat/older?{string} (htmx)")
    assert_clean(client.get(f"/chat/newer?{string}", headers={"HX-Request": "true"}),
                 f"/chat/newer?{string} (htmx)")
    assert_clean(client.get(f"/chat/export?{string}"), f"/chat/export?{string}")


@FUZZ
@given(query=queries())
@example(query=[("user_id", DEMO_USER_ID), ("conversation_id", DEMO_CONVERSATION_ID),
                ("anchor", ANCHOR + "\n"), ("depth", "6"), ("shown", "6")])
@example(query=[("user_id", b"\xff\xfe"), ("conversation_id", "%zz"), ("limit", "\u00b2")])
@example(query=[("user_id", DEMO_USER_ID), ("conversation_id", DEMO_CONVERSATION_ID),
                ("after", "0"), ("since", "0001-01-01T00:00:00+00:01")])
@example(query=[("user_id", DEMO_USER_ID), ("conversation_id", DEMO_CONVERSATION_ID),
                ("after", "0"), ("since", "9999-12-31T23:59:59-00:01")])
def test_open_mode_any_query_is_answered_cleanly(apps, query):
    request_every_view(apps["open"], query)


@FUZZ
@given(query=signed_queries)
def test_signed_mode_any_query_is_answered_cleanly(apps, query):
    request_every_view(apps["signed"], query)


def test_signed_fuzz_reaches_the_conversation(apps):
    """The token strategies include a valid one: the fuzzing really gets past the check."""
    client = apps["signed"].test_client()
    result = client.get(f"/chat?token={DEMO_TOKEN}")
    assert result.status_code == 200 and 'role="log"' in result.get_data(as_text=True)
    anchor, depth = DEMO_ANCHORS[-6]
    result = client.get(f"/chat/older?token={DEMO_TOKEN}&anchor={anchor}&depth={depth}&shown=6",
                        headers={"HX-Request": "true"})
    assert result.status_code == 200 and "<article" in result.get_data(as_text=True)


# --- MemOS answers ---------------------------------------------------------------------------

# Time fields: text, epochs, and datetimes at the ends of their range, with and without zones.
offsets = st.integers(min_value=-1439, max_value=1439).map(
    lambda minutes: f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:"
                    f"{abs(minutes) % 60:02d}")
time_like = st.one_of(
    json_scalars,
    st.datetimes().map(lambda moment: moment.isoformat(sep=" ")),
    st.tuples(st.datetimes(), offsets).map(lambda t: t[0].isoformat() + t[1]),
    st.integers(min_value=0, max_value=300_000_000_000_000),
    st.sampled_from(["0001-01-01 00:00:00", "9999-12-31T23:59:59-08:00", "2026-01-01 10:00:00",
                     "253402300799999", "1e400", "nan", "2026-13-45 99:99"]),
)
content_part = st.fixed_dictionaries({}, optional={
    "type": st.one_of(st.sampled_from(["text", "image_url", "file", "input_audio", ""]),
                      json_values),
    "text": json_values, "image_url": json_values, "file": json_values, "url": json_values,
})
contents = st.one_of(json_values, st.text(max_size=200),
                     st.lists(st.one_of(content_part, json_values), max_size=4))
message_items = st.fixed_dictionaries({}, optional={
    "role": st.one_of(st.sampled_from(["user", "assistant", "system", "tool"]), json_values),
    "content": contents, "chat_time": time_like, "create_time": time_like,
    "update_time": time_like, "message_id": json_values,
})
items = st.one_of(message_items, json_values)
codes = st.one_of(
    st.sampled_from([0, 200, "0", "200", " 0 ", 40001, 40132, 40300, 40309, 50000, 50004, 429,
                     500, 502, -1, 10**20, True, False, None, 0.0, "", "ok"]),
    st.integers(), st.text(max_size=8),
    st.from_regex(r"\A\s?-{0,2}[0-9\u00b2\u00b3\u0661\u0662\uff16]{1,5}\s?\Z"),
)


def dumps(value) -> bytes:
    """JSON as MemOS could send it: lone surrogates escaped, NaN/Infinity as Python writes."""
    return json.dumps(value).encode()


item_lists = st.lists(items, max_size=12).map(
    lambda found: dumps({"code": 0, "data": {"message_detail_list": found}}))
bodies = st.one_of(
    item_lists, item_lists,  # listed twice: readable answers are drawn more often
    st.binary(max_size=200),
    json_values.map(dumps),
    st.fixed_dictionaries({"code": codes}, optional={"data": json_values,
                                                    "message": json_values}).map(dumps),
    st.fixed_dictionaries({"code": codes, "data": st.fixed_dictionaries(
        {"message_detail_list": json_values})}).map(dumps),
)
statuses = st.one_of(st.just(200), st.just(200),
                     st.sampled_from([201, 400, 401, 403, 404, 429, 500, 502, 503]))
retry_afters = st.one_of(
    st.none(), st.none(),
    st.sampled_from(["0", "0.001", "7", "inf", "-inf", "nan", "1e400", "-1", "1e300", "soon", ""]),
    st.from_regex(r"\A[ -~]{0,12}\Z"))
encodings = st.one_of(st.none(), st.none(),
                      st.sampled_from(["gzip", "deflate", "br", "identity", "x-junk"]))


class Upstream:
    """pytest-httpserver answering every ``/get/message`` with whatever is set last."""

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0)
        self.answer = Response("{}")
        self.server.expect_request(PATH).respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Response:
        return self.answer

    def set(self, status: int, body: bytes, retry_after: str | None,
            encoding: str | None) -> None:
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if encoding is not None:
            headers["Content-Encoding"] = encoding  # a lie: the body is sent as it is
        self.answer = Response(body, status, headers=headers, content_type="application/json")
        self.server.clear_log()


@pytest.fixture(scope="module")
def upstream():
    served = Upstream()
    served.server.start()
    yield served
    served.server.clear()
    if served.server.is_running():
        served.server.stop()


@pytest.fixture(scope="module")
def memos(upstream):
    with MemOSClient("fuzz-key", upstream.server.url_for(PREFIX), timeout=1.0,
                     connect_timeout=1.0, deadline=3.0, retries=1, backoff=0.001,
                     max_retry_after=0.01) as client:
        yield client


REGRESSIONS = [  # once raised something other than MemOSError, or made the page a 500
    (200, b'{"code": "\\u00b2", "data": null}', None, None),
    (200, b'{"code": "--5", "data": null}', None, None),
    (429, b"", "inf", None),
    (200, dumps({"code": 0, "data": {"message_detail_list": [
        {"role": "user", "content": "\ud800", "create_time": "9999-12-31T23:59:59-08:00"},
        {"role": "\udc00", "content": [{"type": "\ud800"}], "chat_time": "0001-01-01"}]}}),
     None, None),
]


def with_regressions(test):
    for status, body, retry_after, encoding in REGRESSIONS:
        test = example(status=status, body=body, retry_after=retry_after,
                       encoding=encoding)(test)
    return test


@settings(FUZZ, max_examples=300)  # cheap: no page to render
@given(status=statuses, body=bodies, retry_after=retry_afters, encoding=encodings)
@with_regressions
def test_client_returns_messages_or_raises_memos_error(upstream, memos, status, body,
                                                       retry_after, encoding):
    upstream.set(status, body, retry_after, encoding)
    try:
        result = memos.get_messages("u", "c", 7)
    except MemOSError as error:
        assert str(error)  # a sentence to show
        event(type(error).__name__)
        return
    event("messages")
    assert isinstance(result, list) and all(isinstance(m, Message) for m in result)
    for message in result:
        assert isinstance(message.role, str)
        message.text.encode("utf-8")  # every string is encodable
        message.role.encode("utf-8")


@pytest.fixture(scope="module")
def upstream_apps(upstream, tmp_path_factory):
    """Apps on the fuzzed upstream, showing times far west and far east of UTC."""
    root = tmp_path_factory.mktemp("fuzz-upstream")
    built = []
    for zone in ("-11:00", "+14:00"):
        # Hundreds of requests from one address: the rate limit has its own tests.
        app = create_app({"TESTING": True, "MEMOS_API_KEY": "fuzz-key",
                          "MEMOS_BASE_URL": upstream.server.url_for(PREFIX),
                          "MEMOS_LOCAL_DB": str(root / "unused.sqlite3"), "MEMOS_TIMEOUT": 1.0,
                          "MEMOS_DEADLINE": 3.0, "DISPLAY_TIMEZONE": zone,
                          "VIEWER_ACCESS": "open", "RATE_LIMIT": "0"})
        app.extensions["memos_source"].source.backoff = 0.001  # retries stay quick
        built.append(app)
    return built


@FUZZ
@given(status=statuses, body=bodies, retry_after=retry_afters, encoding=encodings)
@with_regressions
def test_app_shows_any_answer_without_a_500(upstream, upstream_apps, status, body,
                                            retry_after, encoding):
    upstream.set(status, body, retry_after, encoding)
    for app in upstream_apps:
        client = app.test_client()
        for path, headers in (
                ("/chat?user_id=u&conversation_id=c", {}),
                ("/embed?user_id=u&conversation_id=c&theme=dark", {}),
                (f"/chat/older?user_id=u&conversation_id=c&shown=6&depth=6&anchor={ANCHOR}",
                 {"HX-Request": "true"})):
            result = client.get(path, headers=headers)
            assert_clean(result, f"{path} <- HTTP {status} {body[:300]!r}")
            if result.status_code in (502, 503, 504):
                assert 'role="alert"' in result.get_data(as_text=True)


# --- stray parameters on a failed page -------------------------------------------------------

URL_FOR_NAMES = ["endpoint", "_method", "_external", "_scheme", "_anchor", "values", "self",
                 "__class__", "_", "__"]
stray_names = st.one_of(st.sampled_from(URL_FOR_NAMES), any_text.map(lambda name: "_" + name),
                        any_text)
RETRY_PARAMS = {"user_id", "conversation_id", "token", "limit", "theme"}
MEMOS_FAILED = dumps({"code": 50000, "data": None, "message": ""})


@pytest.fixture(scope="module")
def failing_app(upstream, tmp_path_factory):
    """An app on the fuzzed upstream, which this test sets to fail every call (a 502 page)."""
    root = tmp_path_factory.mktemp("fuzz-failing")
    # RATE_LIMIT off: hundreds of examples come from one address in a minute.
    return create_app({"TESTING": True, **UPSTREAM_ACCESS, "MEMOS_API_KEY": "fuzz-key",
                       "MEMOS_BASE_URL": upstream.server.url_for(PREFIX), "RATE_LIMIT": "0",
                       "MEMOS_LOCAL_DB": str(root / "unused.sqlite3"), "MEMOS_TIMEOUT": 1.0})


@FUZZ
@given(usable=queries(), stray=st.lists(st.tuples(stray_names, values), min_size=1, max_size=4))
@example(usable=[("user_id", "u"), ("conversation_id", "c")],
         stray=[("endpoint", "x"), ("_method", "POST"), ("_external", "1")])
def test_stray_parameters_never_reach_the_retry_link(upstream, failing_app, usable, stray):
    upstream.set(200, MEMOS_FAILED, None, None)
    client = failing_app.test_client()
    string = encode([*usable, *stray])
    for path in ("/chat", "/embed"):
        result = client.get(f"{path}?{string}", headers={"Host": "evil.example"})
        assert_clean(result, f"{path}?{string}")
        if result.status_code != 502:
            continue  # refused before the upstream call (a bad id, limit or theme)
        [href] = re.findall(r'class="alert__retry" href="([^"]*)"', result.text)
        link = urlsplit(unescape(href))
        assert (link.scheme, link.netloc, link.path, link.fragment) == ("", "", path, "")
        assert {name for name, _ in parse_qsl(link.query)} <= RETRY_PARAMS, href
    assert_clean(client.get(f"/chat/older?{string}", headers={"HX-Request": "true"}),
                 f"/chat/older?{string} (htmx)")
    assert_clean(client.get(f"/chat/newer?{string}", headers={"HX-Request": "true"}),
                 f"/chat/newer?{string} (htmx)")
    assert_clean(client.get(f"/chat/export?{string}"), f"/chat/export?{string}")
