"""A fake OpenAI-compatible chat-completions server for the planner's tests (the openai backend and
the planner node): records each request, answers per path, can fail on script or hang until released."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ChatServer:
    """``/v1/chat/completions`` answers ``answer`` as a string, ``/chat/completions`` as a list of text
    parts, ``/not-json`` with HTML, any other path 404. ``failures`` (HTTP codes) are answered first;
    with ``hang``, every request waits until :attr:`release` is set. Use it as a context manager."""

    def __init__(self, answer: str, hang: bool = False) -> None:
        self.answer = answer
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.failures: list[int] = []
        self.release = threading.Event()
        if not hang:
            self.release.set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, dict(self.headers), body))
                server.release.wait()
                if server.failures:
                    self._send(server.failures.pop(0), b'{"error": "scripted failure"}')
                elif self.path == "/v1/chat/completions":
                    self._send(
                        200, json.dumps({"choices": [{"message": {"content": server.answer}}]}).encode()
                    )
                elif self.path == "/chat/completions":
                    half = len(server.answer) // 2
                    parts = [
                        {"type": "text", "text": server.answer[:half]},
                        {"type": "text", "text": server.answer[half:]},
                    ]
                    self._send(200, json.dumps({"choices": [{"message": {"content": parts}}]}).encode())
                elif self.path == "/not-json":
                    self._send(200, b"<html>proxy error</html>")
                else:
                    self._send(404, b'{"detail": "Not Found"}')

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
