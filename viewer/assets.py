"""Static files: cached for a year under content-hashed URLs, compressed once at top quality.

Static files never change for a given URL, so each is compressed once, at the best ratio, and
kept in memory (pages are compressed per response: viewer/compression.py).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from functools import lru_cache

import brotli
from flask import Flask, request, Response, url_for

LONG_CACHE = "public, max-age=31536000, immutable"
COMPRESSIBLE = frozenset({"text/html", "text/css", "text/javascript", "application/javascript",
                          "application/json", "image/svg+xml"})
ENCODERS = {  # best ratio first: the client's Accept-Encoding picks among these
    "br": lambda data: brotli.compress(data, quality=11),
    "gzip": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
}


def register(app: Flask) -> None:
    """Version static URLs, cache and precompress static files."""
    versions: dict[str, str] = {}
    encoded: dict[tuple[str, str, str], bytes] = {}
    lock = threading.Lock()

    def version_of(filename: str) -> str:
        if filename not in versions:
            path = os.path.join(app.static_folder or "", filename)
            try:
                with open(path, "rb") as file:
                    versions[filename] = hashlib.sha256(file.read()).hexdigest()[:12]
            except OSError:
                return ""  # a missing file gets no version; Flask answers 404 for it
        return versions[filename]

    @app.url_defaults
    def add_static_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = version_of(values["filename"])
            if version:
                values["v"] = version

    # A page links five static files; building each URL through the router cost a tenth of
    # a small page's CPU. The URL depends only on the file and where the app is mounted.
    @lru_cache(maxsize=256)
    def versioned_url(script_root: str, filename: str) -> str:
        return url_for("static", filename=filename)

    @app.template_global()
    def static_url(filename: str) -> str:
        """``url_for("static", filename=...)`` with its content version, built once."""
        return versioned_url(request.script_root, filename)

    # Registered after Flask-Compress (viewer/compression.py), so it runs first; a
    # Content-Encoding set here makes Flask-Compress leave the response alone.
    @app.after_request
    def prepare_static(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code != 200:
            return response
        if request.args.get("v"):
            response.headers["Cache-Control"] = LONG_CACHE
        response.direct_passthrough = False  # send_file streams; read the (small) file
        if response.mimetype not in COMPRESSIBLE:
            return response
        accepted = request.accept_encodings
        encoding = next((name for name in ENCODERS if accepted[name]), None)
        response.vary.add("Accept-Encoding")
        if encoding is None:
            return response
        key = (request.path, response.get_etag()[0] or "", encoding)
        with lock:
            if key not in encoded:
                encoded[key] = ENCODERS[encoding](response.get_data())
        response.set_data(encoded[key])
        response.headers["Content-Encoding"] = encoding
        etag, weak = response.get_etag()
        if etag:
            response.set_etag(f"{etag}:{encoding}", weak=weak)
        return response
