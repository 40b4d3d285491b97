"""The stack's floor: a Flask app that only makes the page's MemOS call with requests.

``GET /chat`` posts the same ``/get/message`` body as a 6-message page to ``MEMOS_BASE_URL``
through one pooled ``requests.Session``, the way the app's client does (a request prepared once
and sent as a copy: requests' cheapest path), reads the answer, and returns a fixed HTML body
of a compressed page's size; it parses, renders, logs and compresses nothing.
``GET /chat/newer`` makes a live check's call (the newest 9) and answers 204, as a check with
nothing new does. Served by the same gunicorn.conf.py, it shows what Flask, requests and
gunicorn cost on their own, so the overhead and live sections can tell the app's share from the
stack's.

    gunicorn --config gunicorn.conf.py 'benchmarks.floor_app:create_app()'
"""

from __future__ import annotations

import json
import os

import requests
from flask import Flask, request, Response

from benchmarks.config import CONVERSATION, PAGE_SIZE, USER

BODY = b"<!doctype html><title>floor</title>" + b"x" * 2400  # a compressed page's size


def create_app() -> Flask:
    app = Flask(__name__)
    upstream = os.environ["MEMOS_BASE_URL"].rstrip("/") + "/get/message"
    session = requests.Session()
    session.trust_env = False  # as the app's client: environment read once, not per call
    session.headers.update({"Content-Type": "application/json",
                            "Authorization": f"Token {os.environ.get('MEMOS_API_KEY', '')}"})
    prepared = session.prepare_request(requests.Request("POST", upstream))

    def read(limit: int) -> None:
        payload = {"user_id": request.args.get("user_id", USER),
                   "conversation_id": request.args.get("conversation_id", CONVERSATION),
                   "message_limit_number": limit}
        call = prepared.copy()
        call.prepare_body(data=json.dumps(payload).encode(), files=None)
        answer = session.send(call, timeout=(3.05, 10))
        answer.raise_for_status()

    @app.get("/chat")
    def chat() -> Response:
        read(PAGE_SIZE + 1)
        return Response(BODY, mimetype="text/html")

    @app.get("/chat/newer")
    def newer() -> tuple[str, int]:
        read(PAGE_SIZE + 3)  # what a live check asks for
        return "", 204  # nothing new

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    return app
