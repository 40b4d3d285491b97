"""Behind a trusted proxy, an X-Forwarded-Prefix is taken only when it is a plain path: anything
else would put another site (or a path escape) at the start of every URL and redirect."""

import http.client
import re

import pytest

from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID
from viewer.proxies import is_plain_path

PAGE = f"/chat?user_id={DEMO_USER_ID}&conversation_id={DEMO_CONVERSATION_ID}"


def fetch(server, path, prefix):
    """GET ``path`` from a live server over a real socket, as a proxy would forward it."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("GET", path)
        connection.putheader("X-Forwarded-Prefix", prefix)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("Location"), response.read().decode()
    finally:
        connection.close()


def first_script(page: str) -> str:
    return re.search(r'<script src="([^"]+)"', page)[1]


# htmx, on its own or first in page.js (built by `make install`: viewer/assets.py).
FIRST_SCRIPT = r"/static/(?:page|vendor/htmx\.min)\.\w{12}\.js"


HOSTILE = ["//evil.example", "///evil.example", "https://evil.example", "/\\evil.example",
           "\\\\evil.example", "javascript:alert(1)", "evil.example", "/a/../..", "/..",
           "/history/./x", "/%2e%2e/x", "/%2F%2Fevil.example", "/history\x7f", "/hi\x01story",
           "/his\ttory", "/history?x=1", "/history#x", "/ok//evil.example", "/",
           "/history, //evil.example"]


@pytest.mark.parametrize("prefix", HOSTILE, ids=[repr(p) for p in HOSTILE])
def test_a_prefix_that_is_not_a_plain_path_is_ignored(live_server, prefix):
    server = live_server(TRUSTED_PROXIES=1)
    status, _, page = fetch(server, PAGE, prefix)
    assert status == 200
    assert re.fullmatch(FIRST_SCRIPT, first_script(page))
    # The no-JavaScript fallback of "load earlier" redirects: it stays on this site's root.
    older = re.search(r'data-hx-get="([^"]+)"', page)[1].replace("&amp;", "&")
    status, location, _ = fetch(server, older, prefix)
    assert status == 302 and location.startswith("/chat?"), location


@pytest.mark.parametrize("prefix, mounted", [("/history", "/history"),
                                             ("/history/", "/history"),
                                             ("/apps/chat-viewer_2.0~x",
                                              "/apps/chat-viewer_2.0~x")])
def test_a_plain_path_prefix_is_taken(live_server, prefix, mounted):
    server = live_server(TRUSTED_PROXIES=1)
    status, _, page = fetch(server, PAGE, prefix)
    assert status == 200 and re.fullmatch(re.escape(mounted) + FIRST_SCRIPT, first_script(page))
    older = re.search(r'data-hx-get="([^"]+)"', page)[1].replace("&amp;", "&")
    status, location, _ = fetch(server, older.removeprefix(mounted), prefix)
    assert status == 302 and location.startswith(f"{mounted}/chat?"), location


def test_without_trusted_proxies_no_prefix_is_taken(live_server):
    server = live_server()
    status, _, page = fetch(server, PAGE, "/history")
    assert status == 200 and first_script(page).startswith("/static/")


@pytest.mark.parametrize("prefix, plain", [("/a", True), ("/a/b-c_d.e~f/", True),
                                           ("/a//b", False), ("/a/../b", False),
                                           ("/a/./b", False), ("a", False), ("", False),
                                           ("/a%20b", False), ("/a b", False), ("/é", False)])
def test_what_counts_as_a_plain_path(prefix, plain):
    assert is_plain_path(prefix) is plain
