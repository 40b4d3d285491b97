"""The MemOS chat viewer: ``create_app()`` builds the Flask app from the environment.

Run it with ``make run`` (development) or ``gunicorn 'app:create_app()'`` (production).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from flask import Flask

from viewer import (
    assets,
    breaker,
    cli,
    compression,
    devserver,
    errors,
    export,
    i18n,
    observability,
    page_cache,
    proxies,
    ratelimit,
    security,
    shared_store,
    templating,
    views,
)
from viewer.history import History
from viewer.memory_panel import MemoryPanel
from viewer.readiness import ReadinessCheck
from viewer.revocation import Revocations, REVOKED_LINKS_FILE
from viewer.settings import check_settings, ConfigError, DEFAULTS, settings_from_env
from viewer.sharing import SharedReads
from viewer.source import build_source, source_scope


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides the environment (tests pass one)."""
    # No static route: WhiteNoise serves static/ in front of the app (viewer/assets.py).
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.config.update(DEFAULTS)
    app.config.update(settings_from_env())
    app.config.update(config or {})
    check_settings(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    store = shared_store.init_app(app)  # None without SHARED_STORE_URL
    raw_source = build_source(app.config, app.instance_path)
    # MemOS behind its breaker and a bounded number of calls in flight (viewer/breaker.py).
    guarded, circuit = breaker.guard(raw_source, app.config, store)
    source = observability.TimedSource(guarded)
    app.extensions["memos_source"] = source
    app.extensions["breaker"] = circuit
    app.extensions["readiness"] = ReadinessCheck(source, app.config["READYZ_CACHE_SECONDS"],
                                                 store, circuit)
    live = app.config["LIVE_POLL_SECONDS"]
    scope = source_scope(app.config, raw_source)  # whose answers: this MemOS, this key
    # Live checks of one conversation share one call a second, across every instance with a
    # shared store, however many people watch (viewer/sharing.py).
    shared = SharedReads(source, wait=app.config["MEMOS_DEADLINE"], store=store, scope=scope,
                         client=ratelimit.requester)
    app.extensions["live_reads"] = shared
    app.extensions["history"] = History(source, app.config["CHAT_PAGE_SIZE"],
                                        app.config["MEMOS_MAX_LIMIT"], live, shared)
    # Memories are read only when a reader opens the panel, shared like live checks.
    app.extensions["memories"] = MemoryPanel(source, app.config["MEMORY_MAX_PAGES"],
                                             app.config["DISPLAY_TIMEZONE"],
                                             wait=app.config["MEMOS_DEADLINE"], store=store,
                                             scope=scope)
    app.extensions["revocations"] = Revocations(
        app.config["REVOKED_LINKS_DB"] or os.path.join(app.instance_path, REVOKED_LINKS_FILE),
        store, app.config["EMBED_SECRET"])

    proxies.register(app)
    i18n.init_app(app)
    observability.register(app)
    export.init_app(app)
    page_cache.register(app, compression.register(app))
    assets.register(app)
    templating.register(app)
    security.register(app)
    errors.register(app)
    ratelimit.register(app)  # after the clock and the theme: a 429 page has both
    cli.register(app)
    app.register_blueprint(views.bp)
    return app


if __name__ == "__main__":
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5000"))
    local, notice = devserver.local_access(os.environ, host, port)
    try:
        application = create_app(local)
    except ConfigError as error:
        sys.exit(f"Configuration error: {error}")
    if notice:
        print(notice, file=sys.stderr, flush=True)
    devserver.run(application, host, port)
