"""Signed embedding: every bad token is a 403 that shows nothing; a token grants one chat."""

import base64
import html as html_lib
import json
import re
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import jwt
import pytest
from page_text import texts
from required_tools import tool_missing
from werkzeug.exceptions import Forbidden

from viewer.access import sign
from viewer.settings import ConfigError

SECRET = "an-embed-secret-that-is-long-enough-32b"


@pytest.fixture
def signed_app(app_factory):
    app = app_factory(EMBED_SECRET=SECRET, EMBED_ALLOWED_ORIGINS="https://host.example")
    store = app.extensions["memos_source"]
    store.add_messages("alice", "a", [{"role": "user", "content": f"alice {n}"} for n in range(9)])
    store.add_messages("bob", "b", [{"role": "user", "content": "bob's secret"}])
    return app


def token(claims, secret=SECRET, algorithm="HS256"):
    with warnings.catch_warnings():  # HS512 with a 39-byte key is the point of one test
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=algorithm)


def claims(**changes):
    return {"user_id": "alice", "conversation_id": "a", "exp": int(time.time()) + 600, **changes}


def unsigned(payload):
    """An ``alg: none`` token, which PyJWT will not make for us."""
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


# Each token is made when its test runs: one made at collection would expire before a long
# run reaches it (its lifetime is ten minutes).
REJECTED = [
    ("missing", lambda: None, "has no token"),
    ("malformed", lambda: "not.a.jwt", "malformed"),
    ("garbage", lambda: "x" * 50, "malformed"),
    ("expired", lambda: token(claims(exp=int(time.time()) - 5)), "expired"),
    ("wrong secret", lambda: token(claims(), secret="another-secret-that-is-also-32-bytes!"),
     "not signed by this viewer"),
    ("alg none", lambda: unsigned(claims()), "HS256"),
    ("other algorithm", lambda: token(claims(), algorithm="HS512"), "HS256"),
    ("no exp", lambda: token({"user_id": "alice", "conversation_id": "a"}), "'exp'"),
    ("no conversation", lambda: token({"user_id": "alice", "exp": int(time.time()) + 60}),
     "'conversation_id'"),
    ("id not text", lambda: token(claims(user_id=42)), "unusable user_id"),
    ("id too long", lambda: token(claims(conversation_id="c" * 101)), "unusable conversation_id"),
    # Longer than EMBED_MAX_TTL (30 days by default) from now, or from when it was issued.
    ("year 9999", lambda: token(claims(exp=253402300799)), "lasts longer"),
    ("31 days", lambda: token(claims(exp=int(time.time()) + 31 * 86400)), "lasts longer"),
    ("issued for 31 days", lambda: token(claims(iat=int(time.time()) - 30 * 86400,
                                                exp=int(time.time()) + 86400 + 60)),
     "lasts longer"),
]


@pytest.mark.parametrize("path", ["/chat", "/embed"])
@pytest.mark.parametrize("name, make, phrase", REJECTED, ids=[r[0] for r in REJECTED])
def test_bad_tokens_are_refused(signed_app, path, name, make, phrase):
    value = make()
    query = f"?token={value}" if value else "?user_id=alice&conversation_id=a"
    response = signed_app.test_client().get(path + query)
    html = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == 403
    assert phrase in html and 'role="alert"' in html
    assert "alice 8" not in html and 'data-role=' not in html


def test_a_token_grants_its_conversation(signed_app):
    response = signed_app.test_client().get(f"/embed?token={token(claims())}")
    assert response.status_code == 200
    assert texts(response.get_data(as_text=True)) == [f"alice {n}" for n in range(3, 9)]


def test_query_ids_cannot_change_what_a_token_grants(signed_app):
    client = signed_app.test_client()
    for extra in ("&user_id=bob", "&conversation_id=b", "&user_id=bob&conversation_id=b"):
        response = client.get(f"/chat?token={token(claims())}{extra}")
        assert response.status_code == 403 and "bob's secret" not in response.get_data(True)
    same = client.get(f"/chat?token={token(claims())}&user_id=alice&conversation_id=a")
    assert same.status_code == 200


def test_load_more_is_authorized_by_the_same_token(signed_app):
    client = signed_app.test_client()
    page = client.get(f"/embed?token={token(claims())}").get_data(as_text=True)
    href = re.search(r'id="load-more"[^>]*href="([^"]+)"', page, re.S).group(1)
    fragment_url = re.search(r'data-hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert href.startswith("/embed?") and "token=" in href and "user_id" not in href
    assert "token=" in fragment_url and "user_id" not in fragment_url
    fragment = client.get(fragment_url, headers={"HX-Request": "true"})
    assert texts(fragment.get_data(as_text=True)) == ["alice 0", "alice 1", "alice 2"]
    forged = re.sub(r"token=[^&]+", f"token={token(claims(user_id='bob', conversation_id='b'))}",
                    fragment_url)
    other = client.get(forged, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "bob's secret" not in other  # the anchor is alice's: nothing of bob's lines up
    expired = re.sub(r"token=[^&]+", f"token={token(claims(exp=int(time.time()) - 1))}",
                     fragment_url)
    response = client.get(expired, headers={"HX-Request": "true"})
    assert response.status_code == 403 and "expired" in response.get_data(as_text=True)


def test_open_mode_takes_ids_from_the_query(client):
    response = client.get("/embed?user_id=demo-user&conversation_id=demo-conversation")
    assert response.status_code == 200 and 'class="topbar"' not in response.get_data(True)


def test_headers_for_the_widget_and_the_pages(signed_app):
    client = signed_app.test_client()
    widget = client.get(f"/embed?token={token(claims())}")
    assert "frame-ancestors https://host.example" in widget.headers["Content-Security-Policy"]
    assert widget.headers["Cache-Control"] == "no-store"
    assert "X-Frame-Options" not in widget.headers and "Set-Cookie" not in widget.headers
    page = client.get(f"/chat?token={token(claims())}")
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    refused = client.get("/embed")
    assert refused.headers["Cache-Control"] == "no-store"


def test_embed_url_command_prints_a_working_link(signed_app):
    result = signed_app.test_cli_runner().invoke(
        args=["embed-url", "alice", "a", "--ttl", "60", "--base-url", "https://viewer.example/"])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()  # the link alone: its id is said on stderr
    assert url.startswith("https://viewer.example/embed?token=")
    granted = jwt.decode(url.split("token=")[1], SECRET, algorithms=["HS256"])
    assert granted["user_id"] == "alice" and 0 < granted["exp"] - time.time() <= 60
    assert result.stderr == (f"Link id: {granted['jti']} (revoke it with: flask --app app "
                             f"revoke-link {granted['jti']})\n")
    path = url.removeprefix("https://viewer.example")
    assert signed_app.test_client().get(path).status_code == 200


def test_embed_url_needs_a_secret(app):
    result = app.test_cli_runner().invoke(args=["embed-url", "alice", "a"])
    assert result.exit_code != 0 and "EMBED_SECRET is not set" in result.output


@pytest.mark.parametrize("settings, phrase", [
    ({"EMBED_SECRET": "short"}, "at least 32 bytes"),
    ({"EMBED_ALLOWED_ORIGINS": "https://ok.example javascript:alert(1)"}, "not an origin"),
    ({"EMBED_ALLOWED_ORIGINS": "https://a.example; script-src *"}, "not an origin"),
    ({"EMBED_ALLOWED_ORIGINS": "*"}, "any site"),
])
def test_unsafe_embed_settings_are_refused(app_factory, settings, phrase):
    with pytest.raises(ConfigError, match=phrase):
        app_factory(**settings)


@pytest.mark.parametrize("origins, phrase", [
    ("*", "would let any site frame the widget"),
    ("https:", "would let any site frame the widget"),
    ("http:", "would let any site frame the widget"),
    ("https://app.example.com data:", "would let any site frame the widget"),
    ("https://*", "not an origin"),
    ("https://*.*.example.com", "not an origin"),
    ("*.example.com", "not an origin"),
    ("https://*.com", "spans more than one site"),
    ("https://*.co.uk", "spans more than one site"),
    ("https://*.github.io", "spans more than one site"),  # the PSL's private section
    ("http://*.localhost", "spans more than one site"),
    ("https://*.127.0.0.1", "spans more than one site"),
    ("https://*..example.com", "unusable host name"),
    ("https://example.com.", "unusable host name"),
    ("https://-bad.example.com", "unusable host name"),
])
def test_origins_wider_than_one_site_are_refused(app_factory, origins, phrase):
    with pytest.raises(ConfigError, match=re.escape(phrase)):
        app_factory(EMBED_ALLOWED_ORIGINS=origins)


@pytest.mark.parametrize("origins", [
    "'self'", "https://app.example.com", "https://*.example.com", "https://*.example.co.uk",
    "https://*.alice.github.io", "https://app.example.com:8443 http://localhost:3000",
    "http://127.0.0.1:8000", "https://[::1]:8443", "https://xn--fiqs8s.example",
])
def test_origins_of_one_site_are_accepted(app_factory, origins):
    app = app_factory(EMBED_ALLOWED_ORIGINS=origins)
    widget = app.test_client().get("/embed?user_id=demo-user&conversation_id=demo-conversation")
    assert f"frame-ancestors {origins};" in widget.headers["Content-Security-Policy"] + ";"


def test_sign_round_trips():
    granted = jwt.decode(sign("u", "c", SECRET, 30), SECRET, algorithms=["HS256"])
    assert granted["user_id"] == "u" and granted["conversation_id"] == "c"


def readme_snippet(language):
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    return re.search(rf"```{language}\n(.*?)```", readme[readme.index("## Embedding"):],
                     re.S).group(1)


def test_readme_node_snippet_mints_an_accepted_token(signed_app):
    if shutil.which("node") is None:
        tool_missing("Node.js is not installed: `make test` needs it (npm ci)")
    script = readme_snippet("js") + (
        f"\nprocess.stdout.write(embedToken('alice', 'a', {json.dumps(SECRET)}, 60));\n")
    minted = subprocess.run(["node", "-e", script], capture_output=True, text=True,
                            timeout=30, check=True).stdout
    response = signed_app.test_client().get(f"/embed?token={minted}")
    assert response.status_code == 200 and "alice 8" in response.get_data(as_text=True)


def test_readme_python_snippet_mints_an_accepted_token(signed_app):
    scope = {"user_id": "alice", "conversation_id": "a", "EMBED_SECRET": SECRET}
    exec(readme_snippet("python"), scope)  # noqa: S102 - our own README's example
    response = signed_app.test_client().get(f"/embed?token={scope['token']}")
    assert response.status_code == 200


def test_widget_errors_stay_chromeless_and_framable(signed_app):
    response = signed_app.test_client().get("/embed?token=expired.or.bad")
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and 'role="alert"' in html
    assert 'class="topbar"' not in html and 'href="/"' not in html
    assert re.search(r'src="/static/widget\.\w{12}\.js"', html)  # still reports its height
    assert "frame-ancestors https://host.example" in response.headers["Content-Security-Policy"]


def test_a_link_within_the_longest_lifetime_opens(signed_app):
    client = signed_app.test_client()
    month = token(claims(exp=int(time.time()) + 30 * 86400 - 60))
    assert client.get(f"/chat?token={month}").status_code == 200
    issued = token(claims(iat=int(time.time()) - 60, exp=int(time.time()) + 3600))
    assert client.get(f"/chat?token={issued}").status_code == 200


def test_the_longest_lifetime_is_a_setting(app_factory):
    app = app_factory(EMBED_SECRET=SECRET, EMBED_MAX_TTL="600")
    app.extensions["memos_source"].add_messages("alice", "a", [{"role": "user", "content": "x"}])
    client = app.test_client()
    assert client.get(f"/chat?token={token(claims(exp=int(time.time()) + 590))}"
                      ).status_code == 200
    refused = client.get(f"/chat?token={token(claims(exp=int(time.time()) + 700))}")
    assert refused.status_code == 403 and "lasts longer" in refused.text
    with pytest.raises(ConfigError, match="EMBED_MAX_TTL"):
        app_factory(EMBED_SECRET=SECRET, EMBED_MAX_TTL="0")


def test_embed_url_refuses_to_sign_longer_than_links_may_last(signed_app):
    runner = signed_app.test_cli_runner()
    refused = runner.invoke(args=["embed-url", "alice", "a", "--ttl", str(31 * 86400)])
    assert refused.exit_code != 0 and "EMBED_MAX_TTL=2592000" in refused.output
    signed = runner.invoke(args=["embed-url", "alice", "a", "--ttl", str(30 * 86400)])
    assert signed.exit_code == 0, signed.output
    link = signed.stdout.strip()  # the link alone: its id is said on stderr
    assert signed_app.test_client().get(link.split("5000", 1)[1]).status_code == 200


def test_tokens_found_good_are_kept_as_claims_no_caller_can_change():
    """read_token keeps each good token's claims (viewer/access.py): checked again for expiry
    only, bounded in number, and each caller gets its own copy."""
    from viewer import access

    good = token(claims(accent="#aa0000"))
    first = access.read_token(good, SECRET, 3600)
    first["user_id"] = "mallory"
    assert (good, SECRET, 3600) in access._verified  # kept: checked once
    assert access.read_token(good, SECRET, 3600)["user_id"] == "alice"
    # The same token under another secret or a shorter longest lifetime is checked afresh.
    with pytest.raises(Forbidden, match="not signed by this viewer"):
        access.read_token(good, "another-secret-that-is-long-enough-32b", 3600)
    with pytest.raises(Forbidden, match="lasts longer"):
        access.read_token(good, SECRET, 60)
    for n in range(access.VERIFIED_KEPT + 50):
        access.read_token(token(claims(jti=f"link-{n}")), SECRET, 3600)
    assert len(access._verified) <= access.VERIFIED_KEPT
