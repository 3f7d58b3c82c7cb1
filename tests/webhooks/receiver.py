"""A real HTTP server on 127.0.0.1 that receives webhooks for a test, in a thread.

`plan` says how to answer each request in turn (an HTTP status, `HANG`: hold the
connection until `release()`, or `TRICKLE`); after the plan runs out every request gets
`then`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = "hang"
TRICKLE = "trickle"  # a complete 200 answer, one byte every 0.1 s (about 4 s in all)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | str


class Receiver:
    def __init__(self, plan: list[int | str] | None = None, *, then: int | str = 200) -> None:
        self.plan = list(plan or [])
        self.then = then
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        self.released = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.arrived:
                    answer = outer.plan.pop(0) if outer.plan else outer.then
                    outer.received.append(
                        Received(self.path, dict(self.headers.items()), body, answer)
                    )
                    outer.arrived.notify_all()
                if answer == HANG:
                    outer.released.wait(30)
                    return  # the client gave up long ago; answer nothing
                if answer == TRICKLE:
                    for byte in b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n":
                        if outer.released.wait(0.1):
                            return
                        try:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        except OSError:
                            return  # the client hung up
                    return
                self.send_response(int(answer))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 drops connections under parallel senders

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """Block until `count` requests arrived (a generous bound, not a timing check)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def release(self) -> None:
        self.released.set()
