"""Revocable links: ``flask revoke-link`` by id, token or whole link; refused from the next
request like any unusable token; kept until the link would have expired; in this machine's file
or, through a real Redis, for every instance; and what happens when Redis is not there."""

from __future__ import annotations

import re
import sqlite3
import time

import jwt
import pytest
import redis

from viewer.access import new_link_id, sign

SECRET = "a-revocation-secret-that-is-long-enough"
HX = {"HX-Request": "true"}


@pytest.fixture
def signed(app_factory, tmp_path):
    """Apps in signed mode on one embedded store, as instances of one deployment."""

    def build(**settings):
        app = app_factory(EMBED_SECRET=SECRET, RATE_LIMIT="0",
                          MEMOS_LOCAL_DB=str(tmp_path / "store.sqlite3"), **settings)
        app.extensions["memos_source"].add_messages(
            "alice", "a", [{"role": "user", "content": f"alice {n}"} for n in range(3)])
        return app

    return build


def embed_url(app, *args):
    """``flask embed-url alice a``: the link (stdout) and its id (stderr)."""
    result = app.test_cli_runner().invoke(args=["embed-url", "alice", "a", *args])
    assert result.exit_code == 0, result.output
    link_id = re.fullmatch(r"Link id: (\S+) \(revoke it with: flask --app app revoke-link "
                           r"\1\)\n", result.stderr)[1]
    return result.stdout.strip().removeprefix("http://127.0.0.1:5000"), link_id


def revoke(app, *args):
    return app.test_cli_runner().invoke(args=["revoke-link", *args])


def status(app, path, headers=None):
    return app.test_client().get(path, headers=headers or {}).status_code


def with_redis_answering(apps, step, attempts=5):
    """``step()``'s result, from a run in which every app's shared store answered throughout.

    A machine busy with other work can stall a process past the store's quarter-second
    timeout, which (as designed) sets the store aside for a second and serves from this
    machine's file: a test of what instances share must not read that as a failure.
    """
    stores = [app.extensions["shared_store"] for app in apps]
    for _ in range(attempts):
        for store in stores:
            deadline = time.monotonic() + 10
            while not store.check():
                assert time.monotonic() < deadline, "the test's Redis does not answer"
                time.sleep(0.2)
        result = step()
        if all(store.reachable for store in stores):
            return result
    pytest.fail(f"the shared store timed out in each of {attempts} attempts")


@pytest.mark.parametrize("by", ["id", "token", "link"])
def test_a_revoked_link_is_refused_from_the_next_request(signed, by):
    app = signed()
    path, link_id = embed_url(app)
    other, _ = embed_url(app)
    assert status(app, path) == 200
    token = path.split("token=")[1]
    name = {"id": link_id, "token": token, "link": "https://viewer.example" + path}[by]
    result = revoke(app, name)
    assert result.exit_code == 0, result.output
    assert result.output == (f"Revoked link {link_id}: every instance refuses it from its next "
                             "request.\n")
    response = app.test_client().get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "This link has been revoked" in html
    assert "alice 0" not in html and response.headers["Cache-Control"] == "no-store"
    assert status(app, other) == 200  # another link to the same conversation


def test_the_refusal_is_the_same_403_as_any_unusable_token(signed):
    app = signed()
    path, link_id = embed_url(app)
    revoke(app, link_id)
    revoked = app.test_client().get(path)
    expired = app.test_client().get(path.split("token=")[0] + "token=" + sign(
        "alice", "a", SECRET, -10))

    def shell(response):  # the page without its one sentence
        return re.sub(r'<p class="alert__message">[^<]*</p>', "", response.get_data(True))

    assert revoked.status_code == expired.status_code == 403
    assert shell(revoked) == shell(expired)
    assert {k: v for k, v in revoked.headers if k != "Content-Length"} == \
        {k: v for k, v in expired.headers if k != "Content-Length"}


def test_a_revoked_widget_stops_its_live_checks_and_load_earlier(signed):
    app = signed(LIVE_POLL_SECONDS=2, CHAT_PAGE_SIZE=2)
    path, link_id = embed_url(app)
    page = app.test_client().get(path).text
    live = re.search(r'data-live-url="([^"]+)"', page)[1].replace("&amp;", "&")
    older = re.search(r'data-hx-get="([^"]+)"', page)[1].replace("&amp;", "&")
    assert status(app, live, HX) == 204 and status(app, older, HX) == 200
    revoke(app, link_id)
    response = app.test_client().get(live, headers=HX)
    # A 403 is not retried: static/chat.js stops and says why (tests/browser).
    assert response.status_code == 403 and "This link has been revoked" in response.text
    assert status(app, older, HX) == 403
    assert status(app, path.replace("/embed", "/chat/export") + "&format=md") == 403


def test_a_new_link_id_never_reads_as_an_option():
    # One token_urlsafe id in 64 starts with "-", which the printed "revoke-link ID" command
    # took for an option: 5,000 draws would hold ~78 such ids.
    ids = [new_link_id() for _ in range(5000)]
    assert not [link_id for link_id in ids if link_id.startswith("-")]
    assert len(set(ids)) == 5000 and {len(link_id) for link_id in ids} == {16}


def test_an_id_from_another_backend_that_starts_with_a_dash_is_revoked_after_double_dash(
        signed):
    app = signed()
    path = "/embed?token=" + sign("alice", "a", SECRET, 600, link_id="-Fx0")
    assert status(app, path) == 200
    assert revoke(app, "-Fx0").exit_code == 2  # an option to click, as to any command line
    result = revoke(app, "--", "-Fx0")
    assert result.exit_code == 0, result.output
    assert status(app, path) == 403
    assert "revoke-link -- -abc" in app.test_cli_runner().invoke(
        args=["revoke-link", "--help"]).output


def test_a_token_without_an_id_stays_valid_and_cannot_be_revoked_alone(signed):
    app = signed()
    token = jwt.encode({"user_id": "alice", "conversation_id": "a",
                        "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")
    result = revoke(app, token)
    assert result.exit_code == 1 and "has no id (jti claim)" in result.output
    assert "Change EMBED_SECRET" in result.output
    assert status(app, f"/embed?token={token}") == 200


def test_the_list_shows_each_revocation_until_it_runs_out(signed):
    app = signed()
    _, kept = embed_url(app, "--ttl", "3600")
    short_path, short = embed_url(app, "--ttl", "1")
    revoke(app, kept)
    revoke(app, short_path.split("token=")[1])
    listed = revoke(app, "--list").output
    assert re.search(rf"^{re.escape(kept)}  until 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC$", listed,
                     re.M)
    assert short in listed
    time.sleep(2.2)  # its link ran out at 1 s: the revocation, KEEP_AFTER_EXPIRY later
    with app.app_context():
        revocations = app.extensions["revocations"]
        entry = next(e for e in revocations.listing() if e.link_id == short)
        assert 290 < entry.expires - time.time() < 301  # exp + 300 s, for clocks that differ


def test_expired_entries_go_by_themselves(signed, tmp_path):
    app = signed()
    revocations = app.extensions["revocations"]
    revocations.revoke("gone-soon", time.time() + 0.2)
    revocations.revoke("kept", time.time() + 3600)
    time.sleep(0.3)
    assert [entry.link_id for entry in revocations.listing()] == ["kept"]
    rows = sqlite3.connect(tmp_path / "revoked-links.sqlite3").execute(
        "SELECT jti FROM revoked").fetchall()
    assert rows == [("kept",)]
    assert not revocations.is_revoked("gone-soon")


@pytest.mark.parametrize("exp, words", [
    (lambda now: now - 30, "has expired already"),
    (lambda now: now - 10**9, "has expired already"),
])
def test_revoking_an_expired_link_records_nothing(signed, exp, words):
    app = signed()
    token = jwt.encode({"user_id": "alice", "conversation_id": "a", "jti": "old",
                        "exp": int(exp(time.time()))}, SECRET, algorithm="HS256")
    result = revoke(app, token)
    assert result.exit_code == 0 and words in result.output
    assert app.extensions["revocations"].listing() == []


def test_a_link_for_the_year_9999_is_revoked_for_good(signed):
    # A deployment that lets links last that long (EMBED_MAX_TTL refuses them by default).
    app = signed(EMBED_MAX_TTL=10_000 * 365 * 24 * 3600)
    far = jwt.encode({"user_id": "alice", "conversation_id": "a", "jti": "far-off",
                      "exp": 253402300799}, SECRET, algorithm="HS256")
    assert status(app, f"/embed?token={far}") == 200
    assert revoke(app, far).exit_code == 0
    assert status(app, f"/embed?token={far}") == 403
    assert "far-off  for good" in revoke(app, "--list").output


@pytest.mark.parametrize("given, words", [
    ("bad\x1b[31mid", "neither a link id nor a token"),
    ("x" * 201, "neither a link id nor a token"),
    ("two words", "neither a link id nor a token"),
    (jwt.encode({"jti": "j", "exp": 2**31}, "another-secret-of-thirty-two-bytes!!",
                algorithm="HS256"), "not one this viewer signed"),
    ("a.b.c", "not one this viewer signed"),
])
def test_unusable_input_revokes_nothing_and_says_why(signed, given, words):
    app = signed()
    result = revoke(app, given)
    assert result.exit_code != 0 and words in result.output
    assert "\x1b" not in result.output
    assert app.extensions["revocations"].listing() == []


def test_revoking_needs_signed_mode_and_a_link(app_factory, signed):
    result = revoke(app_factory(), "some-id")
    assert result.exit_code == 1 and "EMBED_SECRET is not set" in result.output
    assert revoke(signed()).exit_code == 2
    assert revoke(signed(), "some-id", "--list").exit_code == 2


def test_instances_on_one_machine_share_the_file(signed):
    first, second = signed(), signed()
    path, link_id = embed_url(first)
    assert status(second, path) == 200
    revoke(first, link_id)
    assert status(second, path) == 403


# --- through Redis: every instance, whichever machine --------------------------------------

def test_a_revocation_in_redis_holds_on_every_instance(signed, redis_server, tmp_path):
    # Two machines: each its own revoked-links file, one Redis.
    first, second = (signed(SHARED_STORE_URL=redis_server.url,
                            REVOKED_LINKS_DB=str(tmp_path / f"machine-{n}.sqlite3"))
                     for n in range(2))
    path, link_id = embed_url(first, "--ttl", "600")
    assert status(second, path) == 200

    def revoked_and_seen():
        assert revoke(first, link_id).exit_code == 0
        return status(second, path)

    assert with_redis_answering([first, second], revoked_and_seen) == 403
    [key] = redis.Redis.from_url(redis_server.url).keys("memos-viewer:revoked:*")
    ttl = redis.Redis.from_url(redis_server.url).ttl(key)
    assert 366 * 86400 < ttl <= 366 * 86400 + 300  # by id: the longest embed-url link
    token_path, _ = embed_url(first, "--ttl", "600")
    revoke(first, token_path.split("token=")[1])
    ttls = sorted(redis.Redis.from_url(redis_server.url).ttl(key)
                  for key in redis.Redis.from_url(redis_server.url).keys("memos-viewer:revoked:*"))
    assert 890 < ttls[0] <= 900  # by token: its exp (600 s) and the margin (300 s)
    assert f"{link_id}  until" in revoke(second, "--list").output


def test_a_signed_request_costs_one_redis_command(signed, redis_server):
    app = signed(SHARED_STORE_URL=redis_server.url)
    path, _ = embed_url(app)
    client = redis.Redis.from_url(redis_server.url)

    def commands():
        stats = client.info("commandstats")
        return sum(value["calls"] for name, value in stats.items() if name != "cmdstat_info")

    app.test_client().get(path)
    before = commands()
    assert status(app, path) == 200
    assert commands() - before == 1  # PTTL of the link's id (and no rate-limit count: off)


def test_with_redis_down_revoking_says_so_and_this_machine_still_refuses(signed, redis_server):
    app = signed(SHARED_STORE_URL=redis_server.url)
    path, link_id = embed_url(app)
    redis_server.stop()
    result = revoke(app, link_id)
    assert result.exit_code == 1 and "revoked on this machine only" in result.output
    assert status(app, path) == 403
    assert f"{link_id}  until" in revoke(app, "--list").output
    assert "(this machine only)" in revoke(app, "--list").output


def test_a_revocation_seen_stays_refused_while_redis_is_away(signed, redis_server, tmp_path):
    first = signed(SHARED_STORE_URL=redis_server.url,
                   REVOKED_LINKS_DB=str(tmp_path / "machine-1.sqlite3"))
    second = signed(SHARED_STORE_URL=redis_server.url,
                    REVOKED_LINKS_DB=str(tmp_path / "machine-2.sqlite3"))
    path, link_id = embed_url(first)

    def revoked_and_seen():
        assert revoke(first, link_id).exit_code == 0
        return status(second, path)

    assert with_redis_answering([first, second], revoked_and_seen) == 403  # seen once here...
    redis_server.pause()  # ...then Redis hangs
    try:
        started = time.monotonic()
        assert status(second, path) == 403
        assert time.monotonic() - started < 0.1  # remembered: Redis was not even asked
        fresh, _ = embed_url(first)
        started = time.monotonic()
        assert status(second, fresh) == 200  # pages still served (on this machine's file)
        assert time.monotonic() - started < 1.0
    finally:
        redis_server.resume()


def test_a_revocation_key_that_is_not_ours_is_never_listed(signed, redis_server):
    app = signed(SHARED_STORE_URL=redis_server.url)
    client = redis.Redis.from_url(redis_server.url)
    _, link_id = embed_url(app)
    revoke(app, link_id)
    [key] = client.keys("memos-viewer:revoked:*")
    scope = key.decode().rsplit(":", 1)[0]
    client.set(f"{scope}:{'0' * 32}", b"\xff not json")
    client.hset(f"{scope}:{'1' * 32}", "jti", "x")
    listed = revoke(app, "--list")
    assert listed.exit_code == 0 and listed.output.count("until") == 1


def test_an_unwritable_file_is_said_in_one_line_and_pages_still_work(signed, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the folder should be")
    app = signed(REVOKED_LINKS_DB=str(blocked / "revoked.sqlite3"))
    path, link_id = embed_url(app)
    assert status(app, path) == 200  # nothing readable: nothing revoked, no 500
    result = revoke(app, link_id)
    assert result.exit_code == 1 and result.output.startswith("Error: Nothing revoked: ")
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1
    assert revoke(app, "--list").output == "No revoked links.\n"
