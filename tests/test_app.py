"""Routes, statuses and markup, through Flask's test client on the embedded store."""

import re

import pytest
from page_text import roles_and_texts, texts

from app import create_app
from viewer.settings import ConfigError

HX = {"HX-Request": "true"}


def chat_url(user="demo-user", conversation="demo-conversation", **extra):
    query = "&".join(f"{k}={v}" for k, v in {"user_id": user, "conversation_id": conversation,
                                              **extra}.items())
    return f"/chat?{query}"


def seed(store, count, conversation="c"):
    store.add_messages("u", conversation, [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}",
         "chat_time": f"2026-03-01 09:{n // 60:02d}:{n % 60:02d}"} for n in range(count)])


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_landing_links_to_demo_and_has_a_form(client):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/chat?user_id=demo-user&amp;conversation_id=demo-conversation"' in html
    assert '<form class="open-form" action="/chat" method="get">' in html


def test_chat_renders_newest_messages_oldest_first(client, store):
    seed(store, 10)
    response = client.get(chat_url("u", "c"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('role="log"') == 1
    assert [text for _, text in roles_and_texts(html)] == [f"message {n}" for n in range(4, 10)]
    assert re.search(r'<time class="message__time" datetime="2026-03-01T09:00:09\+08:00"[^>]*>'
                     r'09:00</time>', html)
    assert response.headers["Cache-Control"] == "no-store"


def test_a_message_shows_its_time_three_ways_from_one_conversion(client, store):
    seed(store, 1)
    html = client.get(chat_url("u", "c")).get_data(as_text=True)
    assert ('<time class="message__time" datetime="2026-03-01T09:00:00+08:00" '
            'title="2026-03-01 09:00:00 +0800">09:00</time>') in html


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/St_Johns", "UTC", "Asia/Kolkata",
                                  "Pacific/Chatham", "Europe/Amsterdam"])
def test_a_shown_time_reads_as_strftime_writes_it(zone):
    from datetime import datetime, timedelta, UTC
    from zoneinfo import ZoneInfo

    from viewer.templating import ShownTime

    place = ZoneInfo(zone)
    # Odd offsets too: before 1900 most zones kept local mean time (+08:05:43 in Shanghai).
    for year in (1000, 1850, 1901, 1937, 1970, 2026, 9999):
        moment = datetime(year, 3, 1, 12, 34, 56, 789, tzinfo=UTC) - timedelta(days=1)
        local = moment.astimezone(place)
        assert ShownTime.of(moment, place) == (local.isoformat(timespec="seconds"),
                                               local.strftime("%Y-%m-%d %H:%M:%S %z"),
                                               local.strftime("%H:%M"))


def test_demo_conversation_renders(client):
    html = client.get(chat_url()).get_data(as_text=True)
    assert len(roles_and_texts(html)) == 6 and 'id="load-more"' in html


def test_limit_parameter(client, store):
    seed(store, 10)
    assert len(roles_and_texts(client.get(chat_url("u", "c", limit=3)).get_data(True))) == 3
    clamped = client.get(chat_url("u", "c", limit=10**6))
    assert clamped.status_code == 200 and len(roles_and_texts(clamped.get_data(True))) == 10


@pytest.mark.parametrize("limit, phrase", [("abc", "whole number"), ("0", "at least 1"),
                                           ("-3", "whole number"), ("1.5", "whole number")])
def test_bad_limit_is_400(client, limit, phrase):
    response = client.get(chat_url(limit=limit))
    assert response.status_code == 400
    assert phrase in response.get_data(as_text=True)


@pytest.mark.parametrize("query, phrase", [
    ("conversation_id=c", "user id is missing"),
    ("user_id=u", "conversation id is missing"),
    ("user_id=&conversation_id=c", "user id is missing"),
    ("user_id=%20%20&conversation_id=c", "user id is unusable: it is blank"),
    ("user_id=" + "x" * 101 + "&conversation_id=c", "at most 100"),
    ("user_id=u&conversation_id=a%00b", "control characters"),
    ("user_id=u%0Ax&conversation_id=c", "control characters"),
])
def test_bad_ids_are_400_with_a_reason(client, query, phrase):
    response = client.get("/chat?" + query)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert phrase in html and 'role="alert"' in html


def test_empty_conversation_has_empty_state_and_no_load_more(client):
    html = client.get(chat_url("u", "nobody-here")).get_data(as_text=True)
    assert 'id="conversation-empty"' in html and 'id="load-more"' not in html


def test_whole_conversation_shows_start_marker(client, store):
    seed(store, 4)
    html = client.get(chat_url("u", "c")).get_data(as_text=True)
    assert 'id="conversation-start"' in html and 'id="load-more"' not in html


def test_load_more_link_works_without_javascript(client, store):
    seed(store, 10)
    html = client.get(chat_url("u", "c")).get_data(as_text=True)
    href = re.search(r'id="load-more"[^>]*href="([^"]+)"', html, re.S).group(1)
    assert "limit=12" in href
    bigger = client.get(href.replace("&amp;", "&")).get_data(as_text=True)
    assert len(roles_and_texts(bigger)) == 10 and 'id="conversation-start"' in bigger


def fragment_url(html):
    return re.search(r'data-hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")


def test_older_fragment_carries_only_older_messages(client, store):
    seed(store, 20)
    page = client.get(chat_url("u", "c")).get_data(as_text=True)
    response = client.get(fragment_url(page), headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert [t for _, t in roles_and_texts(fragment)] == [f"message {n}" for n in range(8, 14)]
    assert 'id="history-head"' in fragment and 'data-hx-swap-oob="true"' in fragment
    assert "<html" not in fragment and 'role="log"' not in fragment


def test_older_fragment_without_htmx_redirects_to_full_page(client, store):
    seed(store, 20)
    page = client.get(chat_url("u", "c")).get_data(as_text=True)
    response = client.get(fragment_url(page))
    assert response.status_code == 302 and "limit=12" in response.headers["Location"]


@pytest.mark.parametrize("change, phrase", [
    ({"anchor": "zzz"}, "anchor"), ({"depth": "x"}, "depth"), ({"shown": "0"}, "shown")])
def test_bad_fragment_parameters_are_400(client, store, change, phrase):
    seed(store, 20)
    url = fragment_url(client.get(chat_url("u", "c")).get_data(as_text=True))
    for key, value in change.items():
        url = re.sub(rf"{key}=[^&]*", f"{key}={value}", url)
    response = client.get(url, headers=HX)
    assert response.status_code == 400 and phrase in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#history-head"


def test_cap_shows_honest_note(app_factory):
    app = app_factory(MEMOS_MAX_LIMIT=8)
    seed(app.extensions["memos_source"], 20)
    html = app.test_client().get(chat_url("u", "c", limit=8)).get_data(as_text=True)
    assert 'id="history-capped"' in html and 'id="load-more"' not in html
    assert 'id="conversation-start"' not in html


def test_conversation_changed_is_409_with_reload(app_factory):
    app = app_factory(MEMOS_MAX_LIMIT=10)
    store, client = app.extensions["memos_source"], app.test_client()
    seed(store, 12)
    url = fragment_url(client.get(chat_url("u", "c")).get_data(as_text=True))
    store.add_messages("u", "c", [{"role": "user", "content": f"new {n}"} for n in range(10)])
    response = client.get(url, headers=HX)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html and "Reload the page" in html


def test_hostile_content_is_escaped(client, store):
    store.add_messages("u", "x", [
        {"role": '"><script>alert(1)</script>', "content": "<img src=x onerror=alert(2)>"}])
    html = client.get(chat_url("u", "x")).get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_route_is_our_404_page(client):
    response = client.get("/nope")
    assert response.status_code == 404 and 'role="alert"' in response.get_data(as_text=True)


@pytest.mark.parametrize("base_url", ["ftp://example.com", "example.com/api", "file:///etc"])
def test_non_http_base_url_is_refused_at_start_up(tmp_path, base_url):
    with pytest.raises(ConfigError, match="MEMOS_BASE_URL"):
        create_app({"MEMOS_BASE_URL": base_url, "MEMOS_LOCAL_DB": str(tmp_path / "x.db")})


@pytest.mark.parametrize("name, value", [("MEMOS_TIMEOUT", "soon"), ("MEMOS_MAX_LIMIT", "0"),
                                         ("MEMOS_TIMEZONE", "Mars/Base")])
def test_bad_settings_are_refused(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        create_app({name: value, "MEMOS_LOCAL_DB": str(tmp_path / "x.db")})


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("MEMOS_API_KEY", raising=False)
    monkeypatch.delenv("MEMOS_BASE_URL", raising=False)
    monkeypatch.setenv("CHAT_PAGE_SIZE", "3")
    monkeypatch.setenv("MEMOS_LOCAL_DB", str(tmp_path / "env.db"))
    app = create_app()
    assert app.config["CHAT_PAGE_SIZE"] == 3 and app.config["MEMOS_MAX_LIMIT"] == 1000


def test_the_first_view_and_each_load_earlier_show_twenty_messages_by_default(tmp_path):
    app = create_app({"TESTING": True, "MEMOS_API_KEY": "", "MEMOS_BASE_URL": "",
                      "MEMOS_LOCAL_DB": str(tmp_path / "default.db")})
    assert app.config["CHAT_PAGE_SIZE"] == 20
    client = app.test_client()
    seed(app.extensions["memos_source"], 45)

    page = client.get(chat_url("u", "c")).get_data(as_text=True)
    assert texts(page) == [f"message {n}" for n in range(25, 45)]
    earlier = client.get(fragment_url(page), headers=HX).get_data(as_text=True)
    assert texts(earlier) == [f"message {n}" for n in range(5, 25)]


def test_anchor_with_trailing_newline_is_400(client, store):
    seed(store, 20)
    url = fragment_url(client.get(chat_url("u", "c")).get_data(as_text=True))
    url = re.sub(r"anchor=([^&]+)", r"anchor=\1%0A", url)
    assert client.get(url, headers=HX).status_code == 400
