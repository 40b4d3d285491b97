"""Static files: compressed, and cached for a year under content-hashed URLs."""

from __future__ import annotations

import hashlib
import os

from flask import Flask, Response, request
from flask_compress import Compress

LONG_CACHE = "public, max-age=31536000, immutable"


def register(app: Flask) -> None:
    """Add ``?v=<content hash>`` to static URLs, cache those for a year, compress responses."""
    app.config.setdefault("COMPRESS_MIMETYPES", [
        "text/html", "text/css", "text/javascript", "application/javascript",
        "application/json", "image/svg+xml"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    Compress(app)
    versions: dict[str, str] = {}

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

    @app.after_request
    def cache_versioned_static(response: Response) -> Response:
        if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
            response.headers["Cache-Control"] = LONG_CACHE
        return response
