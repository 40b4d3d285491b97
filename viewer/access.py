"""Who may see which conversation: ids in the query string, or a signed token.

``VIEWER_ACCESS`` (decided once in ``check_settings``) says which. Open mode takes ``user_id``
and ``conversation_id`` from the query string, for demos and deployments behind the host's own
auth. Signed mode takes them only from ``?token=``: a JWT the host's backend signs with HS256
and ``EMBED_SECRET``, carrying ``user_id``, ``conversation_id`` and ``exp``, and optionally an id,
``jti``, by which it can be revoked before it expires (viewer/revocation.py).

The widget's accent colour (viewer/accent.py) is granted the same way: ``?accent=`` in open
mode, the token's optional ``accent`` claim in signed mode, where an ``?accent=`` the token does
not carry is refused as ids are: a signed link looks as its signer chose. The reader's own
choices (theme, language, live updates) are not signed: they change only how the reader sees
what the token grants.

What MemOS remembered (the memory panel, viewer/memory_panel.py) can say more than a transcript,
so it has a grant of its own, ``Access.memories``: in open mode every conversation's, unless the
``MEMORIES`` setting is off; in signed mode only what the token's optional ``memories`` claim
grants: ``"conversation"`` (or ``true``) this conversation's memories, ``"user"`` also the user's
others, and search across them. ``MEMORIES=off`` turns the panel off for every token too.

The views that show a conversation wear ``@conversation_view``: each client's requests to them
are rate limited (viewer.ratelimit), and their answers are never cached (viewer.security).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn, TypeVar

import jwt
from flask import current_app, request
from werkzeug.exceptions import Forbidden

from .accent import canonical, read_accent
from .i18n import gettext
from .i18n import lazy_gettext as _l
from .validation import check_id, MAX_ID_LENGTH, read_conversation

ALGORITHM = "HS256"  # pinned: a token naming any other algorithm (or "none") is refused
REQUIRED_CLAIMS = ("exp", "user_id", "conversation_id")
# What a grant of memories covers: this conversation's, or also the user's other conversations'.
CONVERSATION_MEMORIES, USER_MEMORIES = "conversation", "user"
MEMORY_GRANTS = (CONVERSATION_MEMORIES, USER_MEMORIES)
View = TypeVar("View", bound=Callable)


def is_open() -> bool:
    """Whether this app serves any conversation to whoever names it (``VIEWER_ACCESS``)."""
    return current_app.config["VIEWER_ACCESS"] == "open"


def conversation_view(view: View) -> View:
    """Mark ``view`` as showing conversation content: rate limited per client, never cached."""
    view.shows_conversation = True  # type: ignore[attr-defined]
    return view


def shows_conversation() -> bool:
    """Whether this request is for a view marked with ``conversation_view``."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "shows_conversation", False)


@dataclass(frozen=True)
class Access:
    """The conversation a request may read, in which accent, and the query parameters that
    grant both."""

    user_id: str
    conversation_id: str
    params: dict[str, str]
    accent: str | None = None  # ``#rrggbb``
    memories: str | None = None  # CONVERSATION_MEMORIES, USER_MEMORIES, or None: not granted


def grant(args: Mapping[str, str], secret: str | None) -> Access:
    """The conversation this request may read; 400 for bad ids or a malformed accent, 403 for
    a bad token or an accent it does not grant.

    ``secret`` is ``EMBED_SECRET`` in signed mode and None in open mode.
    """
    asked = read_accent(args)
    memories_on = current_app.config["MEMORIES"] == "on"
    if not secret:
        user_id, conversation_id = read_conversation(args)
        params = {"user_id": user_id, "conversation_id": conversation_id}
        # Open mode: whoever names a conversation reads all of it, and may name any other.
        return Access(user_id, conversation_id,
                      params | {"accent": asked} if asked else params, asked,
                      USER_MEMORIES if memories_on else None)
    token = args.get("token", "")
    if not token:
        raise Forbidden(gettext("This viewer needs a signed link: the address has no token."))
    claims = read_token(token, secret, current_app.config["EMBED_MAX_TTL"])
    if "jti" in claims and current_app.extensions["revocations"].is_revoked(claims["jti"]):
        raise Forbidden(gettext("This link has been revoked: ask for a new one."))
    for name in ("user_id", "conversation_id"):
        if name in args and args[name] != claims[name]:
            raise Forbidden(gettext("The address names a different conversation than its "
                                    "token grants."))
    granted = canonical(claims["accent"]) if "accent" in claims else None
    if asked is not None and asked != granted:
        raise Forbidden(gettext("The address asks for the accent %(accent)s, which its token "
                                "does not grant: sign the accent into the token, or leave it "
                                "out of the address.", accent=asked))
    memories = memory_grant(claims.get("memories")) if memories_on else None
    return Access(claims["user_id"], claims["conversation_id"], {"token": token}, granted,
                  memories)


class MemoriesRefused(Forbidden):
    """A request for memories its access does not grant (its page says so in its heading)."""

    heading = _l("You can't see what MemOS remembered here")  # its error page's


def refuse_memories() -> NoReturn:
    """Refuse a request for memories: the panel, its search, or a widget's ``memories=1``."""
    if current_app.config["MEMORIES"] == "off":
        raise MemoriesRefused(gettext("This viewer does not show what MemOS remembered of "
                                      "conversations."))
    raise MemoriesRefused(gettext("This link does not grant what MemOS remembered of this "
                                  "conversation: its token needs the memories claim "
                                  "(embed-url --memories)."))


def memory_grant(claim: object) -> str | None:
    """What a token's ``memories`` claim grants (its value checked by ``read_token``)."""
    if claim is True:
        return CONVERSATION_MEMORIES
    return claim if claim in MEMORY_GRANTS else None


def read_token(token: str, secret: str, max_ttl: float = float("inf")) -> dict:
    """The checked claims of ``token``, or Forbidden saying what is wrong with it. A token
    whose ``exp`` is more than ``max_ttl`` seconds after now (or after its ``iat``, when it
    has one) is refused: a link the host forgot, or one minted to last until the year 9999,
    must not grant a conversation forever.

    A token found good is kept (``VERIFIED_KEPT``): a reader's page, its live checks and its
    "load earlier" all carry the same one, and PyJWT's checks were a third of a signed
    page's own CPU. Of those checks only expiry can fail later (``nbf``, ``iat`` and the
    lifetime only pass more surely as time goes on), so it alone is checked again. Only
    tokens this viewer signed are kept: nobody else can fill the memo."""
    key = (token, secret, max_ttl)
    claims = _verified.get(key)
    if claims is None:
        claims = _checked_claims(token, secret, max_ttl)
        with _verified_lock:
            if len(_verified) >= VERIFIED_KEPT:
                del _verified[next(iter(_verified))]  # the oldest: dicts keep their order
            _verified[key] = claims
    elif int(claims["exp"]) <= time.time():  # as PyJWT decides it
        raise Forbidden(gettext("This link has expired: ask for a new one."))
    return dict(claims)


VERIFIED_KEPT = 4096  # tokens, each a few hundred bytes with its claims
_verified: dict[tuple, dict] = {}
_verified_lock = threading.Lock()


def _checked_claims(token: str, secret: str, max_ttl: float) -> dict:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": list(REQUIRED_CLAIMS)})
    except jwt.ExpiredSignatureError:
        raise Forbidden(gettext("This link has expired: ask for a new one.")) from None
    except jwt.InvalidSignatureError:
        raise Forbidden(gettext("This link's token is not signed by this viewer.")) from None
    except jwt.MissingRequiredClaimError as error:
        raise Forbidden(gettext("This link's token lacks the '%(claim)s' claim.",
                                claim=error.claim)) from None
    except jwt.InvalidAlgorithmError:
        raise Forbidden(gettext("This link's token must be signed with %(algorithm)s.",
                                algorithm=ALGORITHM)) from None
    except jwt.InvalidTokenError:
        raise Forbidden(gettext("This link's token is malformed.")) from None
    issued = claims.get("iat")
    start = issued if isinstance(issued, int | float) and not isinstance(issued, bool) \
        else time.time()
    if claims["exp"] - min(start, time.time()) > max_ttl:
        raise Forbidden(gettext("This link lasts longer than this viewer allows: ask for a "
                                "new one."))
    for name in ("user_id", "conversation_id"):
        problem = check_id(claims[name], MAX_ID_LENGTH)
        if problem:
            raise Forbidden(gettext("This link's token has an unusable %(name)s: %(problem)s.",
                                    name=name, problem=problem))
    if "accent" in claims and canonical(claims["accent"]) is None:
        raise Forbidden(gettext("This link's token has an unusable accent: it must be a colour "
                                "written #rgb or #rrggbb."))
    claim = claims.get("memories", False)
    if not isinstance(claim, bool) and claim not in MEMORY_GRANTS:
        raise Forbidden(gettext("This link's token has an unusable memories claim: it must be "
                                "“conversation” (or true) or “user”."))
    return claims


def new_link_id() -> str:
    """A fresh id for a signed link (its ``jti``): 96 random bits, URL-safe.

    Draw again when the id would start with "-": the printed ``revoke-link ID`` command
    would read it as an option (one id in 64).
    """
    while (link_id := secrets.token_urlsafe(12)).startswith("-"):
        pass
    return link_id


def sign(user_id: str, conversation_id: str, secret: str, ttl: int,
         accent: str | None = None, link_id: str | None = None,
         memories: str | None = None) -> str:
    """A token granting one conversation for ``ttl`` seconds, in ``accent`` if given, with
    its memories (``"conversation"``) or the user's (``"user"``) if given (what a host's
    backend does), and with an id (``link_id``, or a new one) to revoke it by."""
    claims = {"user_id": user_id, "conversation_id": conversation_id,
              "exp": int(time.time()) + ttl, "jti": link_id or new_link_id()}
    if accent is not None:
        claims["accent"] = accent
    if memories is not None:
        claims["memories"] = memories
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
