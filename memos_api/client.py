"""The MemOS HTTP client: one pooled session, timeouts, bounded retries, typed results."""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import tzinfo
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .answers import KeptAnswers
from .errors import (
    BadResponseError,
    error_for_code,
    error_for_status,
    MemOSError,
    N_,
    RateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from .keys import check_api_key
from .memories import (
    check_get_arguments,
    check_search_arguments,
    DEFAULT_SEARCH_LIMIT,
    has_memory_lists,
    MAX_PAGE_SIZE,
    memory_page_from_api,
    MemoryPage,
)
from .models import AddResult, Message, message_from_api
from .timestamps import BEIJING

DEFAULT_BASE_URL = "https://memos.memtensor.cn/api/openmem/v1"
GLOBAL_BASE_URL = "https://api.memt.ai/platform/api/openmem/v1"
SUCCESS_CODES = (0, 200)  # the cloud answers 0; MemOS's open-source server answers 200
RETRY_STATUSES = frozenset({429, 502, 503, 504})
ENDPOINTS = ("/get/message", "/add/message", "/get/memory", "/search/memory")
# A retry needs at least this long before the deadline: an attempt given a few milliseconds
# would only time out, and hide the real error (a 503, say) behind a timeout.
MIN_ATTEMPT_SECONDS = 0.1
_CODE_TEXT = re.compile(r"-?[0-9]{1,18}")  # a code sent as text: ASCII digits only


def resolve_base_url(base_url: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """Pick the base URL as MemTensor's SDK does: argument, ``MEMOS_BASE_URL``, then default."""
    chosen = base_url or environ.get("MEMOS_BASE_URL")
    if chosen:
        return chosen
    is_global = environ.get("MEMOS_IS_GLOBAL", "").strip().lower() in ("1", "true", "yes", "on")
    return GLOBAL_BASE_URL if is_global else DEFAULT_BASE_URL


class MemOSClient:
    """Calls ``/get/message``, ``/add/message``, ``/get/memory`` and ``/search/memory``.

    Read calls retry transient failures (connection errors, 502/503/504, 429) with exponential
    backoff, never past ``deadline`` seconds in all. Writes retry only when nothing was sent.
    """

    def __init__(self, api_key: str | None, base_url: str = DEFAULT_BASE_URL, *,
                 timeout: float = 10.0, connect_timeout: float = 3.05,
                 deadline: float | None = None, retries: int = 2, backoff: float = 0.2,
                 max_retry_after: float = 2.0, pool_size: int = 16,
                 max_response_bytes: int = 16 * 1024 * 1024,
                 default_tz: tzinfo = BEIJING) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"MemOS base URL must start with http:// or https://: {base_url!r}")
        api_key = check_api_key(api_key, "The MemOS API key")  # requests would quote it
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(connect_timeout, timeout), timeout)
        self.deadline = deadline if deadline is not None else 2 * timeout + connect_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.max_response_bytes = max_response_bytes
        self.default_tz = default_tz
        self.session = requests.Session()
        # Read proxy and CA settings from the environment once, not on every call (requests
        # scans os.environ per request when trust_env is on: ~10% of a small page's CPU).
        self.session.trust_env = False
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        self.session.verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                               or os.environ.get("CURL_CA_BUNDLE") or True)
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Content-Type": "application/json",
                                     "Accept": "application/json"})
        if api_key:
            self.session.headers["Authorization"] = f"Token {api_key}"
        self._answers = KeptAnswers()
        # The session's URL and headers merged once per endpoint: Session.post would merge
        # them on every call (a third of the client's CPU time for a small page). Headers
        # set on self.session after this are therefore not sent.
        self._requests = {path: self.session.prepare_request(
            requests.Request("POST", self.base_url + path)) for path in ENDPOINTS}

    def __repr__(self) -> str:  # never show the key
        return f"MemOSClient(base_url={self.base_url!r})"

    def __enter__(self) -> MemOSClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def get_messages(self, user_id: str, conversation_id: str,
                     limit: int | None = None) -> list[Message]:
        """Return up to ``limit`` most recent messages, in the order MemOS sent them."""
        body = {"user_id": user_id, "conversation_id": conversation_id,
                "message_limit_number": limit}
        return self._call("/get/message", body, idempotent=True, answer=self._messages)

    def _messages(self, response: requests.Response, raw: bytes) -> list[Message]:
        """The messages of an answer: those of a kept answer byte for byte the same (parsing
        is a function of the bytes alone), else parsed."""
        reused = self._answers.get(raw) if response.status_code == 200 else None
        if reused is not None:
            return reused
        data = self._unwrap(response, raw)
        items = data.get("message_detail_list") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise BadResponseError(N_("MemOS's answer has no message list."))
        messages = [message_from_api(item, self.default_tz) for item in items]
        if response.status_code == 200:
            self._answers.put(raw, messages)
        return messages

    def add_messages(self, user_id: str, conversation_id: str,
                     messages: Sequence[Mapping[str, Any]], **options: Any) -> AddResult:
        """Store ``messages`` (``{"role", "content", "chat_time"?}``) in a conversation."""
        body = {"user_id": user_id, "conversation_id": conversation_id,
                "messages": list(messages), **options}
        data = self._call("/add/message", body, idempotent=False)
        if not isinstance(data, dict) or not all(k in data for k in ("success", "task_id",
                                                                       "status")):
            raise BadResponseError(
                N_("MemOS's answer to add/message lacks success/task_id/status."))
        return AddResult(success=bool(data["success"]), task_id=str(data["task_id"]),
                         status=str(data["status"]))

    def get_memory(self, user_id: str, page: int = 1, size: int = MAX_PAGE_SIZE, *,
                   include_preference: bool = True, include_tool_memory: bool = False,
                   filter: Mapping[str, Any] | None = None) -> MemoryPage:
        """One page (from 1) of the user's memories: ``size`` (at most 50) of each kind.

        MemOS has no per-conversation listing: keep the items whose ``conversation_id``
        matches. ``filter`` is passed on as MemOS documents it. A size outside 1..50 or a page
        below 1 is a ValueError, before anything is sent.
        """
        check_get_arguments(user_id, page, size)
        body: dict[str, Any] = {"user_id": user_id, "page": page, "size": size,
                                "include_preference": include_preference,
                                "include_tool_memory": include_tool_memory}
        if filter is not None:
            body["filter"] = dict(filter)
        return self._memory_page(self._call("/get/memory", body, idempotent=True))

    def search_memory(self, query: str, user_id: str, conversation_id: str | None = None,
                      memory_limit_number: int = DEFAULT_SEARCH_LIMIT, *,
                      include_preference: bool = True, include_tool_memory: bool = False,
                      include_skill: bool = False) -> MemoryPage:
        """The user's memories most relevant to ``query``, at most ``memory_limit_number``
        (1..25) facts; ``conversation_id`` ranks that conversation's first (it does not
        filter). Paging fields of the result are None.
        """
        check_search_arguments(query, user_id, memory_limit_number)
        body: dict[str, Any] = {"query": query, "user_id": user_id,
                                "memory_limit_number": memory_limit_number,
                                "include_preference": include_preference,
                                "include_tool_memory": include_tool_memory,
                                "include_skill": include_skill}
        if conversation_id:
            body["conversation_id"] = conversation_id
        return self._memory_page(self._call("/search/memory", body, idempotent=True))

    def _memory_page(self, data: Any) -> MemoryPage:
        if not has_memory_lists(data):
            raise BadResponseError(N_("MemOS's answer has no memory list."))
        return memory_page_from_api(data, self.default_tz)

    def _call(self, path: str, body: dict, *, idempotent: bool,
              answer: Callable[[requests.Response, bytes], Any] | None = None) -> Any:
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return self._post_once(path, body, started, answer or self._unwrap)
            except MemOSError as error:
                delay = self._retry_delay(error, attempt, idempotent)
                if delay is None or (time.monotonic() - started + delay + MIN_ATTEMPT_SECONDS
                                     >= self.deadline):
                    raise
            attempt += 1
            time.sleep(delay)

    def _retry_delay(self, error: MemOSError, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait before retrying ``error``, or None when it must not be retried."""
        if attempt >= self.retries:
            return None
        backoff = self.backoff * 2 ** attempt * (0.5 + random.random() / 2)
        if isinstance(error, _ConnectFailed):
            return backoff
        if not idempotent:
            return None
        if isinstance(error, RateLimitedError):
            hint = error.retry_after if error.retry_after is not None else backoff
            return min(hint, self.max_retry_after) if hint <= self.max_retry_after else None
        if isinstance(error, UpstreamUnavailableError) and (
                error.http_status in RETRY_STATUSES or error.code is None):
            return backoff
        return None

    def _post_once(self, path: str, body: dict, started: float,
                   answer: Callable[[requests.Response, bytes], Any]) -> Any:
        # Never let one attempt's timeouts run past what is left of the whole call's deadline.
        left = max(self.deadline - (time.monotonic() - started), 0.01)
        timeout = (min(self.timeout[0], left), min(self.timeout[1], left))
        request = self._requests[path].copy()
        request.prepare_body(data=json.dumps(body).encode(), files=None)
        try:
            response = self.session.send(request, timeout=timeout, stream=True)
        except requests.ConnectTimeout as error:
            raise _ConnectFailed(
                N_("MemOS could not be reached (connection timed out).")) from error
        except requests.ConnectionError as error:
            raise _connection_error(error) from error
        except requests.Timeout as error:
            raise UpstreamTimeoutError() from error
        except requests.RequestException as error:
            raise UpstreamUnavailableError(N_("MemOS request failed.")) \
                from error
        with response:
            raw = self._read_body(response, started)
        return answer(response, raw)

    def _read_body(self, response: requests.Response, started: float) -> bytes:
        # read1 returns whatever has arrived (iter_content blocks until a whole chunk or EOF),
        # so a server trickling bytes cannot hold the call past the deadline between checks.
        chunks, size = [], 0
        # Once the bytes a plain answer announced have come (urllib3 counts them down from its
        # Content-Length), asking again for the end of it costs another pass through urllib3,
        # a tenth of a live check's own time. A compressed answer is read to its end: its
        # decoder may still hold bytes when the last ones have come.
        raw, plain = response.raw, "Content-Encoding" not in response.headers
        try:
            while True:
                chunk = raw.read1(64 * 1024, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise BadResponseError(N_("MemOS's answer is larger than this app accepts."))
                if time.monotonic() - started > self.deadline:
                    raise UpstreamTimeoutError()
                chunks.append(chunk)
                if plain and raw.length_remaining == 0:
                    break
        except urllib3.exceptions.ReadTimeoutError as error:  # a stall mid-answer
            raise UpstreamTimeoutError() from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise UpstreamUnavailableError(N_("The connection to MemOS broke mid-answer.")) \
                from error
        return b"".join(chunks)

    def _unwrap(self, response: requests.Response, raw: bytes) -> Any:
        status = response.status_code
        try:
            envelope = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            envelope = None
        code = _envelope_code(envelope)
        if code is not None and code not in SUCCESS_CODES:
            error = error_for_code(code, http_status=status)
            if isinstance(error, RateLimitedError):
                error.retry_after = _retry_after(response)
            raise error
        if status >= 400:
            raise error_for_status(status, retry_after=_retry_after(response))
        if not isinstance(envelope, dict):
            raise BadResponseError(N_("MemOS's answer is not JSON.") if envelope is None
                                   else N_("MemOS's answer is not a JSON object."))
        if code is None:
            raise BadResponseError(N_("MemOS's answer has no result code."))
        if envelope.get("data") is None:
            raise BadResponseError(N_("MemOS's answer has no data."))
        return envelope["data"]


class _ConnectFailed(UpstreamUnavailableError):
    """No connection was made, so nothing was sent: always safe to retry."""


def _connection_error(error: requests.ConnectionError) -> UpstreamUnavailableError:
    text = str(error)
    if "NewConnectionError" in text or "Failed to establish" in text or "resolve" in text:
        return _ConnectFailed(N_("MemOS could not be reached."))
    return UpstreamUnavailableError(N_("The connection to MemOS was lost."))


def _envelope_code(envelope: object) -> int | None:
    if not isinstance(envelope, dict):
        return None
    code = envelope.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and _CODE_TEXT.fullmatch(code.strip()):
        return int(code.strip())
    return None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < math.inf else None  # "inf" and "nan" are no hint
