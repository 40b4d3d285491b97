"""A host's accent colour: only #rgb or #rrggbb, readable whatever it is, signed like the ids.

Hostile values are a 400 that says why (in English and Chinese); every colour a host may give
yields user bubbles and links at 4.5:1 or more (WCAG 2, measured here with a formula of the
test's own); the palette reaches the page as a stylesheet of this origin, which the strict CSP
allows; in signed mode the accent comes from the token, and an ``?accent=`` the token does not
carry is refused, as ids are; ``flask embed-url --accent`` signs one in.
"""

import html as html_lib
import re
import time
from itertools import product
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from colours import contrast_ratio, hex_rgb, relative_luminance

from viewer.accent import stylesheet
from viewer.access import sign

SECRET = "an-embed-secret-that-is-long-enough-32b"
OPEN = "/embed?user_id=demo-user&conversation_id=demo-conversation"
HOSTILE = ["red", "#12345g", "#1234", "javascript:", "#fff;background:url(x)",
           "#" + "f" * 5000, "#fff ", " #fff", "#fff\n", "#ＦＦＦ", "#0a7#0a7", "hex_rgb(0,0,0)",
           '"><script>alert(1)</script>']
# Where static/chat.css draws links and user bubbles sit, by theme.
LIGHT_SURFACES = [(255, 255, 255), (245, 246, 248), (236, 238, 243)]
DARK_SURFACES = [(17, 20, 24), (26, 31, 39), (35, 42, 53)]


def properties(css: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*([^;]+);", css))


def stylesheet_of(client, page_html: str):
    """The accent stylesheet a page links, fetched; None when it links none."""
    hrefs = re.findall(r'<link rel="stylesheet" href="(/accent/[^"]+)"', page_html)
    assert len(hrefs) <= 1
    return client.get(hrefs[0]) if hrefs else None


def token(**claims):
    return jwt.encode({"user_id": "alice", "conversation_id": "a",
                       "exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256")


@pytest.fixture
def signed_app(app_factory):
    app = app_factory(EMBED_SECRET=SECRET)
    app.extensions["memos_source"].add_messages(
        "alice", "a", [{"role": "user", "content": f"alice {n}"} for n in range(9)])
    return app


# --- hostile values ------------------------------------------------------------------------

@pytest.mark.parametrize("lang, says", [
    ("en", "The accent must be a colour written #rgb or #rrggbb"),
    ("zh-Hans", "强调色必须写成 #rgb 或 #rrggbb 形式的颜色"),
])
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_accent_is_a_400_that_says_why(client, value, lang, says):
    response = client.get("/embed", query_string={
        "user_id": "demo-user", "conversation_id": "demo-conversation", "accent": value,
        "lang": lang})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert says in html_lib.unescape(page) and 'role="alert"' in page
    assert "/accent/" not in page and "data-role=" not in page
    assert "<script>alert" not in page  # quoted, escaped, cut to 20 characters


@pytest.mark.parametrize("value", HOSTILE[:5], ids=range(5))
def test_a_hostile_accent_is_a_400_in_signed_mode_too(signed_app, value):
    response = signed_app.test_client().get("/embed", query_string={
        "token": token(), "accent": value})
    assert response.status_code == 400
    assert "#rgb or #rrggbb" in html_lib.unescape(response.get_data(as_text=True))


def test_only_canonical_stylesheet_names_are_served(client):
    for path in ("/accent/0a7.css", "/accent/00AA77.css", "/accent/00aa77.CSS",
                 "/accent/00aa7g.css", "/accent/%2300aa77.css", "/accent/00aa77;x.css",
                 "/accent/" + "0" * 600 + ".css"):
        assert client.get(path).status_code == 404, path


# --- readable, whatever the colour ----------------------------------------------------------

def test_every_short_colour_gives_readable_bubbles_and_links():
    """All 4096 #rgb colours: the bubble's text and the links in both themes at 4.5:1 (the
    stylesheet's text, as /accent/<colour>.css serves it)."""
    for digits in product("0123456789abcdef", repeat=3):
        colour = "".join(char * 2 for char in digits)
        found = properties(stylesheet("#" + colour))
        bubble, text = hex_rgb(found["--user-bg"]), hex_rgb(found["--user-text"])
        assert contrast_ratio(bubble, text) >= 4.5, (colour, found)
        assert found["--user-link"] == found["--user-text"]
        light, dark = re.fullmatch(r"light-dark\((#\w{6}), (#\w{6})\)", found["--accent"]).groups()
        for link, surfaces in ((light, LIGHT_SURFACES), (dark, DARK_SURFACES)):
            assert min(contrast_ratio(hex_rgb(link), surface) for surface in surfaces) >= 4.5, \
                (colour, link)
        on_light, on_dark = re.fullmatch(r"light-dark\((#\w{6}), (#\w{6})\)",
                                         found["--accent-text"]).groups()
        assert contrast_ratio(hex_rgb(light), hex_rgb(on_light)) >= 4.5, (colour, light, on_light)
        assert contrast_ratio(hex_rgb(dark), hex_rgb(on_dark)) >= 4.5, (colour, dark, on_dark)


@pytest.mark.parametrize("accent, text", [
    ("ffff00", "dark"), ("00aa77", "dark"), ("112233", "light"), ("777777", "light")])
def test_the_accent_is_kept_unless_it_must_move(client, accent, text):
    found = properties(client.get(f"/accent/{accent}.css").get_data(as_text=True))
    bubble = hex_rgb(found["--user-bg"])
    assert (relative_luminance(hex_rgb(found["--user-text"])) > 0.5) == (text == "light")
    if accent == "777777":  # white on it is 4.48:1: a shade darker, no more
        assert bubble != hex_rgb("#777777")
        assert all(0 < mid - own <= 4 for own, mid in zip(bubble, hex_rgb("#777777"), strict=True))
    else:
        assert bubble == hex_rgb("#" + accent)


def test_the_stylesheet_is_css_from_this_origin_and_cached(client):
    response = client.get("/accent/00aa77.css")
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in response.headers
    # The page that links it allows styles from its own origin, and nothing inline.
    page = client.get(OPEN + "&accent=%230a7")
    policy = page.headers["Content-Security-Policy"]
    assert "style-src 'self';" in policy and "unsafe-inline" not in policy
    assert '<link rel="stylesheet" href="/accent/00aa77.css">' in page.get_data(as_text=True)
    assert "style=" not in page.get_data(as_text=True)


def test_open_mode_links_keep_the_accent(client):
    page = client.get(OPEN + "&accent=%230A7&theme=dark").get_data(as_text=True)
    links = [html_lib.unescape(href) for href in
             re.findall(r'(?:href|data-hx-get|hx-get)="(/(?:embed|chat)[^"]*)"', page)]
    assert links, "the page offers no links"
    assert all("accent=%2300aa77" in link for link in links), links
    without = client.get(OPEN).get_data(as_text=True)
    assert "accent" not in without and "/accent/" not in without


# --- signed: in the token, or refused -------------------------------------------------------

@pytest.mark.parametrize("claimed, asked, status", [
    (None, None, 200),
    ("#0a7", None, 200),
    ("#0a7", "#0a7", 200),
    ("#0A7", "#00aa77", 200),        # one colour, two spellings
    (None, "#0a7", 403),             # not signed: refused, as a changed id is
    ("#0a7", "#0a8", 403),
])
def test_a_signed_link_grants_its_accent(signed_app, claimed, asked, status):
    claims = {"accent": claimed} if claimed else {}
    query = {"token": token(**claims), **({"accent": asked} if asked else {})}
    client = signed_app.test_client()
    response = client.get("/embed", query_string=query)
    page = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == status
    if status == 403:
        assert "which its token does not grant" in page and "alice 8" not in page
        return
    assert "alice 8" in page
    sheet = stylesheet_of(client, page)
    if claimed is None:
        assert sheet is None
    else:
        assert "--user-bg: #00aa77;" in sheet.get_data(as_text=True)
        # Links carry the token alone: the accent rides in it.
        assert "accent=" not in page.replace("/accent/", "")


@pytest.mark.parametrize("claim", ["red", "#12345g", 42, None, ["#0a7"]])
def test_a_token_with_an_unusable_accent_is_refused(signed_app, claim):
    response = signed_app.test_client().get(f"/embed?token={token(accent=claim)}")
    page = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == 403
    assert "unusable accent" in page and "alice 8" not in page


def test_embed_url_signs_the_accent_in(signed_app):
    result = signed_app.test_cli_runner().invoke(
        args=["embed-url", "alice", "a", "--accent", "#0A7", "--base-url", "https://v.example"])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()  # the link alone (its id is said on stderr)
    assert set(parse_qs(urlsplit(url).query)) == {"token"}  # in the token, not beside it
    assert jwt.decode(url.split("token=")[1], SECRET, algorithms=["HS256"])["accent"] == \
        "#00aa77"
    client = signed_app.test_client()
    page = client.get(url.removeprefix("https://v.example")).get_data(as_text=True)
    assert "--user-bg: #00aa77;" in stylesheet_of(client, page).get_data(as_text=True)


@pytest.mark.parametrize("value", ["red", "#1234", "javascript:", "\x1b[31m#fff"])
def test_embed_url_refuses_a_bad_accent(signed_app, value):
    result = signed_app.test_cli_runner().invoke(args=["embed-url", "alice", "a",
                                                       "--accent", value])
    assert result.exit_code != 0 and "#rgb or #rrggbb" in result.output
    assert "\x1b" not in result.output and "Traceback" not in result.output


def test_sign_puts_the_accent_in_the_token():
    claims = jwt.decode(sign("u", "c", SECRET, 30, accent="#0a7"), SECRET, algorithms=["HS256"])
    assert claims["accent"] == "#0a7"
    assert "accent" not in jwt.decode(sign("u", "c", SECRET, 30), SECRET, algorithms=["HS256"])
