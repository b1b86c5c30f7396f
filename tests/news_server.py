"""A real HTTP server on 127.0.0.1 for the source tests: routes of fixed responses, ETag/Last-Modified, redirects, delays."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """What the server answers for one path.

    `redirect` sends a 302 to that location; `delay_s` waits before answering; `truncate` sends only the
    first bytes of the body with the full Content-Length and closes; `validators` adds an ETag and a
    Last-Modified and answers conditional requests with 304.
    """

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    redirect: str | None = None
    delay_s: float = 0.0
    truncate: int | None = None
    validators: bool = True
    modified: float = 1_530_000_000.0


class NewsServer:
    """Serves `routes` (path -> Route) on 127.0.0.1 at `port` (a free one by default), in a thread, until `stop()`."""

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.not_modified: dict[str, int] = {}
        self.user_agents: set[str] = set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, each response waits for a delayed ACK (~40 ms).
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.hits[path] = server.hits.get(path, 0) + 1
                    server.user_agents.add(self.headers.get("User-Agent", ""))
                    route = server.routes.get(path)
                if route is None:
                    self._send(404, b"not found", "text/plain")
                    return
                if route.delay_s:
                    time.sleep(route.delay_s)
                if route.redirect:
                    self.send_response(302)
                    self.send_header("Location", route.redirect)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {}
                if route.validators and route.status == 200:
                    etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                    modified = formatdate(route.modified, usegmt=True)
                    headers = {"ETag": etag, "Last-Modified": modified}
                    if self.headers.get("If-None-Match") == etag or (
                        self.headers.get("If-None-Match") is None and self.headers.get("If-Modified-Since") == modified
                    ):
                        with server._lock:
                            server.not_modified[path] = server.not_modified.get(path, 0) + 1
                        self.send_response(304)
                        for key, value in headers.items():
                            self.send_header(key, value)
                        self.end_headers()
                        return
                body = route.body
                if route.truncate is not None:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:route.truncate])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(route.status, body, route.content_type, headers)

            def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="news-server", daemon=True)

    def start(self) -> NewsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> NewsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
