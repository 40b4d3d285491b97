"""Per-client rate limiting of the conversation views, with Flask-Limiter.

Each client address has one budget, ``RATE_LIMIT``, shared by every view marked with
``@conversation_view`` (viewer.access): those are the ones that call MemOS. Health checks, the
landing page and static files are never counted. Counts live in this process (``memory://``)
unless ``RATE_LIMIT_STORAGE_URI`` names a Redis server that several instances share. When Redis
cannot be reached, pages are still served: each instance counts on its own in memory, says so
once in the log, and goes back to Redis when it answers again.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import sys
import time

from flask import Flask, has_request_context, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded
from limits.errors import ConfigurationError
from werkzeug.exceptions import TooManyRequests

from . import errors
from .access import shows_conversation
from .i18n import ngettext
from .settings import ConfigError
from .shared_store import redis_options

log = logging.getLogger("flask-limiter")
SCOPE = "conversations"  # one budget for all conversation views, whatever the endpoint


def client_address() -> str:
    """Whom a request is counted against: its address (ProxyFix's, behind trusted proxies).

    An IPv6 client is counted by its /64, the smallest network a subscriber is given: one
    machine can use millions of its addresses.
    """
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def requester() -> str:
    """Who is asking, as ``client_address``; "" outside a request (a command)."""
    return client_address() if has_request_context() else ""


def register(app: Flask) -> None:
    """Limit the conversation views per client, unless ``RATE_LIMIT`` is 0."""
    limit = app.config["RATE_LIMIT"]
    if not limit:
        return
    uri = app.config["RATE_LIMIT_STORAGE_URI"]
    _show_storage_log(app.config["LOG_LEVEL"])
    conversations = ApplicationLimit(limit_provider=limit, scope=SCOPE)
    try:
        limiter = Limiter(
            client_address, app=app, application_limits=[conversations],
            storage_uri=uri, storage_options=redis_options() if uri.startswith("redis") else {},
            strategy="fixed-window",
            # Redis unreachable: count in this process's memory (same limit) and look for
            # Redis again now and then; any other failure inside the limiter is logged and
            # the request served. The limiter must never be why a page fails.
            in_memory_fallback_enabled=True, swallow_errors=True,
            headers_enabled=False,  # Retry-After is sent with the 429 alone (below)
        )
    except (ConfigurationError, ValueError) as error:
        # Not the URI itself: it may carry a password.
        raise ConfigError(f"RATE_LIMIT_STORAGE_URI is unusable: {type(error).__name__}; "
                          "expected memory:// or redis://[:password@]host[:port][/db].") from None
    # Checked first, before Flask-Limiter resolves any limit: health checks stay cheap.
    limiter.request_filter(lambda: not shows_conversation())

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(error: RateLimitExceeded):
        wait = _seconds_to_wait(limiter, error)
        item = error.limit.limit
        return errors.render(TooManyRequests(ngettext(
            "Too many requests from your address: this viewer answers %(amount)s per "
            "%(window)s seconds from one address. Try again in %(num)d second.",
            "Too many requests from your address: this viewer answers %(amount)s per "
            "%(window)s seconds from one address. Try again in %(num)d seconds.",
            wait, amount=item.amount, window=item.get_expiry()), retry_after=wait))


def _seconds_to_wait(limiter: Limiter, error: RateLimitExceeded) -> int:
    """Seconds until the breached window ends, at least 1."""
    try:
        reset_time = limiter.current_limit.window.reset_time
    except Exception:  # the store went away since the count: a whole window is always enough
        return error.limit.limit.get_expiry()
    return max(1, math.ceil(reset_time - time.time()))


def _show_storage_log(level: str) -> None:
    """Print Flask-Limiter's own log lines (storage lost, recovered) on stderr.

    It logs to a NullHandler, so without this an unreachable Redis would go unnoticed.
    """
    if any(getattr(handler, "is_rate_limit_log", False) for handler in log.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s rate limit: %(message)s"))
    # Each breach is already a 429 line in the request log, and names the client.
    handler.addFilter(lambda record: not record.getMessage().startswith("ratelimit "))
    handler.is_rate_limit_log = True
    log.addHandler(handler)
    log.propagate = False  # as the request log: these lines, once
    log.setLevel(level)
