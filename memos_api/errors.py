"""One exception hierarchy for everything that can go wrong talking to MemOS.

MemOS reports business errors as HTTP 200 with a non-zero ``code``, but gateways also answer
with plain HTTP errors and HTML pages. Both paths end in the same exception types, carrying our
own wording: the service's ``message`` may be empty or hold an unfilled placeholder.

That wording is English, and stays here, in one place. An application showing it in another
language translates ``error.wording`` (a template, marked with ``N_`` so that gettext's tools
find it; ``is_known_wording`` says whether it is one) with ``error.params``; the viewer does.
"""

from __future__ import annotations

_WORDINGS: set[str] = set()


def N_(wording: str) -> str:  # gettext's own name for "translate this, later"
    """Mark ``wording`` as translatable, as gettext's ``N_`` does; return it unchanged."""
    _WORDINGS.add(wording)
    return wording


def is_known_wording(wording: str) -> bool:
    """Whether ``wording`` is one of this module's own (and so in translation catalogs)."""
    return wording in _WORDINGS


class MemOSError(Exception):
    """Base class: ``str(error)`` is a sentence fit to show a user (it never holds the API key).

    ``wording`` is its template (``%(code)s`` and ``%(status)s`` are filled from ``params``).
    """

    default_message = N_("MemOS could not answer the request.")

    def __init__(self, message: str | None = None, *, code: int | None = None,
                 http_status: int | None = None) -> None:
        self.wording = message or self.default_message
        self.code = code
        self.http_status = http_status
        self.params = {"code": code, "status": http_status}
        self.message = self.wording % self.params if "%(" in self.wording else self.wording
        super().__init__(self.message)


class AuthError(MemOSError):
    """The API key is missing, malformed, invalid or expired."""

    default_message = N_("MemOS rejected the API key.")


class InvalidRequestError(MemOSError):
    """MemOS refused the request's parameters."""

    default_message = N_("MemOS refused the request as invalid.")


class NotFoundError(InvalidRequestError):
    """The user or conversation does not exist upstream.

    Every NotFoundError reads the same, whichever is missing: "no such user" beside "no data"
    would tell anyone trying ids which users exist.
    """

    default_message = N_("MemOS has no such user or conversation.")


class RateLimitedError(MemOSError):
    """Too many requests; ``retry_after`` is the server's hint in seconds, when it gave one."""

    default_message = N_("MemOS is rate limiting requests.")

    def __init__(self, message: str | None = None, *, retry_after: float | None = None,
                 **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamError(MemOSError):
    """MemOS failed while handling the request (an internal error on its side)."""

    default_message = N_("MemOS failed to handle the request.")


class UpstreamUnavailableError(UpstreamError):
    """MemOS, or a service behind it, cannot be reached right now."""

    default_message = N_("MemOS is unavailable right now.")


class CircuitOpenError(UpstreamUnavailableError):
    """MemOS failed several times in a row, so calls fail at once for a while (a circuit
    breaker is open) instead of waiting for it; ``retry_after``: seconds until it is tried
    again."""

    default_message = N_("MemOS did not answer the last requests, so this one was not sent; "
                         "it will be tried again shortly.")

    def __init__(self, message: str | None = None, *, retry_after: float | None = None,
                 **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamTimeoutError(MemOSError):
    """MemOS did not answer within the configured timeout."""

    default_message = N_("MemOS did not answer in time.")


class BadResponseError(MemOSError):
    """MemOS answered with something that is not the documented JSON envelope."""

    default_message = N_("MemOS sent a response this app cannot read.")


# Documented MemOS business codes -> (exception class, our wording; None: the class's own).
# 40301/40302 changed meaning between doc versions, so they fall through to their families.
_CODES: dict[int, tuple[type[MemOSError], str | None]] = {
    40000: (InvalidRequestError, N_("MemOS refused the request's parameters as invalid.")),
    40001: (NotFoundError, None),
    40002: (InvalidRequestError, N_("MemOS says a required field was empty.")),
    40003: (InvalidRequestError, N_("MemOS says a required field was empty.")),
    40010: (InvalidRequestError, N_("The user id is longer than MemOS allows (100 characters).")),
    40011: (InvalidRequestError,
            N_("The conversation id is longer than MemOS allows (100 characters).")),
    40100: (AuthError, N_("No MemOS API key was sent.")),
    40103: (NotFoundError, None),
    40130: (AuthError, N_("MemOS could not read the API key header.")),
    40132: (AuthError, N_("MemOS rejected the API key: it is invalid or has expired.")),
    40300: (RateLimitedError, N_("MemOS is rate limiting requests; try again shortly.")),
    40309: (RateLimitedError, N_("MemOS's token allowance for this period is used up.")),
    50000: (UpstreamError, N_("MemOS had an internal error.")),
    50002: (UpstreamError, N_("MemOS could not complete the operation.")),
    50004: (UpstreamUnavailableError, N_("A service behind MemOS is unavailable right now.")),
    50005: (UpstreamUnavailableError, N_("A service behind MemOS is unavailable right now.")),
}


def error_for_code(code: int, *, http_status: int | None = None) -> MemOSError:
    """Map a non-zero MemOS business ``code`` to an exception with our own wording."""
    if code in _CODES:
        cls, message = _CODES[code]
        return cls(message, code=code, http_status=http_status)
    if 400 <= code < 600:  # MemOS's open-source server echoes the HTTP status: {"code": 500}
        error = error_for_status(code)
        error.code, error.http_status = code, http_status
        return error
    # Older code tables have more of these families (40101, 40110-40114...): say what kind
    # of refusal it is, and keep the code for support.
    if 40100 <= code < 40200:
        return AuthError(N_("MemOS refused the API key or its permissions (code %(code)s)."),
                         code=code, http_status=http_status)
    if 40300 <= code < 40400:
        return RateLimitedError(N_("MemOS is limiting requests; try again shortly (code "
                                   "%(code)s)."), code=code, http_status=http_status)
    family = code // 1000
    cls = InvalidRequestError if family == 40 else UpstreamError if family == 50 else MemOSError
    return cls(N_("MemOS answered with error code %(code)s."), code=code,
               http_status=http_status)


def error_for_status(status: int, *, retry_after: float | None = None) -> MemOSError:
    """Map an HTTP error status (with no readable MemOS envelope) to an exception."""
    if status in (401, 403):
        return AuthError(http_status=status)
    if status == 429:
        return RateLimitedError(retry_after=retry_after, http_status=status)
    if status == 404:  # a wrong base URL also ends here: the log keeps the status
        return NotFoundError(http_status=status)
    if 400 <= status < 500:
        return InvalidRequestError(N_("MemOS refused the request (HTTP %(status)s)."),
                                   http_status=status)
    if status in (502, 503, 504):
        return UpstreamUnavailableError(N_("MemOS is unavailable right now (HTTP %(status)s)."),
                                        http_status=status)
    return UpstreamError(N_("MemOS failed to handle the request (HTTP %(status)s)."),
                         http_status=status)
