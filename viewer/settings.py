"""Settings read from the environment, checked once at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import click
from limits import parse_many

from memos_api import parse_timezone
from memos_api.keys import check_api_key

DEFAULTS: dict[str, Any] = {
    "MEMOS_API_KEY": "",
    "MEMOS_BASE_URL": "",
    "MEMOS_IS_GLOBAL": False,
    "MEMOS_TIMEOUT": 10.0,        # seconds to wait for MemOS to answer
    "MEMOS_DEADLINE": None,       # seconds one page may spend on MemOS; None: 2 x timeout + 3
    "MEMOS_POOL_SIZE": 16,        # kept-alive connections to MemOS; match the server's threads
    "MEMOS_MAX_IN_FLIGHT": 16,    # MemOS calls at once per process (gunicorn: threads / 3)
    "MAX_DOWNLOADS_IN_FLIGHT": 8,  # downloads sent at once per process (gunicorn: threads / 12)
    "MEMOS_TIMEZONE": "+08:00",   # zone of MemOS timestamps that carry none (Beijing time)
    "MEMOS_MAX_LIMIT": None,      # largest limit ever sent; None: 50 upstream, 1000 embedded
    "MEMOS_LOCAL_DB": "",         # embedded store file; "" means <instance>/memos-local.sqlite3
    "REVOKED_LINKS_DB": "",       # revoked links here; "" means <instance>/revoked-links.sqlite3
    "CHAT_PAGE_SIZE": 20,         # messages on first load and per "load earlier" (MemOS: 6)
    "DISPLAY_TIMEZONE": "",       # zone times are shown in; "" means MEMOS_TIMEZONE
    "VIEWER_ACCESS": "",          # open or signed; "" decides from EMBED_SECRET and the source
    "EMBED_SECRET": "",           # set: /chat and /embed accept only signed ?token= links
    "EMBED_ALLOWED_ORIGINS": "'self'",  # who may frame /embed (CSP frame-ancestors sources)
    "EMBED_MAX_TTL": 30 * 24 * 3600,  # seconds a signed link may last at most
    "TRUSTED_PROXIES": 0,         # reverse proxies in front whose X-Forwarded-* to trust
    "READYZ_CACHE_SECONDS": 5.0,  # how long /readyz reuses its last upstream check
    "LOG_LEVEL": "INFO",
    "RENDERED_MESSAGE_CACHE": 2048,  # messages whose HTML is kept per process (0: none)
    "RENDERED_MESSAGE_CACHE_BYTES": 32 * 1024 * 1024,  # ... and the memory they may take
    "RENDERED_PAGE_CACHE_BYTES": 4 * 1024 * 1024,  # pages kept as sent, per process (0: none)
    "LIVE_POLL_SECONDS": 15,      # how often pages check for new messages; 0 turns it off
    "RATE_LIMIT": "120/minute",   # conversation requests per client address; 0 turns it off
    "RATE_LIMIT_STORAGE_URI": "",  # where counts live; "": SHARED_STORE_URL, else memory://
    "SHARED_STORE_URL": "",       # Redis that instances share; "": each process on its own
    "MEMOS_BREAKER_FAILURES": 5,  # MemOS failures in a row that open the breaker; 0: off
    "MEMOS_BREAKER_WINDOW": 10.0,  # ... within this many seconds
    "MEMOS_BREAKER_COOLDOWN": 2.0,  # seconds calls fail at once before one probe; doubles
    "MEMOS_BREAKER_MAX_COOLDOWN": 60.0,  # ... while MemOS stays down, up to this
    "MEMORIES": "on",             # open mode: the memory panel (signed mode: as tokens grant)
    "MEMORY_MAX_PAGES": 4,        # /get/memory pages of 50 one panel reads, at most
}
_ORIGIN = re.compile(r"https?://(?:(?P<wildcard>\*\.)?(?P<host>[A-Za-z0-9.-]+)|\[[0-9a-fA-F:]+\])"
                     r"(?::\d{1,5})?")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_IPV4 = re.compile(r"[0-9.]+")
ACCESS_MODES = ("open", "signed")
STORAGE_SCHEMES = ("memory", "redis", "rediss", "redis+unix")
SHARED_STORE_SCHEMES = ("redis", "rediss", "redis+unix")
MIN_SECRET_BYTES = 32
MIN_LIVE_POLL_SECONDS = 2  # every page of every reader checks this often: MemOS pays for it
MAX_MEMORY_PAGES = 20  # each page is a MemOS call every time someone opens the panel
CLOUD_MAX_LIMIT = 50
EMBEDDED_MAX_LIMIT = 1000


class ConfigError(ValueError, click.ClickException):
    """A setting is unusable; the message names it and says what is expected.

    Also a ClickException, so ``flask --app app ...`` prints it as one line and exits 1.
    """

    def __init__(self, message: str) -> None:
        click.ClickException.__init__(self, message)


def settings_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The settings given in the environment, as raw strings, for ``app.config``."""
    return {name: environ[name] for name in DEFAULTS if environ.get(name, "") != ""}


def check_settings(config: dict[str, Any]) -> None:
    """Normalise settings in ``config`` in place, raising ConfigError for unusable ones."""
    try:  # before anything can fail with the key in a message (requests quotes bad headers)
        config["MEMOS_API_KEY"] = check_api_key(config["MEMOS_API_KEY"], "MEMOS_API_KEY") or ""
    except ValueError as error:
        raise ConfigError(str(error)) from None
    base_url = str(config["MEMOS_BASE_URL"] or "").strip()
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"MEMOS_BASE_URL must be an http:// or https:// URL, got {base_url!r}.")
    config["MEMOS_BASE_URL"] = base_url
    config["MEMOS_IS_GLOBAL"] = _flag(config["MEMOS_IS_GLOBAL"])
    config["MEMOS_TIMEOUT"] = _number(config, "MEMOS_TIMEOUT", float, minimum=0.1)
    if config["MEMOS_DEADLINE"] in (None, ""):
        config["MEMOS_DEADLINE"] = 2 * config["MEMOS_TIMEOUT"] + 3
    config["MEMOS_DEADLINE"] = _number(config, "MEMOS_DEADLINE", float, minimum=0.1)
    config["MEMOS_POOL_SIZE"] = _number(config, "MEMOS_POOL_SIZE", int, minimum=1)
    config["MEMOS_MAX_IN_FLIGHT"] = _number(config, "MEMOS_MAX_IN_FLIGHT", int, minimum=1)
    config["MAX_DOWNLOADS_IN_FLIGHT"] = _number(config, "MAX_DOWNLOADS_IN_FLIGHT", int,
                                                minimum=1)
    config["TRUSTED_PROXIES"] = _number(config, "TRUSTED_PROXIES", int, minimum=0)
    config["READYZ_CACHE_SECONDS"] = _number(config, "READYZ_CACHE_SECONDS", float, minimum=0)
    config["EMBED_MAX_TTL"] = _number(config, "EMBED_MAX_TTL", int, minimum=1)
    config["LIVE_POLL_SECONDS"] = _number(config, "LIVE_POLL_SECONDS", float, minimum=0)
    if 0 < config["LIVE_POLL_SECONDS"] < MIN_LIVE_POLL_SECONDS:
        raise ConfigError(f"LIVE_POLL_SECONDS must be 0 (off) or at least "
                          f"{MIN_LIVE_POLL_SECONDS} seconds, got {config['LIVE_POLL_SECONDS']}.")
    config["RENDERED_MESSAGE_CACHE"] = _number(config, "RENDERED_MESSAGE_CACHE", int, minimum=0)
    config["RENDERED_MESSAGE_CACHE_BYTES"] = _number(config, "RENDERED_MESSAGE_CACHE_BYTES", int,
                                                     minimum=0)
    config["RENDERED_PAGE_CACHE_BYTES"] = _number(config, "RENDERED_PAGE_CACHE_BYTES", int,
                                                  minimum=0)
    config["LOG_LEVEL"] = str(config["LOG_LEVEL"]).upper()
    if config["LOG_LEVEL"] not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, "
                          f"got {config['LOG_LEVEL']!r}.")
    config["CHAT_PAGE_SIZE"] = _number(config, "CHAT_PAGE_SIZE", int, minimum=1)
    config["MEMORIES"] = str(config["MEMORIES"]).strip().lower()
    if config["MEMORIES"] not in ("on", "off"):
        raise ConfigError(f"MEMORIES must be on or off, got {config['MEMORIES']!r}.")
    config["MEMORY_MAX_PAGES"] = _number(config, "MEMORY_MAX_PAGES", int, minimum=1)
    if config["MEMORY_MAX_PAGES"] > MAX_MEMORY_PAGES:
        raise ConfigError(f"MEMORY_MAX_PAGES must be at most {MAX_MEMORY_PAGES} (each page is a "
                          f"MemOS call when a reader opens the memory panel), got "
                          f"{config['MEMORY_MAX_PAGES']}.")
    upstream = bool(config["MEMOS_API_KEY"] or base_url)  # else: the embedded demo store
    if config["MEMOS_MAX_LIMIT"] in (None, ""):
        config["MEMOS_MAX_LIMIT"] = CLOUD_MAX_LIMIT if upstream else EMBEDDED_MAX_LIMIT
    config["MEMOS_MAX_LIMIT"] = _number(config, "MEMOS_MAX_LIMIT", int, minimum=1)
    if config["EMBED_SECRET"] and len(str(config["EMBED_SECRET"]).encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"EMBED_SECRET must be at least {MIN_SECRET_BYTES} bytes (HS256 keys "
                          "shorter than the hash are guessable); e.g. python -c "
                          "'import secrets; print(secrets.token_urlsafe(32))'.")
    config["VIEWER_ACCESS"] = _access_mode(config["VIEWER_ACCESS"], bool(config["EMBED_SECRET"]),
                                           upstream)
    config["EMBED_ALLOWED_ORIGINS"] = _frame_ancestors(config["EMBED_ALLOWED_ORIGINS"])
    config["RATE_LIMIT"] = _rate_limit(config["RATE_LIMIT"])
    config["SHARED_STORE_URL"] = _shared_store_url(config["SHARED_STORE_URL"])
    config["RATE_LIMIT_STORAGE_URI"] = _storage_uri(config["RATE_LIMIT_STORAGE_URI"],
                                                    config["SHARED_STORE_URL"])
    config["MEMOS_BREAKER_FAILURES"] = _number(config, "MEMOS_BREAKER_FAILURES", int, minimum=0)
    for name in ("MEMOS_BREAKER_WINDOW", "MEMOS_BREAKER_COOLDOWN"):
        config[name] = _number(config, name, float, minimum=0.1)
    config["MEMOS_BREAKER_MAX_COOLDOWN"] = _number(config, "MEMOS_BREAKER_MAX_COOLDOWN", float,
                                                   minimum=config["MEMOS_BREAKER_COOLDOWN"])
    for name in ("MEMOS_TIMEZONE", "DISPLAY_TIMEZONE"):
        value = config[name] or config["MEMOS_TIMEZONE"]
        try:
            config[name] = value if not isinstance(value, str) else parse_timezone(value)
        except ValueError as error:
            raise ConfigError(f"{name}: {error}; use UTC, an offset like +08:00, "
                              "or a zone name like Asia/Shanghai.") from None


def _access_mode(value: Any, secret: bool, upstream: bool) -> str:
    """Decide, once, whether conversations open by their ids (open) or by signed links."""
    mode = str(value or "").strip().lower()
    if mode not in ("", *ACCESS_MODES):
        raise ConfigError(f"VIEWER_ACCESS must be open or signed, got {value!r}.")
    if secret:
        if mode == "open":
            raise ConfigError("VIEWER_ACCESS=open contradicts EMBED_SECRET, which turns on "
                              "signed links: unset one of them.")
        return "signed"
    if mode == "signed":
        raise ConfigError(f"VIEWER_ACCESS=signed needs EMBED_SECRET (at least "
                          f"{MIN_SECRET_BYTES} bytes) to check the links' signatures.")
    if mode == "open" or not upstream:  # the embedded demo store holds nothing of anyone's
        return "open"
    raise ConfigError(
        f"MemOS is configured (MEMOS_API_KEY or MEMOS_BASE_URL), so choose who may read its "
        f"conversations: set EMBED_SECRET (at least {MIN_SECRET_BYTES} bytes) to open them only "
        f"through signed links, or VIEWER_ACCESS=open for a deployment behind your own "
        f"authentication (anyone who reaches the viewer can then read any conversation whose "
        f"ids they know).")


def _frame_ancestors(value: Any) -> str:
    """Check a space-separated list of origins (or 'self') that may frame the widget."""
    sources = str(value or "").split() or ["'self'"]
    for source in sources:
        problem = None if source == "'self'" else _origin_problem(source)
        if problem:
            raise ConfigError(f"EMBED_ALLOWED_ORIGINS: {source!r} {problem}.")
    return " ".join(sources)


def _origin_problem(source: str) -> str | None:
    """Why ``source`` may not frame the widget (a phrase), or None when it names one site."""
    if source == "*" or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:", source):
        return ("would let any site frame the widget: name each origin that may, like "
                "https://app.example.com")
    match = _ORIGIN.fullmatch(source)
    if not match:
        return ("is not an origin like https://app.example.com (or 'self'); separate several "
                "with spaces")
    host = match["host"]
    if host is None:  # an IPv6 literal
        return None
    if not all(_LABEL.fullmatch(label) for label in host.split(".")):
        return "has an unusable host name"
    if match["wildcard"] and (_IPV4.fullmatch(host) or not _registrable(host)):
        return ("spans more than one site: a wildcard may only stand for the subdomains of a "
                "registrable domain (https://*.example.com), not of a public suffix such as "
                "com, co.uk or github.io")
    return None


def _registrable(host: str) -> bool:
    """Whether ``host`` is a domain one owner registers, or below one (Public Suffix List)."""
    from publicsuffixlist import PublicSuffixList  # 35 ms to load: only for a wildcard

    return PublicSuffixList().is_private(host)


def _rate_limit(value: Any) -> str:
    """A Flask-Limiter limit string, or "" when ``0`` turns the limit off."""
    text = str(value).strip()
    if text == "0":
        return ""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise ConfigError(f"RATE_LIMIT must be a limit like 120/minute or '120 per minute' "
                          f"(several joined with ';'), or 0 to turn it off; got {value!r}.")
    return text


def _shared_store_url(value: Any) -> str:
    """The Redis server instances share, or "" for none (each process keeps its own state)."""
    url = str(value or "").strip()
    if not url:
        return ""
    scheme, separator, rest = url.partition("://")
    problem = None
    if not separator or scheme.lower() not in SHARED_STORE_SCHEMES or not rest:
        problem = "must be a Redis URL"
    else:
        import redis  # only when one is configured

        try:  # parsed now (not connected): a typo stops the app here, not at the first page
            redis.connection.parse_url(redis_py_url(url))
        except (ValueError, TypeError):
            problem = "is not a usable Redis URL"
    if problem:
        # Never echo the URL: it may carry a Redis password.
        raise ConfigError(f"SHARED_STORE_URL {problem}: redis://[:password@]host[:port][/db], "
                          "rediss:// (TLS) or redis+unix:///path/to/socket; leave it empty "
                          "for each process to keep its own state.")
    return url


def redis_py_url(url: str) -> str:
    """``url`` as redis-py reads it: Flask-Limiter's ``redis+unix://`` is its ``unix://``."""
    scheme, _, rest = url.partition("://")
    return f"unix://{rest}" if scheme.lower() == "redis+unix" else url


def _storage_uri(value: Any, shared: str = "") -> str:
    """Where rate-limit counts live: this process (memory://) or a Redis server (by default
    the shared store, when there is one)."""
    uri = str(value or "").strip() or shared or "memory://"
    scheme, separator, _ = uri.partition("://")
    if not separator or scheme.lower() not in STORAGE_SCHEMES:
        # Never echo the URI: it may carry a Redis password.
        raise ConfigError("RATE_LIMIT_STORAGE_URI must be memory:// (each instance counts on "
                          "its own) or a Redis URI (redis://host:6379, rediss://, "
                          "redis+unix://) to share the counts.")
    return uri


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _number(config: dict[str, Any], name: str, kind: type, minimum: float) -> Any:
    try:
        value = kind(config[name])
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a {'whole ' if kind is int else ''}number, "
                          f"got {config[name]!r}.") from None
    if not value >= minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {config[name]!r}.")
    return value
