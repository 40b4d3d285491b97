"""Gunicorn settings for an I/O-bound proxy: `make serve`, or `gunicorn 'app:create_app()'`.

Almost all of a request's time is spent waiting for MemOS, so each worker runs many threads
(gthread): a thread waiting on a socket releases the GIL. Measured against gevent in
docs/benchmarks.md. The worker is gthread's, but reads each request in its event loop before a
thread takes it (viewer/worker.py), so slow clients hold no thread, and drops a client that
takes nothing of its answer for 30 s (GUNICORN_SEND_TIMEOUT, read by the worker). Every value
can be overridden from the environment.
"""

import os

_cores = os.cpu_count() or 1

_host, _port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
bind = os.environ.get("BIND", f"{_host}:{_port}")
worker_class = "viewer.worker.HeadFirstWorker"  # gthread, reading requests before threads do
workers = int(os.environ.get("WEB_CONCURRENCY", _cores))
threads = int(os.environ.get("GUNICORN_THREADS", 96))  # concurrent upstream waits per worker
keepalive = 5
# A page may wait for MemOS up to MEMOS_DEADLINE (default 2 x MEMOS_TIMEOUT + 3 = 23 s), and
# one more call may already be running when that passes: stay above twice the deadline.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 15
max_requests = 20000  # recycle workers now and then; jitter keeps them from restarting together
max_requests_jitter = 2000
accesslog = None  # the app logs one JSON line per request (viewer/observability.py)
errorlog = "-"
# gunicorn 27's runtime control socket defaults to one path per user: several instances on one
# host would collide, and the app does not need it.
control_socket_disable = True
# One kept-alive MemOS connection per thread, so no thread waits for a connection; and MemOS
# calls in flight bounded to two thirds of the threads (viewer/bulkhead.py: a quarter as many
# more may wait for a slot), so that a MemOS that hangs leaves a sixth (16) for health checks,
# static files and shared answers. 64 in flight: all 64 pages that a worker may be handed at
# once go through a healthy MemOS, however slow (a third, 16 of 48, refused most of them).
# A download holds its thread while its client reads it, however slowly: a twelfth of the
# threads (8) may send downloads at once, and the last twelfth (8) is never held by MemOS or
# downloads (viewer/export.py).
raw_env = [f"MEMOS_POOL_SIZE={os.environ.get('MEMOS_POOL_SIZE', threads)}",
           "MEMOS_MAX_IN_FLIGHT="
           f"{os.environ.get('MEMOS_MAX_IN_FLIGHT', max(1, threads * 2 // 3))}",
           "MAX_DOWNLOADS_IN_FLIGHT="
           f"{os.environ.get('MAX_DOWNLOADS_IN_FLIGHT', max(1, threads // 12))}"]

# glibc hands a freed buffer of more than ~1 MB back to the OS, and the next request's buffer of
# the same size page-faults back in: a 1000-message page (800 KB of HTML, copied a few times)
# took ~500 faults, 1.5 ms. Keeping up to 8 MB free per arena for reuse costs that much memory
# at most per arena and removes the faults (docs/benchmarks.md). glibc only; a MALLOC_*_
# environment variable set by the operator wins.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def post_fork(server, worker):
    if any(name.startswith("MALLOC_") for name in os.environ):
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024)
        libc.mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        pass
