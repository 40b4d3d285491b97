"""Where a page's time goes, measured when a page is over its target.

``profile_page`` renders pages in this process (Flask's test client) and times each step on its
own and under cProfile; ``report_profile`` adds the findings to the report.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import re
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from benchmarks.config import BROWSER_ENCODINGS, CONVERSATION, PAGE_SIZE, ROOT, USER
from benchmarks.report import ms, Report


def profile_page(upstream: str, limit: int, requests_count: int,
                 config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Profile ``limit``-message pages in this process (Flask's test client, cProfile): where
    the time goes, by package and by function, in milliseconds per page; ``config`` is added
    to the app's (the cold page's is without the message cache)."""
    sys.path.insert(0, str(ROOT))
    from app import create_app

    # Open access on a fake upstream; no rate limit: every request comes from one address.
    app = create_app({"MEMOS_BASE_URL": upstream, "MEMOS_API_KEY": "bench",
                      "MEMOS_MAX_LIMIT": 1000, "LOG_LEVEL": "WARNING", "MEMOS_LOCAL_DB": "",
                      "EMBED_SECRET": "", "VIEWER_ACCESS": "open", "RATE_LIMIT": "0",
                      "TRUSTED_PROXIES": 0, "CHAT_PAGE_SIZE": PAGE_SIZE, **(config or {})})
    client = app.test_client()
    path = "/chat?" + urlencode({"user_id": USER, "conversation_id": CONVERSATION,
                                 "limit": limit})
    headers = {"Accept-Encoding": BROWSER_ENCODINGS}
    if client.get(path, headers=headers).status_code != 200:  # warm-up (imports, caches)
        raise RuntimeError(f"the in-process app did not render the {limit}-message page")
    components = component_times(app, client, path, headers, upstream, limit, requests_count)
    # Timed in this process's CPU time: other processes on a busy machine don't show up.
    profiler = cProfile.Profile(time.process_time)
    started = time.process_time()
    profiler.enable()
    for _ in range(requests_count):
        client.get(path, headers=headers)
    profiler.disable()
    wall = (time.process_time() - started) / requests_count
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)
    by_package: dict[str, float] = {}
    functions = []
    for (filename, line, name), (_, calls, self_time, cumulative, _) in stats.items():
        by_package[_package(filename, name)] = by_package.get(_package(filename, name), 0.0) \
            + self_time
        functions.append((self_time, cumulative, calls, _function_name(filename, line, name)))
    total = sum(by_package.values()) or 1.0
    cumulative_of = {}
    for label, places in HOTSPOTS.items():
        cumulative_of[label] = sum(
            value[3] for (filename, _, name), value in stats.items()
            if any(name == function and filename.replace(os.sep, "/").endswith(module)
                   for module, function in places))
    return {
        "requests": requests_count,
        "wall_per_page": wall,
        "profiled_per_page": total / requests_count,
        "by_package": sorted(((seconds / requests_count, seconds / total, package)
                              for package, seconds in by_package.items()), reverse=True)[:10],
        "top_functions": sorted(functions, reverse=True)[:12],
        "hotspots": {label: seconds / requests_count for label, seconds in cumulative_of.items()},
        "components": components,
    }


def component_times(app, client, path: str, headers: dict[str, str], upstream: str, limit: int,
                    repeats: int) -> list[tuple[str, float]]:
    """CPU time per page of each step, measured without a profiler: the whole page, then each
    step the page takes run on its own over the same messages; the rest is Flask, the page's
    templates, history and the security and log hooks. A first view also renders each
    message's body (Markdown, sanitizing), shown last: later pages take it from the cache."""
    import brotli

    from memos_api import message_from_api
    from viewer.renderer.formatting import message_body, PageBudget

    def cpu(call) -> float:
        started = time.process_time()
        for _ in range(repeats):
            call()
        return (time.process_time() - started) / repeats

    source = app.extensions["memos_source"]
    zone = app.config["MEMOS_TIMEZONE"]
    body = json.dumps({"user_id": USER, "conversation_id": CONVERSATION,
                       "message_limit_number": limit})
    items = json.loads(requests.post(upstream + "/get/message", data=body, timeout=30).content)[
        "data"]["message_detail_list"]
    messages = [message_from_api(item, zone) for item in items]
    page = client.get(path).get_data()  # as rendered, before compression
    with app.test_request_context(path):
        message_list = app.jinja_env.globals["message_list"]
        whole = cpu(lambda: client.get(path, headers=headers))
        fetch = cpu(lambda: source.get_messages(USER, CONVERSATION, limit))
        parse = cpu(lambda: [message_from_api(item, zone) for item in items])
        listing = cpu(lambda: message_list(messages))
        compress = cpu(lambda: brotli.compress(page, quality=app.config["COMPRESS_BR_LEVEL"]))
        first_view = cpu(lambda: [message_body(message, PageBudget(60.0))
                                  for message in messages])
    return [
        ("whole page, in-process (test client)", whole),
        ("upstream call through the app's client (HTTP, JSON, parsing)", fetch),
        (f"    of which parsing: message_from_api × {len(items)}", parse),
        (f"message list: {len(messages)} cached message HTMLs and day separators", listing),
        (f"compression: brotli quality {app.config['COMPRESS_BR_LEVEL']} of "
         f"{len(page):,} bytes", compress),
        ("the rest: Flask, page templates, history, security and log hooks",
         whole - fetch - listing - compress),
        (f"(first view only, not in the page above: message_body × {len(messages)} uncached)",
         first_view),
    ]


# Cumulative time of the steps of one page, for the report: label -> (module suffix, function)
# pairs whose cumulative times are added up. Indented steps run inside the one above them.
HOTSPOTS = {
    "whole request (Flask test client)": [("flask/app.py", "wsgi_app")],
    "upstream call (HTTP, JSON, message_from_api)": [("memos_api/client.py", "get_messages")],
    "  of which message_from_api (parsing each message)": [("memos_api/models.py",
                                                            "message_from_api")],
    "  of which requests' Session.send (pool, HTTP, headers)": [("requests/sessions.py",
                                                               "send")],
    "Jinja templates in all": [("jinja2/environment.py", "render")],
    "  message list (cached HTML, day separators)": [("viewer/templating.py",
                                                      "message_list")],
    "  message bodies (first view only)": [("viewer/renderer/formatting.py", "message_bodies")],
    "    Markdown: pulldown-cmark events to HTML": [("viewer/renderer/markdown.py",
                                                    "render_markdown")],
    "    nh3 sanitizer": [("viewer/renderer/markdown.py", "sanitize_html")],
    "    Pygments (fenced code)": [("viewer/renderer/highlight.py", "highlight")],
    "  time filters (shown_time, edited_time)": [
        ("viewer/templating.py", name) for name in ("shown_time", "edited_time")],
    "  include/import lookups (get_template, per message)": [("jinja2/environment.py",
                                                              "get_template")],
    "  day breaks (presentation.day_breaks)": [("viewer/renderer/presentation.py", "day_breaks")],
    "anchor digests (history)": [("viewer/history.py", "anchor_token")],
    "compression (Flask-Compress)": [("flask_compress/flask_compress.py", "after_request")],
}


def _package(filename: str, name: str) -> str:
    path = filename.replace(os.sep, "/")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if path.startswith(str(ROOT)):
        relative = path[len(str(ROOT)) + 1:]
        return relative.split("/", 1)[0] if "/" in relative else relative
    if path == "~":  # a builtin: name it by its object
        match = re.search(r"of '([\w.]+)'|method ([\w.]+)|function ([\w.]+)", name)
        label = next((group for group in match.groups() if group), name) if match else name
        return f"built-in {label.split('.')[0]}"
    return "stdlib " + Path(path).stem


def _function_name(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name
    path = filename.replace(os.sep, "/")
    short = path.split("site-packages/", 1)[-1]
    if short.startswith(str(ROOT)):
        short = short[len(str(ROOT)) + 1:]
    elif short == path:
        short = "stdlib/" + Path(path).name
    return f"{short}:{line}({name})"


def report_profile(report: Report, found: dict[str, Any]) -> None:
    """Where a page's time goes, from ``profile_page``: steps, packages, functions."""
    report.text("Over target, so measured step by step: CPU time per page of each step "
                "run on its own in this process, over the same messages, without a profiler "
                "(the fake's CPU is not included):")
    whole_page = found["components"][0][1] or 1.0
    report.table(("step", "CPU per page", "share"),
                 [(label.replace("    ", "&nbsp;" * 4), ms(seconds), f"{seconds / whole_page:.0%}")
                  for label, seconds in found["components"]])
    report.text(
        f"And profiled: {found['requests']} page(s) rendered in this process "
        f"(Flask test client, upstream latency 0, cProfile timing this process's CPU time so "
        f"other processes don't count; profiling inflates times, so read the shares): "
        f"{ms(found['wall_per_page'])} of CPU per page under the profiler.",
        "Where one page's time goes (cumulative CPU time, per page):")
    whole = found["hotspots"]["whole request (Flask test client)"] or 1.0
    report.table(("step", "time per page", "share"),
                 [("&nbsp;" * 4 * ((len(label) - len(label.lstrip())) // 2) + label.strip(),
                   ms(seconds), f"{seconds / whole:.0%}")
                  for label, seconds in found["hotspots"].items()])
    report.text("Self time by package:")
    report.table(("package", "self time per page", "share"),
                 [(package, ms(seconds), f"{share:.0%}")
                  for seconds, share, package in found["by_package"]])
    report.text("Top functions by self time:")
    report.table(("function", "self per page", "cumulative per page", "calls per page"),
                 [(f"`{name}`", ms(own / found["requests"]), ms(cum / found["requests"]),
                   calls // found["requests"])
                  for own, cum, calls, name in found["top_functions"]])
