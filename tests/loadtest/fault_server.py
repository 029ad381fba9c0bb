"""A deliberately bad target for the load test's own tests: answers checkout and the order list
properly (so journeys get going), then cycles the rest through a 503, a response slower than the
client's timeout, a connection reset and a 200 with a body the spec does not allow.

Run: ``python tests/loadtest/fault_server.py`` (prints ``listening on http://127.0.0.1:PORT``)."""

from __future__ import annotations

import itertools
import json
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid

FAULTS = ("unavailable", "slow", "reset", "bogus")
SLOW_S = 2.0
_cycle = itertools.cycle(FAULTS)
_lock = threading.Lock()


def _next_fault() -> str:
    with _lock:
        return next(_cycle)


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line:
                return
            method, path, _ = line.decode("latin-1").split(" ", 2)
            length = 0
            while True:
                header = self.rfile.readline().decode("latin-1").strip()
                if not header:
                    break
                name, _, value = header.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length:
                self.rfile.read(length)
            path = path.split("?", 1)[0]
            if method == "GET" and path == "/api/orders/":
                self._send(200, {"count": 0, "next": None, "previous": None, "results": []})
            elif method == "POST" and path == "/api/orders/":
                oid = str(uuid.uuid4())
                self._send(201, {"id": oid, "order_status": "ORDER_PLACED",
                                 "delivery_person": None})  # fmt: skip
            else:
                fault = _next_fault()
                if fault == "unavailable":
                    self._send(503, {"detail": "injected outage", "code": "unavailable"})
                elif fault == "slow":
                    time.sleep(SLOW_S)
                    self._send(200, {"detail": "too late"})
                elif fault == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    return
                else:
                    self._send(200, {"status": "SOMETHING_ELSE", "otp": "12"})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        self.wfile.write(head + data)
        self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> None:
    with Server(("127.0.0.1", 0), Handler) as srv:
        print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
