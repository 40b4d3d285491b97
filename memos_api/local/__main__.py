"""Serve the local store: ``python -m memos_api.local --port 8765``; Ctrl-C stops it.

The API key defaults to ``MEMOS_LOCAL_API_KEY``; it is never printed.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys

from ..keys import check_api_key
from .server import make_server
from .store import LocalStore

DEFAULT_DB = os.path.join("instance", "memos-local.sqlite3")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line; the key, from it or the environment, is checked here."""
    parser = argparse.ArgumentParser(prog="python -m memos_api.local",
                                     description="Serve a MemOS-compatible message store.")
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--db", default=DEFAULT_DB, help=f"SQLite file (default {DEFAULT_DB})")
    parser.add_argument("--api-key", help="require 'Authorization: Token KEY' "
                                          "(default: $MEMOS_LOCAL_API_KEY)")
    parser.add_argument("--no-demo", action="store_true", help="do not seed the demo chat")
    parser.add_argument("--max-limit", type=_positive_int, default=1000,
                        help="most messages one get may return (default 1000)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    name = "--api-key" if args.api_key is not None else "MEMOS_LOCAL_API_KEY"
    try:
        args.api_key = check_api_key(
            args.api_key if args.api_key is not None else os.environ.get(name), name)
    except ValueError as error:
        parser.error(str(error))  # exits 2; the message never holds the key
    return args


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops as cleanly as Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """Seed the demo unless told not to, then serve until interrupted."""
    args = parse_args(argv)
    store = LocalStore(args.db, max_limit=args.max_limit)
    if not args.no_demo:
        store.seed_demo()
    try:
        server = make_server(store, args.host, args.port, args.api_key, verbose=args.verbose)
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr)
        return 2
    if not args.api_key and not _is_loopback(args.host):
        print("warning: no API key set, and the store is reachable from other machines",
              file=sys.stderr)
    # Set both handlers whatever was inherited: a shell starts background jobs (`make test &`)
    # with SIGINT ignored, and Python then leaves it ignored instead of raising
    # KeyboardInterrupt.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print(f"MemOS-compatible store on {server.base_url}", flush=True)
    try:
        server.serve_forever()  # returns on KeyboardInterrupt too (waitress catches it)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before serving started
        sys.exit(130)
