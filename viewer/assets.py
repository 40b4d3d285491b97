"""Static files: WhiteNoise serves them under content-hashed names, compressed once at install.

``make install`` runs ``python -m viewer.assets``: each file under static/ (htmx included) is
copied to build/static/ under a name carrying a hash of its content (``chat.css`` becomes
``chat.0123456789ab.css``), beside the brotli and gzip variants WhiteNoise's compressor makes.
Our own scripts and stylesheets are minified on the way (``minified``): their comments say why
for whoever reads static/, and need not travel to every reader. build/ is not committed.

When the app starts it hashes static/ again, and WhiteNoise serves each file at two URLs:

- the hashed one, which pages link (``static_url('chat.css')``): cached for a year, immutable.
  The version is in the path because WhiteNoise chooses headers per path, once, at start: it
  never sees a query string.
- the file's own name, for host pages that load ``/static/embed.js`` with no version: cached
  for a minute, then revalidated.

Both come from the built copy, with its variants, when there is one; without ``make install``
they come from static/, uncompressed. The copy is looked up by the hash of the source as it is
now, so an old build is never served for a changed file. Files are read when the app starts:
restart it after editing one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import rcssmin
import rjsmin
from flask import Flask, request
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

from .compression import accepted_encodings
from .security import static_file_headers

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "static"
BUILT = ROOT / "build" / "static"
PREFIX = "/static/"
UNVERSIONED_MAX_AGE = 60  # seconds: a host page picks up a new embed.js within a minute
# Terser (pinned in package.json, installed by `npm ci` before the build) also shortens local
# names: chat.js comes to a fifth less after brotli than with rjsmin, which only removes
# comments and spaces, and is the fallback. The first load has a 30 KB budget (README).
TERSER = ROOT / "node_modules" / "terser" / "bin" / "terser"
# The scripts every page runs, in this order, sent as one file once built: on a first load a
# response fewer (its headers, ~350 bytes) and one compression window over both (~270 bytes
# less than each alone), 3% of the 30 KB budget. The price: a release that changes chat.js
# sends htmx again to returning readers.
PAGE_SCRIPTS = "page.js"
BUNDLES = {PAGE_SCRIPTS: ("vendor/htmx.min.js", "chat.js")}


class StaticFiles(WhiteNoise):
    """WhiteNoise, keeping versioned files a year (its default is ten, as nginx's ``max``),
    sending the security headers with every answer it makes (its 304 and 405 have none of
    the headers ``add_headers_function`` gives files, and never reach Flask's hooks), and no
    ``Last-Modified``."""

    FOREVER = 365 * 24 * 60 * 60
    ENCODINGS = frozenset({"br", "gzip"})  # the variants Compressor makes

    def serve(self, static_file, environ, start_response):
        def start(status: str, headers: list, exc_info=None):
            # The ETag (the content's hash) is the one validator: a browser sends If-None-Match
            # when it has one, and an mtime differs between instances and deploys. Without
            # this, WhiteNoise adds the file's mtime to every answer, ~50 bytes each.
            headers = [(name, value) for name, value in headers
                       if name.lower() != "last-modified"]
            present = {name.lower(): value for name, value in headers}
            headers.extend((name, value) for name, value
                           in static_file_headers(present.get("content-type")).items()
                           if name.lower() not in present)
            if not status.startswith(("2", "304")) and "cache-control" not in present:
                headers.append(("Cache-Control", "no-store"))  # as every error page
            return start_response(status, headers, exc_info)
        # WhiteNoise takes any mention of an encoding for a yes, a refusal (";q=0") included.
        if "HTTP_ACCEPT_ENCODING" in environ:
            environ = {**environ, "HTTP_ACCEPT_ENCODING": accepted_encodings(
                environ["HTTP_ACCEPT_ENCODING"], self.ENCODINGS)}
        return super().serve(static_file, environ, start)


def digests(source: Path) -> dict[str, str]:
    """Hash the content of each file under ``source``, by its path relative to ``source``."""
    found = {}
    for path in sorted(source.rglob("*")):
        name = path.relative_to(source)
        if path.is_file() and not any(part.startswith(".") for part in name.parts):
            found[name.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return found


def hashed_name(name: str, digest: str) -> str:
    """Put ``digest`` before the suffix: ``vendor/htmx.min.js`` -> ``vendor/htmx.min.<d>.js``."""
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


def minified(name: str, content: bytes) -> bytes:
    """``content`` of the static file ``name`` as it is served: scripts and stylesheets without
    comments and spaces (already minified files, such as htmx, as they are)."""
    if name.endswith((".min.js", ".min.css")):
        return content
    if name.endswith(".js"):
        return _terser(content) if TERSER.is_file() and shutil.which("node") else \
            rjsmin.jsmin(content)
    if name.endswith(".css"):
        return rcssmin.cssmin(content)
    return content


def _terser(content: bytes) -> bytes:
    # A second pass finds what the first one's changes made possible: 52 bytes of chat.js,
    # compressed, of the first load's 30 KB budget.
    return subprocess.run(["node", str(TERSER), "--compress", "passes=2", "--mangle",
                           "--comments", "false"],
                          input=content, capture_output=True, check=True, timeout=120).stdout


def bundle_digest(members: tuple[str, ...], files: dict[str, str]) -> str | None:
    """The hash of a bundle of ``members`` (their hashes in ``files``, from ``digests``), or
    None when one of them is missing."""
    if not all(member in files for member in members):
        return None
    return hashlib.sha256(" ".join(files[m] for m in members).encode()).hexdigest()[:12]


def bundled(members: tuple[str, ...], source: Path = SOURCE) -> bytes:
    """One script of ``members``, each minified, in order."""
    return b";\n".join(minified(member, (source / member).read_bytes()).rstrip()
                       for member in members) + b"\n"


def build(source: Path = SOURCE, target: Path = BUILT) -> int:
    """Copy each file under ``source`` to ``target`` under its hashed name, beside its brotli and
    gzip variants (kept when at least 5% smaller), and write each bundle there the same way.
    Return how many files were new.

    A hashed name already in ``target`` holds this very content, compressed: each copy is moved
    into place only after its variants, so it is kept as it is.
    """
    compressor = Compressor(quiet=True)
    files = digests(source)
    made = [(hashed_name(name, digest), [name]) for name, digest in files.items()]
    made += [(hashed_name(bundle, digest), list(members)) for bundle, members in BUNDLES.items()
             if (digest := bundle_digest(members, files))]
    new = 0
    for name, members in made:
        final = target / name
        if final.is_file():
            continue
        final.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=final.parent) as scratch:
            copy = Path(scratch, final.name)
            if len(members) == 1:
                copy.write_bytes(minified(members[0], (source / members[0]).read_bytes()))
                shutil.copystat(source / members[0], copy)
            else:
                copy.write_bytes(bundled(tuple(members), source))
            if compressor.should_compress(copy.name):
                for variant in compressor.compress(str(copy)):
                    os.replace(variant, final.parent / Path(variant).name)
            os.replace(copy, final)
        new += 1
    return new


def register(app: Flask) -> None:
    """Put WhiteNoise in front of the app and add the ``static_url`` and ``page_scripts``
    template globals."""
    files = digests(SOURCE)
    # Each file served, by name: its hash and where it is read from. A bundle is served once
    # built: without a build (or after a member changed) the page links its members one by one.
    served = {}
    for name, digest in files.items():
        built = BUILT / hashed_name(name, digest)
        served[name] = digest, built if built.is_file() else SOURCE / name
    for bundle, members in BUNDLES.items():
        digest = bundle_digest(members, files)
        if digest and (built := BUILT / hashed_name(bundle, digest)).is_file():
            served[bundle] = digest, built
    versioned = {PREFIX + hashed_name(name, digest): digest for name, (digest, _) in served.items()}
    etags = {**versioned, **{PREFIX + name: digest for name, (digest, _) in served.items()}}

    def add_headers(headers, path: str, url: str) -> None:
        # Flask's hooks never see these answers.
        for header, value in static_file_headers(headers["Content-Type"]).items():
            headers[header] = value
        # The content's hash, not WhiteNoise's mtime and size: the same on every instance and
        # every deploy, so a revalidation anywhere gets its 304.
        headers["ETag"] = f'"{etags[url]}"'

    static = StaticFiles(app.wsgi_app, max_age=UNVERSIONED_MAX_AGE, allow_all_origins=False,
                         add_headers_function=add_headers,
                         immutable_file_test=lambda path, url: url in versioned)
    for name, (digest, path) in served.items():
        # WhiteNoise's own Django middleware adds files one by one like this; add_files() can
        # only serve a folder's files under their own names.
        static.add_file_to_dictionary(PREFIX + hashed_name(name, digest), str(path))
        static.add_file_to_dictionary(PREFIX + name, str(path))
    app.wsgi_app = static

    # A page links five static files, and building their URLs through the router cost a tenth
    # of a small page's CPU: each is a string made once, behind the mount point.
    urls = {name: quote(PREFIX + hashed_name(name, digest))
            for name, (digest, _) in served.items()}
    scripts = tuple(urls.get(name) or quote(PREFIX + name) for name in
                    ((PAGE_SCRIPTS,) if PAGE_SCRIPTS in served else BUNDLES[PAGE_SCRIPTS]))

    @app.template_global()
    def static_url(filename: str) -> str:
        """Return the URL of ``static/<filename>``, content-hashed when the file exists."""
        return request.script_root + (urls.get(filename) or quote(PREFIX + filename))

    @app.template_global()
    def page_scripts() -> list[str]:
        """Return the URLs of the scripts every page runs, in order: one bundle once built."""
        return [request.script_root + url for url in scripts]


if __name__ == "__main__":
    added = build()
    print(f"{BUILT.relative_to(ROOT)}: {added or 'no'} new files, with brotli and gzip variants")
