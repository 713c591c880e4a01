"""A scripted stand-in for Intercom's HTTP side, for the client's unit tests.

It is a real HTTP server on 127.0.0.1 (http.server in a thread): the client under test runs its
real requests.Session, retries, timeouts and parsing against it. Each test scripts the answers
with a handler `(SeenRequest) -> Reply`. This module holds no tests of its own; it is named
test_client_* so that it lives with the client's tests.
"""
from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

from intercom_fdw.client import IntercomClient

TOKEN = "tok_SECRET_abc123XYZ"


@dataclass
class SeenRequest:
    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: Optional[dict]
    peer: tuple  # the client's (host, port): one per TCP connection


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict/list -> JSON, str -> text, bytes -> as they are, None -> empty
    headers: Dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    cut_short: bool = False  # promise a longer body than is sent, then close (a connection lost mid-body)
    delay: float = 0.0  # real seconds before answering (read timeouts)


def error_list(code: str, message: str, request_id: str = "req-1") -> dict:
    return {"type": "error.list", "request_id": request_id, "errors": [{"code": code, "message": message}]}


class IntercomDouble:
    def __init__(self, handler: Callable[[SeenRequest], Reply]):
        self.handler = handler
        self.seen: List[SeenRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def paths(self) -> List[str]:
        return [r.path for r in self.seen]

    def _handler_class(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like Intercom

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # headers and body are two writes: without this, Nagle + delayed ACK add 40 ms a call
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = SeenRequest(
                    method=self.command,
                    path=parts.path,
                    query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                    headers=dict(self.headers.items()),
                    body=_decoded(raw, self.headers.get("Content-Type", "")),
                    peer=self.client_address,
                )
                with double._lock:
                    double.seen.append(seen)
                    double.in_flight += 1
                    double.max_in_flight = max(double.max_in_flight, double.in_flight)
                try:
                    reply = double.handler(seen)
                    if reply.delay:
                        time.sleep(reply.delay)
                finally:
                    with double._lock:
                        double.in_flight -= 1
                if reply.drop:
                    self.close_connection = True
                    return
                if isinstance(reply.body, (dict, list)):
                    payload, kind = json.dumps(reply.body).encode(), "application/json"
                elif isinstance(reply.body, str):
                    payload, kind = reply.body.encode(), "text/html"
                elif isinstance(reply.body, bytes):
                    payload, kind = reply.body, reply.headers.get("Content-Type", "application/json")
                else:
                    payload, kind = b"", "application/json"
                self.send_response(reply.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload) + (10 if reply.cut_short else 0)))
                for name, value in reply.headers.items():
                    if name != "Content-Type":
                        self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
                if reply.cut_short:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler


def _decoded(raw: bytes, content_type: str):
    if not raw:
        return None
    if content_type.startswith("application/x-www-form-urlencoded"):
        return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
    return json.loads(raw)


class FakeClock:
    """Injected as the client's clock and sleep: sleeping is recorded and (unless `advance` is
    False, to see each thread's planned wait) advances time instantly."""

    def __init__(self, now: float = 1_700_000_000.0, advance: bool = True):
        self.now = now
        self.advance = advance
        self.sleeps: List[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if self.advance:
                self.now += seconds


def client_against(double: IntercomDouble, clock: Optional[FakeClock] = None, **options) -> IntercomClient:
    clock = clock or FakeClock()
    options.setdefault("read_timeout", 5)
    # Its own directory for the rate budget and scroll lock files: they are named by (URL, token), and
    # a later double on the same port would otherwise find an earlier test's spent budget there.
    options.setdefault("scroll_lock_dir", tempfile.mkdtemp(prefix="intercom_fdw-double-"))
    return IntercomClient(double.url, TOKEN, clock=clock, sleep=clock.sleep, **options)


@contextlib.contextmanager
def serve(handler: Callable[[SeenRequest], Reply]):
    with IntercomDouble(handler) as double:
        yield double


def replies(*scripted: Reply) -> Callable[[SeenRequest], Reply]:
    """A handler answering with the given replies in order (the last one repeats)."""
    queue = list(scripted)
    lock = threading.Lock()

    def handler(_request: SeenRequest) -> Reply:
        with lock:
            return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler
