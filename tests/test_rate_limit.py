"""Per-client rate limiting of the conversation views: who is counted, what a client over the
limit sees, what is never limited, and counts shared through a real Redis (or not, when it is
gone)."""

import html as html_lib
import logging
import os
import re
import signal
import time

import pytest
import redis

from memos_api.local import DEMO_CONVERSATION_ID, DEMO_USER_ID
from viewer.settings import ConfigError

CHAT = f"/chat?user_id={DEMO_USER_ID}&conversation_id={DEMO_CONVERSATION_ID}"
EMBED = f"/embed?user_id={DEMO_USER_ID}&conversation_id={DEMO_CONVERSATION_ID}"
HX = {"HX-Request": "true"}


def get(client, path, address="127.0.0.1", headers=None):
    """A request from ``address`` (the socket's peer, as the WSGI server reports it)."""
    return client.get(path, headers=headers or {}, environ_base={"REMOTE_ADDR": address})


def statuses(client, path, count, **options):
    return [get(client, path, **options).status_code for _ in range(count)]


def fragment_url(page: str) -> str:
    return html_lib.unescape(re.search(r'data-hx-get="([^"]+)"', page).group(1))


@pytest.fixture
def limiter_log(log_of):
    """Flask-Limiter's log lines (they do not propagate: viewer.ratelimit prints them)."""
    return log_of("flask-limiter")


# --- who is counted --------------------------------------------------------------------------

def test_forged_forwarded_for_does_not_make_a_new_client(app_factory):
    client = app_factory(RATE_LIMIT="3/minute").test_client()
    # No trusted proxy: X-Forwarded-For is the client's own words, and is ignored.
    results = [get(client, CHAT, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
               for n in range(4)]
    assert results == [200, 200, 200, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(app_factory):
    client = app_factory(RATE_LIMIT="2/minute", TRUSTED_PROXIES=1).test_client()
    proxy = "10.0.0.2"  # every request arrives from the proxy's own address

    def through_proxy(forwarded):
        return get(client, CHAT, address=proxy, headers={"X-Forwarded-For": forwarded})

    assert [through_proxy("203.0.113.5").status_code for _ in range(3)] == [200, 200, 429]
    assert through_proxy("203.0.113.6").status_code == 200  # another client behind the proxy
    # The proxy appends the address it saw; what the client wrote before it is not trusted.
    assert through_proxy("203.0.113.77, 203.0.113.5").status_code == 429


def test_ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4(app_factory):
    client = app_factory(RATE_LIMIT="2/minute").test_client()
    assert get(client, CHAT, address="2001:db8:1:2::1").status_code == 200
    assert get(client, CHAT, address="2001:db8:1:2:ffff:ffff:ffff:9").status_code == 200
    assert get(client, CHAT, address="2001:db8:1:2::abcd").status_code == 429  # same /64
    assert get(client, CHAT, address="2001:db8:1:3::1").status_code == 200
    assert statuses(client, CHAT, 2, address="192.0.2.1") == [200, 200]
    assert get(client, CHAT, address="::ffff:192.0.2.1").status_code == 429


# --- what a client over the limit sees ---------------------------------------------------------

def test_over_the_limit_is_a_429_page_in_the_site_shell(app_factory):
    client = app_factory(RATE_LIMIT="2/minute").test_client()
    assert statuses(client, CHAT, 2) == [200, 200]
    response = get(client, CHAT)
    html = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60  # the rest of this one-minute window
    assert 'role="alert"' in html and 'class="topbar"' in html
    assert '<h1 class="alert__title">Too many requests</h1>' in html and "Error 429" in html
    assert "Too many requests from your address" in html and "2 per 60 seconds" in html
    assert f"Try again in {wait} second" in html
    assert "data-role=" not in html  # no conversation content
    assert response.headers["Cache-Control"] == "no-store"
    assert "Traceback" not in html


def test_the_widget_over_the_limit_stays_chromeless(app_factory):
    client = app_factory(RATE_LIMIT="1/minute",
                         EMBED_ALLOWED_ORIGINS="https://host.example").test_client()
    assert get(client, EMBED).status_code == 200
    response = get(client, EMBED)
    html = response.get_data(as_text=True)
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert 'role="alert"' in html and 'class="topbar"' not in html
    assert re.search(r'src="/static/widget\.\w{12}\.js"', html)
    assert "frame-ancestors https://host.example" in response.headers["Content-Security-Policy"]


def test_load_earlier_over_the_limit_is_shown_in_place(app_factory):
    client = app_factory(RATE_LIMIT="2/minute").test_client()
    older = fragment_url(get(client, CHAT).get_data(as_text=True))
    assert get(client, older, headers=HX).status_code == 200
    response = get(client, older, headers=HX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    # The fragment error path: it replaces the control above the messages, not the page.
    assert response.headers["HX-Retarget"] == "#history-head"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert 'role="alert"' in fragment and "Too many requests" in fragment
    assert "<html" not in fragment and "data-role=" not in fragment


def test_one_budget_for_every_conversation_view(app_factory):
    client = app_factory(RATE_LIMIT="4/minute").test_client()
    page = get(client, CHAT).get_data(as_text=True)                         # 1
    assert get(client, fragment_url(page), headers=HX).status_code == 200    # 2
    assert get(client, fragment_url(page)).status_code == 302                # 3: no htmx
    assert get(client, EMBED).status_code == 200                             # 4
    assert get(client, CHAT).status_code == 429
    assert get(client, EMBED).status_code == 429
    assert get(client, fragment_url(page), headers=HX).status_code == 429


def test_refused_requests_count_too(app_factory):
    client = app_factory(RATE_LIMIT="2/minute").test_client()
    # Bad ids cost MemOS nothing, but a client probing ids must not be free to.
    assert statuses(client, "/chat?user_id=&conversation_id=x", 2) == [400, 400]
    assert get(client, CHAT).status_code == 429


# --- what is never limited ----------------------------------------------------------------------

def test_health_checks_static_files_and_the_landing_page_are_never_limited(app_factory):
    app = app_factory(RATE_LIMIT="1/minute")
    client = app.test_client()
    css = re.search(r'href="(/static/chat\.\w+\.css)"', get(client, "/").get_data(True))[1]
    for path in ("/healthz", "/readyz", "/", css, "/static/embed.js", "/nope"):
        assert 429 not in statuses(client, path, 5), path
    assert get(client, CHAT).status_code == 200  # none of them used the budget
    assert get(client, CHAT).status_code == 429
    assert get(client, "/healthz").status_code == 200  # nor are they refused meanwhile
    assert get(client, "/readyz").status_code == 200


def test_the_default_limit_is_120_a_minute(app_factory):
    client = app_factory().test_client()
    # Quick 400s (no id) count like pages: 120 pass, the 121st is refused.
    assert set(statuses(client, "/chat", 120)) == {400}
    assert get(client, "/chat").status_code == 429


def test_zero_turns_the_limit_off(app_factory):
    app = app_factory(RATE_LIMIT="0")
    assert "limiter" not in app.extensions
    assert set(statuses(app.test_client(), "/chat", 130)) == {400}


# --- settings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["120", "fast", "120/fortnight", "0/minute", "-1/minute", "",
                                   "120/minute;", "1e3/minute", "120/minute; drop table"])
def test_a_malformed_rate_limit_is_refused_saying_what_is_expected(app_factory, value):
    with pytest.raises(ConfigError, match=r"RATE_LIMIT must be a limit like 120/minute .* or 0"):
        app_factory(RATE_LIMIT=value)


@pytest.mark.parametrize("value", ["120/minute", "10 per second", "5/second;100/hour", 0])
def test_limit_strings_flask_limiter_reads_are_accepted(app_factory, value):
    assert app_factory(RATE_LIMIT=value).config["RATE_LIMIT"] == ("" if value == 0 else value)


@pytest.mark.parametrize("uri", ["memcached://127.0.0.1:11211", "127.0.0.1:6379",
                                 "redis://:sekrit-password@127.0.0.1:notaport/0",
                                 "mongodb://admin:sekrit-password@127.0.0.1"])
def test_an_unusable_storage_uri_is_refused_without_showing_it(app_factory, uri):
    with pytest.raises(ConfigError, match="RATE_LIMIT_STORAGE_URI") as refused:
        app_factory(RATE_LIMIT_STORAGE_URI=uri)
    assert "sekrit" not in str(refused.value) and "127.0.0.1" not in str(refused.value)


# --- shared counts: a real Redis -----------------------------------------------------------------

def test_redis_shares_one_count_across_instances(app_factory, redis_server):
    first, second = (app_factory(RATE_LIMIT="3/minute",
                                 RATE_LIMIT_STORAGE_URI=redis_server.url).test_client()
                     for _ in range(2))
    assert [get(first, CHAT).status_code, get(second, CHAT).status_code,
            get(first, CHAT).status_code] == [200, 200, 200]
    assert get(second, CHAT).status_code == 429
    assert get(first, CHAT).status_code == 429
    assert get(second, CHAT, address="192.0.2.9").status_code == 200  # another client
    keys = redis.Redis.from_url(redis_server.url).keys("LIMITS*")
    assert len(keys) == 2  # one counter per client, in Redis


def test_in_memory_each_instance_counts_on_its_own(app_factory):
    first, second = (app_factory(RATE_LIMIT="2/minute").test_client() for _ in range(2))
    assert statuses(first, CHAT, 3) == [200, 200, 429]
    assert statuses(second, CHAT, 3) == [200, 200, 429]


def test_unreachable_redis_keeps_serving_and_counts_in_memory(app_factory, refused_port,
                                                              limiter_log):
    app = app_factory(RATE_LIMIT="2/minute",
                      RATE_LIMIT_STORAGE_URI=f"redis://127.0.0.1:{refused_port}/0")
    # Pages are served (no 500), and the limit still holds, per instance.
    assert statuses(app.test_client(), CHAT, 3) == [200, 200, 429]
    warnings = [r.getMessage() for r in limiter_log.records if r.levelno == logging.WARNING]
    assert warnings == ["Rate limit storage unreachable - falling back to in-memory storage"]


def test_redis_that_goes_away_and_comes_back(app_factory, redis_server, limiter_log):
    client = app_factory(RATE_LIMIT="1000/minute",
                         RATE_LIMIT_STORAGE_URI=redis_server.url).test_client()
    store = redis.Redis.from_url(redis_server.url)
    assert get(client, CHAT).status_code == 200
    assert [int(store.get(key)) for key in store.keys("LIMITS*")] == [1]
    redis_server.stop()
    assert get(client, CHAT).status_code == 200
    assert "falling back to in-memory storage" in limiter_log.text
    redis_server.start()  # empty: no persistence
    for _ in range(300):  # Flask-Limiter looks again after 1, 2, 4... seconds
        assert get(client, CHAT).status_code == 200
        if "Rate limit storage recovered" in limiter_log.text:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the limiter never went back to Redis")
    assert get(client, CHAT).status_code == 200
    assert store.keys("LIMITS*"), "counting in Redis again"


@pytest.mark.parametrize("warm", [False, True])
def test_a_silent_redis_holds_a_page_about_half_a_second(app_factory, redis_server, warm):
    """Redis stopped (SIGSTOP): it accepts connections and answers nothing. The README
    promises about half a second per page, at the fall back and at each look for Redis."""
    client = app_factory(RATE_LIMIT="1000/minute",
                         RATE_LIMIT_STORAGE_URI=redis_server.url).test_client()
    if warm:  # a connection to Redis already in the pool
        assert get(client, CHAT).status_code == 200
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        waits = []
        for n in range(5):
            if n == 3:
                time.sleep(2.2)  # the limiter looks for Redis again after 1, then 2 s
            started = time.monotonic()
            assert get(client, CHAT).status_code == 200
            waits.append(time.monotonic() - started)
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    assert max(waits) < 0.8, [round(wait, 2) for wait in waits]
    assert sum(wait > 0.2 for wait in waits) <= 2  # the fall back and one look: 0.25 s each
