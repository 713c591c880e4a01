"""A pass-through HTTP proxy between the FDW and the emulator that records what neither of them
reports: when each request started and ended, its answer's status, and how many were in flight at
once. Tests point a server's api_url at it; it changes nothing in the requests or the answers."""
from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    started: float
    ended: float
    body: bytes


class RecordingProxy:
    def __init__(self, target_url: str):
        target = urlsplit(target_url)
        self._host, self._port = target.hostname, target.port
        self.exchanges: List[Exchange] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "RecordingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()
            self.max_in_flight = self.in_flight

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self, exchange: Exchange) -> None:
        with self._lock:
            self.in_flight -= 1
            self.exchanges.append(exchange)

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}}
                proxy._enter()
                started = time.monotonic()
                upstream = http.client.HTTPConnection(proxy._host, proxy._port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                    status, answer_headers = answer.status, answer.getheaders()
                finally:
                    upstream.close()
                    ended = time.monotonic()
                proxy._leave(Exchange(self.command, self.path.split("?")[0], status, started, ended, payload))
                self.send_response(status)
                for name, value in answer_headers:
                    if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        return Handler
