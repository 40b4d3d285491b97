"""The Bytes section: what a first page load and one load-more transfer.

Fetches the page as a browser would, then every asset it references and its load-more URL,
counting the bytes as sent (compressed) and decoding the bodies to read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

from benchmarks.config import BROWSER_ENCODINGS, PAGE_SIZE
from benchmarks.measure import page_url
from benchmarks.report import kib, met, Report
from benchmarks.servers import Gunicorn

FIRST_LOAD_BUDGET = 30 * 1000  # bytes, headers included: the README's 30 KB, decimal


def section_bytes(report: Report, session: requests.Session, app: Gunicorn) -> None:
    report.section("Bytes", f"A first page load as a browser makes it (`Accept-Encoding: "
                   f"{BROWSER_ENCODINGS}`): the page, then every stylesheet, script and icon it "
                   "references, then one load-more (`GET /chat/older` from the page's "
                   "`data-hx-get`, with `HX-Request: true`). Body bytes as sent; headers "
                   "counted approximately.")
    page = fetch(session, page_url(app.url))
    links = AssetLinks()
    links.feed(page.decoded.decode("utf-8", "replace"))
    transfers = [page] + [fetch(session, urljoin(page.url, asset)) for asset in links.assets]
    rows = [(urlsplit(t.url).path, t.status, t.encoding, f"{len(t.decoded):,}",
             f"{t.body_bytes:,}", f"{t.wire_bytes:,}") for t in transfers]
    first_load = sum(t.wire_bytes for t in transfers)
    first_ok = first_load <= FIRST_LOAD_BUDGET and all(t.status == 200 for t in transfers)
    if not links.load_more:
        raise RuntimeError("the first page has no load-more control (data-hx-get)")
    older = fetch(session, urljoin(page.url, links.load_more), {"HX-Request": "true"})
    new_messages = older.decoded.count(b"data-role=")
    on_page = page.decoded.count(b"data-role=")
    rows.append(("/chat/older (load-more, HX-Request)", older.status, older.encoding,
                 f"{len(older.decoded):,}", f"{older.body_bytes:,}", f"{older.wire_bytes:,}"))
    report.table(("request", "status", "encoding", "decoded bytes", "body bytes sent",
                  "with headers"), rows)
    only_new = older.status == 200 and new_messages == PAGE_SIZE and on_page == PAGE_SIZE
    report.table(("measure", "value", "target", "met"), [
        ("first page load, all requests", f"{first_load:,} B ({kib(first_load)})",
         "≤ 30 KB (30,000 B, README)", met(first_ok)),
        ("one load-more response", f"{older.wire_bytes:,} B ({kib(older.wire_bytes)})", "—",
         "—"),
        ("messages (`data-role=`) on the first page / in the load-more", f"{on_page} / "
         f"{new_messages}", f"{PAGE_SIZE} / {PAGE_SIZE} (only the new ones)", met(only_new)),
    ])
    report.target("first page load transferred", "≤ 30 KB (30,000 B)", f"{first_load:,} B",
                  first_ok)
    report.target("load-more carries only the new messages", f"{PAGE_SIZE} `data-role=`",
                  str(new_messages), only_new)


class AssetLinks(HTMLParser):
    """Collects what a browser would fetch for a page, and the load-more URL."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.load_more: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("href") and set((values.get("rel") or "").split()) \
                & {"stylesheet", "icon", "preload", "modulepreload"}:
            self.assets.append(values["href"])
        elif tag in ("script", "img") and values.get("src"):
            self.assets.append(values["src"])
        if values.get("id") == "load-more" and values.get("data-hx-get"):
            self.load_more = values["data-hx-get"]


@dataclass
class Transfer:
    url: str
    status: int
    encoding: str
    body_bytes: int       # as sent (compressed)
    header_bytes: int     # status line and headers, as sent (approximately)
    decoded: bytes

    @property
    def wire_bytes(self) -> int:
        return self.body_bytes + self.header_bytes


def fetch(session: requests.Session, url: str, headers: dict[str, str] | None = None) -> Transfer:
    response = session.get(url, stream=True, timeout=30, allow_redirects=False,
                           headers={"Accept-Encoding": BROWSER_ENCODINGS, **(headers or {})})
    raw = response.raw.read(decode_content=False)
    encoding = response.headers.get("Content-Encoding", "identity")
    header_bytes = len(f"HTTP/1.1 {response.status_code} {response.reason}\r\n") + 2 + sum(
        len(name) + len(value) + 4 for name, value in response.raw.headers.items())
    return Transfer(url, response.status_code, encoding, len(raw), header_bytes,
                    decode(raw, encoding))


def decode(raw: bytes, encoding: str) -> bytes:
    if encoding == "br":
        import brotli
        return brotli.decompress(raw)
    if encoding in ("gzip", "deflate"):
        import zlib
        return zlib.decompress(raw, 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    if encoding == "zstd":
        try:
            from compression import zstd  # Python 3.14+
        except ImportError:
            from backports import zstd
        return zstd.decompress(raw)
    return raw
