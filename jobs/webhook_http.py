"""One webhook POST with a hard deadline: the whole exchange (connect, send, the answer's
status, headers and up to 64 KiB of body) ends within `timeout` seconds.

A socket timeout alone bounds each read, not their sum: a receiver that trickles one byte
a second would hold a delivery thread for as long as it liked. A timer shuts the socket down
at the deadline, which wakes the blocked read. No redirects are followed (the signed body
would go to a host the allow-list never saw) and no proxy from the environment is used.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

ANSWER_BYTES = 65_536


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> str | None:
    """POST once; None on a 2xx answer, else why it failed."""
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    expired = threading.Event()
    timer = threading.Timer(timeout, _abort, (conn, expired))
    timer.daemon = True
    timer.start()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        answer = conn.getresponse()
        answer.read(ANSWER_BYTES)
        status = answer.status
    except TimeoutError:
        return f"timed out after {timeout:g} s"
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            return f"timed out after {timeout:g} s"
        return f"connection failed: {type(exc).__name__}: {exc}"
    finally:
        timer.cancel()
        conn.close()
    if expired.is_set():  # the answer was complete just as the deadline struck: still late
        return f"timed out after {timeout:g} s"
    return None if 200 <= status < 300 else f"HTTP {status}"


def _abort(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    expired.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)
