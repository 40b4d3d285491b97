"""Pages compressed per response (Flask-Compress): zstd, brotli or gzip at fast levels.

Pages are dynamic, and a 1000-message page is 800 KB, so each is compressed as it is sent, at a
level that costs little CPU. Static files are compressed once, at the best ratio (viewer/assets.py).

Safari takes no zstd: its pages come in brotli, whose fast level left a 6-message page 15%
larger than level 4 (3,991 bytes against 3,453; 36 µs against 109) and its first load past
30 KB. Pages up to ``SMALL_PAGE`` get level 4 (``small_pages_at_level_4``); larger ones (a
1000-message page: 5.7 ms against 1.8 for 5% less) and streamed downloads keep level 1.
"""

from __future__ import annotations

from collections.abc import Callable

import brotli
from flask import Flask, request, Response
from flask_compress import Compress
from flask_compress.flask_compress import _choose_algorithm

from .vary import add_vary


def register(app: Flask) -> Callable[[Response], Response]:
    """Compress pages and fragments (HTML), JSON answers and the text downloads (viewer/export.py)
    for clients that accept it; return the hook that does it, for pages kept compressed
    (viewer/page_cache.py)."""
    app.config.setdefault("COMPRESS_MIMETYPES", ["application/json", "text/html",
                                                 "text/markdown", "text/plain"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    # zstd first, for the browsers that take it (Chrome, Edge, Firefox over HTTPS), at its
    # default level: a 6-message page 9% smaller than brotli at the level a page can afford,
    # within 3 µs of it, and a 1000-message page smaller and 10% sooner. Then brotli (Safari).
    app.config.setdefault("COMPRESS_ALGORITHM", ["zstd", "br", "gzip", "deflate"])
    app.config.setdefault("COMPRESS_ZSTD_LEVEL", 3)
    # Downloads are streamed (viewer/export.py): compressed as they go, in the same choices.
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip", "zstd", "deflate"])
    app.config.setdefault("COMPRESS_BR_LEVEL", 1)  # 800 KB in ~2 ms, ~5% larger than level 4
    app.config.setdefault("COMPRESS_LEVEL", 1)     # gzip, for clients without brotli
    # Pages are no-store and carry no ETag: a conditional check per response would find none.
    app.config.setdefault("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", False)
    compress = Compress(app)
    known = {*app.config["COMPRESS_ALGORITHM"], *app.config["COMPRESS_ALGORITHM_STREAMING"]}
    hook = vary_only_when_done(honouring_refusals(
        small_pages_at_level_4(compress), known))
    hooks = app.after_request_funcs[None]
    hooks[hooks.index(compress.after_request)] = hook
    return hook


def accepted_encodings(header: str, known: set[str] | frozenset[str]) -> str:
    """Return ``header`` (an Accept-Encoding) so that Flask-Compress and WhiteNoise read it
    right: each of ``known`` the client takes, with its quality, and ``identity`` when named.

    Flask-Compress sends an encoding refused with ``q=0`` when nothing else is named
    (``zstd;q=0``: zstd), and any for ``*`` even one refused by name (``zstd;q=0, *``: zstd);
    WhiteNoise any encoding the header names (``br;q=0``: br).
    """
    qualities: dict[str, float] = {}
    for item in header.split(","):
        name, _, parameters = item.partition(";")
        quality = 1.0
        key, _, value = parameters.partition("=")
        if key.strip().lower() == "q":
            try:
                quality = min(max(float(value), 0.0), 1.0)
            except ValueError:
                quality = 0.0  # unreadable: not taken
        qualities.setdefault(name.strip().lower(), quality)
    anything = qualities.get("*", 0.0)
    taken = {name: qualities.get(name, anything) for name in sorted(known)}
    if "identity" in qualities:
        taken["identity"] = qualities["identity"]
    return ", ".join(f"{name};q={quality:g}" for name, quality in taken.items() if quality > 0)


def honouring_refusals(after_request, known: set[str]):
    """Flask-Compress's hook, choosing among the encodings the client takes, no other."""
    def compress(response: Response) -> Response:
        environ = request.environ
        sent = environ.get("HTTP_ACCEPT_ENCODING")
        if sent is None:
            return after_request(response)
        environ["HTTP_ACCEPT_ENCODING"] = accepted_encodings(sent, known)
        try:
            return after_request(response)
        finally:
            environ["HTTP_ACCEPT_ENCODING"] = sent
    return compress


SMALL_PAGE = 64 * 1024  # bytes of HTML or JSON: brotli at level 4 up to this
SMALL_PAGE_BR_LEVEL = 4


def small_pages_at_level_4(compress: Compress):
    """Flask-Compress's hook, but for a small answer it would send in brotli (Safari's): that
    one is compressed here, at ``SMALL_PAGE_BR_LEVEL`` (module docstring). The encoding is
    chosen by Flask-Compress's own rule (``_choose_algorithm``, private in the pinned 1.25;
    tests/test_presentation.py holds pages' encodings to each case): a copy of it here missed
    that ``identity`` with a higher quality than ``br`` means no compression."""
    after_request, smallest = compress.after_request, compress.app.config["COMPRESS_MIN_SIZE"]

    def compressed(response: Response) -> Response:
        length = response.content_length
        if (length is not None and smallest <= length <= SMALL_PAGE
                and not response.is_streamed and 200 <= response.status_code < 300
                and response.mimetype in compress.compress_mimetypes_set
                and "Content-Encoding" not in response.headers
                and _choose_algorithm(compress.enabled_algorithms,
                                      request.headers.get("Accept-Encoding", "")) == "br"):
            response.set_data(brotli.compress(response.get_data(), quality=SMALL_PAGE_BR_LEVEL))
            response.headers["Content-Encoding"] = "br"  # Flask-Compress then adds Vary alone
        return after_request(response)
    return compressed


def vary_only_when_done(after_request):
    """Flask-Compress's hook, which for a 204 (a live check with nothing new: most requests)
    and for a response already encoded (a page kept as sent, viewer/page_cache.py) only adds
    ``Vary: Accept-Encoding``, after choosing an encoding it will not use: here it only adds
    the header, as it does (none to a 204: ``add_vary``)."""
    def compress(response: Response) -> Response:
        if response.status_code != 204 and "Content-Encoding" not in response.headers:
            return after_request(response)
        add_vary(response, "Accept-Encoding")
        return response
    return compress
