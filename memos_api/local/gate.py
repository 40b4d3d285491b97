"""What the local server decides from a request's head alone, before it reads any body.

The checks run in this order, and the first that fails answers:

- ``Host`` names this server (421 otherwise): a page on another site that rebinds its DNS name
  to 127.0.0.1 still sends its own name, so it cannot read or write conversations.
- the path is an endpoint (404), the method is POST (405, with no CORS allowance: a preflight
  ``OPTIONS`` fails, so a browser never sends the cross-site request behind it).
- the API key, when one is set: MemOS's 401xx codes, as HTTP 200 like the cloud.
- ``Content-Type: application/json`` (415): the only types a cross-site page can send without
  a preflight are form and text types, so a "no-cors" ``fetch`` is refused here.
- framing: a ``Content-Length`` (411 for ``Transfer-Encoding``, 400 when unreadable) of at
  most ``MAX_BODY_BYTES`` (413).
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from .endpoints import resolve
from .envelope import Answer

MAX_BODY_BYTES = 8 * 1024 * 1024
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})


@dataclass(frozen=True)
class Head:
    """The parts of a request's head the gate reads: header values as sent, or None."""

    method: str
    path: str
    host: str | None = None
    authorization: str | None = None
    content_type: str | None = None
    content_length: str | None = None
    chunked: bool = False  # a Transfer-Encoding was sent


class Gate:
    """The checks for one server: the address and port it serves, and the key it expects."""

    def __init__(self, address: str, port: int, api_key: str | None) -> None:
        self.port = port
        self.api_key = api_key
        self.names = host_names(address)

    def check(self, head: Head) -> Answer | None:
        """The refusal for the first check ``head`` fails, or None when it may be served."""
        return (self._host(head.host) or _route(head) or self._auth(head.authorization)
                or _content_type(head.content_type) or _framing(head))

    def _host(self, value: str | None) -> Answer | None:
        name, port = split_host((value or "").strip().lower())
        if port == self.port or (port is None and self.port == 80):
            if self.names is None and (name == "localhost" or is_ip_literal(name)):
                return None
            if self.names is not None and name in self.names:
                return None
        if self.names is None:
            expected = f"an IP address or localhost, with port {self.port}"
        else:
            expected = " or ".join(f"{name}:{self.port}" for name in sorted(self.names))
        return Answer(421, 42100, f"this server answers only to the Host {expected}")

    def _auth(self, header: str | None) -> Answer | None:
        if self.api_key is None:
            return None
        header = (header or "").strip()
        if not header:
            return Answer(200, 40100, "the Authorization header is missing")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "token" or not key or " " in key:
            return Answer(200, 40130, "the Authorization header must be 'Token <API key>'")
        # Header values arrive decoded as Latin-1; compare the raw bytes in constant time.
        if not hmac.compare_digest(key.encode("latin-1", "replace"), self.api_key.encode()):
            return Answer(200, 40132, "the API key is invalid")
        return None


def _route(head: Head) -> Answer | None:
    if resolve(head.path) is None:
        return Answer(404, 40400, f"no such endpoint: {head.path.rstrip('/') or '/'}")
    if head.method != "POST":
        return Answer(405, 40500, "use POST", headers=(("Allow", "POST"),))
    return None


def _content_type(value: str | None) -> Answer | None:
    if (value or "").split(";", 1)[0].strip().lower() == "application/json":
        return None
    return Answer(415, 41500, "send the body as JSON, with Content-Type: application/json")


def _framing(head: Head) -> Answer | None:
    if head.chunked:
        return Answer(411, 41100, "send a Content-Length")
    raw = (head.content_length or "0").strip()
    if not (raw.isascii() and raw.isdigit()):
        return Answer(400, 40000, "bad Content-Length")
    if len(raw) > 18 or int(raw) > MAX_BODY_BYTES:  # len first: int() refuses 4,300+ digits
        return Answer(413, 41300, f"body larger than {MAX_BODY_BYTES} bytes")
    return None


def host_names(address: str) -> frozenset[str] | None:
    """The names (without port) a client may put in ``Host`` for a server on ``address``.

    None for a wildcard address (0.0.0.0, ::): the machine's own names are unknown, so any IP
    literal or localhost is accepted; neither can be a rebound DNS name.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 scope ("%eth0")
    if ip.is_unspecified:
        return None
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    return LOOPBACK_NAMES | {literal} if ip.is_loopback else frozenset({literal})


def split_host(value: str) -> tuple[str, int | None]:
    """``("name", port)`` from a Host header value; port None when absent or unreadable."""
    if value.startswith("["):
        name, bracket, rest = value.partition("]")
        name += bracket
    elif value.count(":") == 1:
        name, rest = value.split(":")
        rest = ":" + rest
    else:
        name, rest = value, ""
    if not rest:
        return name, None
    port = rest[1:] if rest.startswith(":") else ""
    return name, int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else -1


def is_ip_literal(name: str) -> bool:
    """Whether ``name`` is a dotted IPv4 address or a bracketed IPv6 one."""
    try:
        if name.startswith("[") and name.endswith("]"):
            ipaddress.IPv6Address(name[1:-1])
        else:
            ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True
