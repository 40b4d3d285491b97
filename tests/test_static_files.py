"""Static files through WhiteNoise (viewer/assets.py): pages link content-hashed URLs, cached a
year and immutable; a file's own URL is kept a minute. The brotli and gzip variants are the
ones built at install; a revalidation of the ETag (the one validator) gets 304 in every
encoding; every file carries the security headers, the policy kept on whatever could be opened
as a page; without a build everything is still served, uncompressed. Through Flask's test
client (the whole WSGI stack) and over real HTTP."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import re
import shutil

import brotli
import pytest

from viewer import assets
from viewer.security import content_security_policy, STATIC_FILE_POLICY

VERSIONED = "max-age=31536000, public, immutable"
ONE_MINUTE = "max-age=60, public"
# What base.html links once built: htmx (installed by npm ci into static/vendor/) and chat.js
# in one script; without a build, each on its own.
LINKED = {"favicon.svg", "chat.css", "page.js"}
UNBUILT = {"favicon.svg", "chat.css", "vendor/htmx.min.js", "chat.js"}
HASHED = re.compile(r"/static/(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<suffix>\.\w+)")
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress, "identity": lambda body: body}
SUFFIX = {"br": ".br", "gzip": ".gz"}
TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """static/ built as ``make install`` builds it, into this session's own folder."""
    target = tmp_path_factory.mktemp("build") / "static"
    assets.build(assets.SOURCE, target)
    return target


@pytest.fixture
def client(app_factory, monkeypatch, built):
    """The app serving ``built``."""
    monkeypatch.setattr(assets, "BUILT", built)
    return app_factory().test_client()


def linked(client) -> dict[str, str]:
    """The static files the landing page links: source name -> URL."""
    html = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    return {"{stem}{suffix}".format(**HASHED.fullmatch(url).groupdict()): url for url in urls}


def original(name: str) -> bytes:
    return (assets.SOURCE / name).read_bytes()


def source(name: str) -> bytes:
    """What is served for ``static/<name>``: its content, minified for our scripts and styles;
    a bundle's members so, one after the other."""
    if name in assets.BUNDLES:
        return assets.bundled(assets.BUNDLES[name])
    return assets.minified(name, original(name))


def digest(name: str) -> str:
    """The hash a file's or a bundle's URL carries."""
    if name in assets.BUNDLES:
        return assets.bundle_digest(assets.BUNDLES[name], assets.digests(assets.SOURCE))
    return hashlib.sha256(original(name)).hexdigest()[:12]


def get(client, url, encoding="br, gzip", **headers):
    return client.get(url, headers={"Accept-Encoding": encoding, **headers})


# --- URLs and caching -----------------------------------------------------------------------

def test_pages_link_each_file_under_the_hash_of_its_content(client):
    urls = linked(client)
    assert set(urls) == LINKED, "static/vendor/htmx.min.js comes with `make install`"
    for name, url in urls.items():
        assert HASHED.fullmatch(url)["digest"] == digest(name)


def test_the_page_scripts_are_one_bundle_in_order_and_each_still_served_alone(client):
    bundle = get(client, linked(client)["page.js"], "identity").data
    htmx, chat = source("vendor/htmx.min.js"), source("chat.js")
    assert bundle == htmx.rstrip() + b";\n" + chat.rstrip() + b"\n"
    assert bundle.index(b"var htmx=") < bundle.index(chat.rstrip()[:40])  # htmx first
    for name in ("vendor/htmx.min.js", "chat.js"):
        assert get(client, f"/static/{name}", "identity").data == source(name)
    # A member changed since the build makes another bundle, not built: see below.
    assert digest("page.js") != assets.bundle_digest(
        ("vendor/htmx.min.js", "chat.js"), {**assets.digests(assets.SOURCE), "chat.js": "0" * 12})


def test_versioned_urls_are_kept_a_year_and_a_files_own_url_a_minute(client):
    for name, url in linked(client).items():
        assert get(client, url).headers["Cache-Control"] == VERSIONED, url
        assert get(client, f"/static/{name}").headers["Cache-Control"] == ONE_MINUTE, name
    # The README's two-line snippet loads the widget's script with no version.
    assert get(client, "/static/embed.js").headers["Cache-Control"] == ONE_MINUTE


def test_only_the_current_version_and_existing_files_are_served(client):
    url = linked(client)["chat.css"]
    old = HASHED.sub(r"/static/\g<stem>.000000000000\g<suffix>", url)
    for missing in (old, "/static/no-such-file.css", "/static/chat.css.br"):
        response = get(client, missing)
        assert response.status_code == 404, missing
        assert response.headers["Cache-Control"] == "no-store"


# --- compression, done once at install --------------------------------------------------------

@pytest.mark.parametrize("encoding", ["br", "gzip", "identity"])
def test_each_encoding_sends_the_variant_built_at_install(client, built, encoding):
    for name, url in linked(client).items():
        response = get(client, url, encoding)
        hashed = built / url.removeprefix("/static/")
        sent = hashed.with_name(hashed.name + SUFFIX[encoding]) if encoding in SUFFIX else hashed
        assert response.headers.get("Content-Encoding", "identity") == encoding, name
        # The very bytes written at install, not compressed again for this request.
        assert response.data == sent.read_bytes(), name
        assert DECODE[encoding](response.data) == source(name), name
        assert response.headers["Vary"] == "Accept-Encoding", name
        assert response.headers["Content-Length"] == str(len(response.data)), name


def test_our_scripts_and_styles_are_minified_and_htmx_is_left_as_it_is():
    for name in ("chat.js", "embed.js", "chat.css"):
        assert b"/*" not in source(name) and len(source(name)) < 0.8 * len(original(name)), name
    assert source("vendor/htmx.min.js") == original("vendor/htmx.min.js")


def test_the_build_is_done_once_and_keeps_only_variants_worth_sending(tmp_path):
    static = tmp_path / "static"
    shutil.copytree(assets.SOURCE, static)
    (static / "noise.bin").write_bytes(os.urandom(4096))  # brotli cannot make it smaller
    (static / ".editor-swap").write_text("not a static file")
    target = tmp_path / "build"
    assert assets.build(static, target) == len(assets.digests(static)) + len(assets.BUNDLES)
    files = {path: path.stat().st_mtime_ns for path in target.rglob("*") if path.is_file()}
    assert assets.build(static, target) == 0
    assert {path: path.stat().st_mtime_ns for path in target.rglob("*") if path.is_file()} == \
        files  # nothing rewritten, nothing added
    noise = target / assets.hashed_name("noise.bin", assets.digests(static)["noise.bin"])
    assert noise.is_file() and not noise.with_name(noise.name + ".br").exists()
    assert not noise.with_name(noise.name + ".gz").exists()
    assert not list(target.rglob(".editor-swap*"))
    css = target / assets.hashed_name("chat.css", assets.digests(static)["chat.css"])
    assert brotli.decompress(css.with_name(css.name + ".br").read_bytes()) == source("chat.css")
    assert gzip.decompress(css.with_name(css.name + ".gz").read_bytes()) == source("chat.css")


# --- conditional requests ---------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["br", "gzip", "identity"])
@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "unversioned"])
def test_a_revalidation_gets_304_in_every_encoding(client, encoding, versioned):
    for name, url in linked(client).items():
        url = url if versioned else f"/static/{name}"
        first = get(client, url, encoding)
        etag = first.headers["ETag"]
        again = get(client, url, encoding, **{"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b"", url
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
        assert again.headers["Vary"] == "Accept-Encoding"
        assert get(client, url, encoding, **{"If-None-Match": '"000000000000"'}).status_code \
            == 200, url


def test_the_content_hash_is_the_one_validator(client):
    # An mtime differs between instances and deploys, and a browser revalidates with the ETag
    # when it has one: a Last-Modified would only add bytes to every file.
    for name, url in linked(client).items():
        for path in (url, f"/static/{name}", "/static/embed.js"):
            headers = get(client, path).headers
            assert "Last-Modified" not in headers and headers["ETag"], path


def test_etags_are_the_content_hash_the_same_on_every_instance(client):
    for name, url in linked(client).items():
        etag = get(client, url).headers["ETag"]
        assert etag == f'"{HASHED.fullmatch(url)["digest"]}"'
        assert get(client, f"/static/{name}", "identity").headers["ETag"] == etag


# --- security headers -------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["br", "identity"])
def test_static_files_carry_the_security_headers(client, encoding):
    urls = list(linked(client).values()) + ["/static/embed.js", "/static/widget.js"]
    for url in urls:
        headers = get(client, url, encoding).headers
        assert headers["X-Content-Type-Options"] == "nosniff", url
        # nosniff trusts the type: each must be the right one.
        assert headers["Content-Type"].split(";")[0] == TYPES[os.path.splitext(url)[1]], url
        assert headers["Referrer-Policy"] == "same-origin", url
        assert "Access-Control-Allow-Origin" not in headers, url  # as before: none needed
        # A policy governs documents (and workers, which no page of ours may start): an SVG
        # opened on its own is one and keeps it; a stylesheet or a script never is.
        document = url.endswith(".svg")
        assert headers.get("Content-Security-Policy") == (
            STATIC_FILE_POLICY if document else None), url


def test_a_static_file_opened_as_a_page_is_more_confined_than_a_page():
    # Nothing of ours is a page under static/: whatever is opened there as one may load
    # nothing, run nothing (not even this site's scripts), and is a site of its own.
    directives = dict((directive + " ").split(" ", 1) for directive in
                      STATIC_FILE_POLICY.split("; "))
    assert directives["default-src"].strip() == "'none'"
    assert directives["sandbox"].strip() == ""  # no allow-scripts, no allow-same-origin
    assert directives["frame-ancestors"].strip() == "'self'"  # framed here only, as a page


# Files a browser may open as a page (scripted SVG, HTML, XML), or show as one (text, JSON,
# an image, a font, a type it does not know): every one keeps the policy, whatever its name.
MAY_BE_DOCUMENTS = {
    "icon.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "page.html": b"<!doctype html><script>alert(1)</script>",
    "page.htm": b"<script>alert(1)</script>",
    "feed.xml": b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">'
                b"alert(1)</x:script>",
    "page.xhtml": b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
    "data.json": b'{"a": "<script>alert(1)</script>"}',
    "notes.txt": b"<script>alert(1)</script>",
    "picture.png": b"\x89PNG\r\n\x1a\n<script>alert(1)</script>",
    "font.woff2": b"wOF2<script>alert(1)</script>",
    "unknown.qqq": b"<script>alert(1)</script>",
    "no-suffix": b"<script>alert(1)</script>",
    "style.css.html": b"<script>alert(1)</script>",
    "script.js.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
}
NEVER_DOCUMENTS = {"style.css": b"a{color:red}\n", "script.js": b"void 0;\n",
                   "module.mjs": b"void 0;\n"}


@pytest.fixture
def hostile_static(app_factory, monkeypatch, tmp_path):
    """The app serving a static/ of files that could be opened as pages, built."""
    static, target = tmp_path / "static", tmp_path / "build"
    static.mkdir()
    for name, content in {**MAY_BE_DOCUMENTS, **NEVER_DOCUMENTS}.items():
        (static / name).write_bytes(content * 40)  # long enough to be compressed
    assets.build(static, target)
    monkeypatch.setattr(assets, "SOURCE", static)
    monkeypatch.setattr(assets, "BUILT", target)
    return app_factory().test_client()


@pytest.mark.parametrize("encoding", ["br", "gzip", "identity"])
def test_whatever_could_render_as_a_document_keeps_the_policy(hostile_static, encoding):
    policy = STATIC_FILE_POLICY
    digests = assets.digests(assets.SOURCE)
    for name in MAY_BE_DOCUMENTS:
        for url in (f"/static/{name}", "/static/" + assets.hashed_name(name, digests[name])):
            response = get(hostile_static, url, encoding)
            assert response.status_code == 200, url
            assert response.headers["Content-Security-Policy"] == policy, url
            assert response.headers["X-Content-Type-Options"] == "nosniff", url
            # Revalidated, it is still under the policy.
            again = get(hostile_static, url, encoding,
                        **{"If-None-Match": response.headers["ETag"]})
            assert again.status_code == 304, url
            assert again.headers["Content-Security-Policy"] == policy, url
    for name in NEVER_DOCUMENTS:
        response = get(hostile_static, f"/static/{name}", encoding)
        assert response.status_code == 200, name
        assert "Content-Security-Policy" not in response.headers, name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Content-Type"].split(";")[0] in ("text/css",
                                                                  "text/javascript"), name
    # Errors keep a policy whatever the name: a 404 (Flask's page) for a stylesheet, a 405
    # (WhiteNoise's) for a script.
    for url, method, status, wanted in (
            ("/static/missing.css", "GET", 404, content_security_policy("'self'")),
            ("/static/script.js", "POST", 405, policy)):
        response = hostile_static.open(url, method=method)
        assert response.status_code == status
        assert response.headers["Content-Security-Policy"] == wanted, url


def test_pages_start_no_workers_so_scripts_never_run_under_their_own_policy():
    # A worker runs under the policy its script is sent with, and the scripts are sent with
    # none (above): every page of ours forbids workers, the widget's too.
    for ancestors in ("'self'", "https://host.example"):
        assert "worker-src 'none'" in content_security_policy(ancestors).split("; ")


# --- without make install ---------------------------------------------------------------------

def test_without_a_build_files_are_served_uncompressed_and_still_versioned(
        app_factory, monkeypatch, tmp_path):
    monkeypatch.setattr(assets, "BUILT", tmp_path / "never-built")
    client = app_factory().test_client()
    urls = linked(client)
    assert set(urls) == UNBUILT
    for name, url in urls.items():
        response = get(client, url)
        assert response.status_code == 200 and response.data == original(name), name
        assert "Content-Encoding" not in response.headers and "Vary" not in response.headers
        assert response.headers["Cache-Control"] == VERSIONED
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        again = get(client, url, **{"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304
    assert get(client, "/static/embed.js").data == original("embed.js")


def test_a_file_changed_since_the_build_is_served_as_it_is_now(app_factory, monkeypatch,
                                                              tmp_path):
    static, target = tmp_path / "static", tmp_path / "build"
    shutil.copytree(assets.SOURCE, static)
    assets.build(static, target)
    edited = source("chat.css") + b"\n.edited { color: red }\n"
    (static / "chat.css").write_bytes(edited)
    monkeypatch.setattr(assets, "SOURCE", static)
    monkeypatch.setattr(assets, "BUILT", target)
    client = app_factory().test_client()
    urls = linked(client)
    assert HASHED.fullmatch(urls["chat.css"])["digest"] == \
        hashlib.sha256(edited).hexdigest()[:12]
    css = get(client, urls["chat.css"])
    assert css.data == edited and "Content-Encoding" not in css.headers  # not the old build
    assert get(client, "/static/chat.css").data == edited
    assert get(client, urls["page.js"]).headers["Content-Encoding"] == "br"  # still built
    # Its script changed, a page links htmx and chat.js each on its own, until the next build.
    (static / "chat.js").write_bytes(original("chat.js") + b"\n// edited\n")
    client = app_factory().test_client()
    assert set(linked(client)) == UNBUILT
    assert get(client, linked(client)["chat.js"]).data.endswith(b"// edited\n")


# --- over real HTTP ---------------------------------------------------------------------------

def fetch(server, path, **headers):
    """GET ``path`` over a real socket; the status, headers and body exactly as sent."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("encoding", ["br", "gzip", "identity"])
def test_over_http_each_encoding_is_sent_and_revalidated(live_server, monkeypatch, built,
                                                         encoding):
    monkeypatch.setattr(assets, "BUILT", built)
    server = live_server()
    versioned = linked(server.app.test_client())["chat.css"]
    for path, name in ((versioned, "chat.css"), ("/static/embed.js", "embed.js")):
        status, headers, body = fetch(server, path, **{"Accept-Encoding": encoding})
        assert status == 200 and headers.get("Content-Encoding", "identity") == encoding
        assert DECODE[encoding](body) == source(name)
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Vary"] == "Accept-Encoding" and headers["Date"]
        assert "Last-Modified" not in headers  # the ETag is the validator
        status, again, body = fetch(server, path, **{"Accept-Encoding": encoding,
                                                     "If-None-Match": headers["ETag"]})
        assert status == 304 and body == b"", path
        assert again["ETag"] == headers["ETag"]
        assert again["Cache-Control"] == headers["Cache-Control"]


def test_behind_a_trusted_proxy_static_files_are_linked_and_served_under_its_prefix(
        live_server, monkeypatch, built):
    monkeypatch.setattr(assets, "BUILT", built)
    server = live_server(TRUSTED_PROXIES=1)
    _, _, page = fetch(server, "/", **{"X-Forwarded-Prefix": "/history"})
    urls = re.findall(r'(?:href|src)="(/history/static/[^"]+)"', page.decode())
    assert len(urls) == len(LINKED)
    for url in urls:
        # The proxy takes its prefix off before forwarding, as it does for pages.
        path = url.removeprefix("/history")
        status, headers, body = fetch(server, path, **{"X-Forwarded-Prefix": "/history",
                                                      "Accept-Encoding": "br"})
        name = "{stem}{suffix}".format(**HASHED.fullmatch(path).groupdict())
        assert status == 200 and brotli.decompress(body) == source(name), url
        assert headers["Cache-Control"] == VERSIONED


def test_over_http_without_a_build_files_are_served_uncompressed(live_server, monkeypatch,
                                                                 tmp_path):
    monkeypatch.setattr(assets, "BUILT", tmp_path / "never-built")
    server = live_server()
    for name, url in linked(server.app.test_client()).items():
        status, headers, body = fetch(server, url, **{"Accept-Encoding": "br, gzip"})
        assert status == 200 and body == original(name), name
        assert "Content-Encoding" not in headers and headers["Cache-Control"] == VERSIONED
        status, _, _ = fetch(server, url, **{"If-None-Match": headers["ETag"]})
        assert status == 304, name


@pytest.mark.parametrize(("accepted", "sent"), [
    ("br;q=0, gzip;q=0", "identity"),
    ("br;q=0, gzip", "gzip"),
    ("BR;Q=0, GZIP;Q=0.5", "gzip"),
    ("br; q=0, gzip; q=0", "identity"),
    ("br;q=0, *", "gzip"),
    ("*;q=0, identity", "identity"),
    ("Br", "br"),
])
def test_a_static_file_is_never_sent_in_an_encoding_the_client_refused(client, accepted, sent):
    # WhiteNoise takes any mention of an encoding, ";q=0" (refused) included, for a yes.
    for name, url in linked(client).items():
        for path in (url, f"/static/{name}"):
            response = get(client, path, accepted)
            assert response.headers.get("Content-Encoding", "identity") == sent, (path, accepted)
            assert DECODE[sent](response.data) == source(name), path


def test_vary_names_each_header_once_and_never_takes_one_for_another():
    from flask import Response

    from viewer.vary import add_vary

    response = Response()
    for header in ("Accept-Encoding", "accept-encoding", "Accept", "Accept-Language", "Accept"):
        add_vary(response, header)
    assert response.headers["Vary"] == "Accept-Encoding, Accept, Accept-Language"


def test_heads_ranges_and_refusals_of_a_possible_document_keep_the_policy(hostile_static):
    # A HEAD, a range, an unsatisfiable range and a method refused: each an answer WhiteNoise
    # makes on its own, each under the policy (and no Last-Modified beside the ETag).
    for name in ("icon.svg", "page.html", "unknown.qqq"):
        url = f"/static/{name}"
        for method, headers, status in (("HEAD", {}, 200), ("GET", {"Range": "bytes=0-3"}, 206),
                                        ("GET", {"Range": "bytes=999999-"}, 416),
                                        ("OPTIONS", {}, 405), ("DELETE", {}, 405)):
            response = hostile_static.open(url, method=method, headers=headers)
            assert response.status_code == status, (url, method)
            assert response.headers["Content-Security-Policy"] == STATIC_FILE_POLICY, url
            assert response.headers["X-Content-Type-Options"] == "nosniff", url
            assert response.headers["Referrer-Policy"] == "same-origin", url
            assert "Last-Modified" not in response.headers, (url, method)
            assert method != "HEAD" or response.data == b"", url
