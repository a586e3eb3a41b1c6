"""A webhook receiver on 127.0.0.1 as docs/integrations.md tells an integrator to write one: it checks
the signature and the timestamp, and processes each delivery id once."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from yiwang.integrations.services import verify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Not listening until ``start``: until then every POST is refused by the operating system."""

    def __init__(self, secret: str, port: int | None = None):
        self.secret = secret
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[str] = []  # every request's delivery id, repeats included
        self.processed: dict[str, dict] = {}  # what the receiver acted on: each id once
        self.bad_signatures = 0
        self.status = 200
        self.hang = 0.0  # seconds to sleep before answering (after processing)
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                delivery = self.headers.get("X-Yiwang-Delivery", "")
                ok = verify(receiver.secret, self.headers.get("X-Yiwang-Timestamp", ""), body,
                            self.headers.get("X-Yiwang-Signature", ""))
                with receiver.lock:
                    receiver.received.append(delivery)
                    if not ok:
                        receiver.bad_signatures += 1
                    elif receiver.status < 300 and delivery not in receiver.processed:
                        receiver.processed[delivery] = json.loads(body)
                if receiver.hang:
                    time.sleep(receiver.hang)
                self.send_response(receiver.status if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
