"""A fake OpenAI-compatible API on 127.0.0.1 (random port) for the providers' tests: the real openai client talks
real HTTP to it. `answer(request_json, n)` decides the n-th reply, as (status, JSON body) or (status, JSON body,
extra headers); every request, GETs too, is recorded with its method, path, lower-cased headers and JSON body.
`route`: the one POST path served (others get 404); None serves any path."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]


class FakeOpenAI:
    def __init__(self, answer: Callable[[dict[str, Any], int], Reply], route: str | None = None):
        self.answer = answer
        self.route = route
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    server.requests.append({"method": "GET", "path": self.path, "headers": {}, "json": None})
                self._send(404, {"error": {"message": "no"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                headers = {name.lower(): value for name, value in self.headers.items()}
                with server.lock:
                    server.requests.append({"method": "POST", "path": self.path, "headers": headers, "json": body})
                    n = len(server.requests)
                if server.route is not None and self.path != server.route:
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                self._send(*server.answer(body, n))

            def _send(self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    pass

            def log_message(self, *args):  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
