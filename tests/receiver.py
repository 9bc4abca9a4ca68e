"""A webhook receiver for tests: an HTTP server on 127.0.0.1 that records every request and
answers with the statuses it is told (then 200), and an independent Standard Webhooks
signature check (not the app's code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# app settings for tests that deliver to a receiver: 127.0.0.1 allowed, retries due at once
FAST_DELIVERY = {
    "REGISTRY_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "REGISTRY_WEBHOOK_RETRY_BASE_SECONDS": 0.001,
    "REGISTRY_WEBHOOK_TIMEOUT_SECONDS": 3.0,
}


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answered in order; 200 once empty
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8")
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append(
                        {
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "status": status,
                            "path": self.path,
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"nope " * 400)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def accepted(self) -> list[dict[str, Any]]:
        """The JSON bodies of requests answered 2xx, in arrival order."""
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if r["status"] < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, headers: dict[str, str], body: str) -> bool:
    """Standard Webhooks verification, written from the specification."""
    key = base64.b64decode(secret.split("_", 1)[1])
    msg = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, part.split(",", 1)[1])
        for part in headers["webhook-signature"].split(" ")
        if part.startswith("v1,")
    )


def receivers() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
