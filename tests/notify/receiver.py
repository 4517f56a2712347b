"""A real webhook receiver on a local port (threaded http.server), as a merchant would run.

It checks each request's signature with the shared secret, dedupes on the Idempotency-Key
(the outbox's message id) and records everything, so tests can see what arrived how many
times. `hold()` makes the next request(s) block until `release()`: a receiver that is slow
at the wrong moment. Also used by tests/faults/.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shouhou.notify.channels import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Arrival:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def message_id(self) -> str:
        return self.headers.get("Idempotency-Key") or self.headers.get(MESSAGE_ID_HEADER, "")


@dataclass
class Receiver:
    secret: str = "whsec-test-秘钥"
    port: int = field(default_factory=free_port)
    status: int = 200
    require_signature: bool = True  # group robots (WeCom, DingTalk) are not HMAC-signed
    reply: bytes = b'{"ok":true}'
    arrivals: list[Arrival] = field(default_factory=list)
    # message id → the first arrival; a repeat is acknowledged but has no effect.
    effects: dict[str, Arrival] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _hold: threading.Event | None = None
    hold_at: int | None = None  # the n-th arrival (1-based) and later ones block
    held: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/shouhou"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items()}
                ok = verify_signature(
                    receiver.secret,
                    body,
                    self.headers.get(TIMESTAMP_HEADER),
                    self.headers.get(SIGNATURE_HEADER),
                )
                arrival = Arrival(self.path, headers, body, ok)
                with receiver._lock:
                    receiver.arrivals.append(arrival)
                    if ok and arrival.message_id:
                        receiver.effects.setdefault(arrival.message_id, arrival)
                    if receiver.hold_at is not None and len(receiver.arrivals) >= receiver.hold_at:
                        receiver.hold_at = None
                        receiver._hold = threading.Event()
                    hold = receiver._hold
                if hold is not None:
                    receiver.held.set()
                    hold.wait(timeout=120)
                    # Never answer a held request: its sender is gone (or about to be).
                    self.close_connection = True
                    return
                ok = ok or not receiver.require_signature
                status = receiver.status if ok else 401
                reply = receiver.reply if ok else b'{"error":"bad signature"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hold(self) -> None:
        with self._lock:
            self._hold = threading.Event()
            self.held.clear()

    def release(self) -> None:
        with self._lock:
            hold, self._hold = self._hold, None
        if hold is not None:
            hold.set()

    def ids(self) -> list[str]:
        with self._lock:
            return [a.message_id for a in self.arrivals]

    def count(self, message_id: str) -> int:
        return self.ids().count(message_id)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.release()
        self.stop()


__all__ = ["Arrival", "Receiver", "free_port", "MESSAGE_ID_HEADER"]
