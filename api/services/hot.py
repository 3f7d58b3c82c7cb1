"""The process's hot-path Redis connection (`store.resp`), bound to the serving state.

Created on first use from the state's resolved Redis URL; after Redis restarts it reconnects
by itself on the next request. `close(state)` at shutdown.
"""

from __future__ import annotations

from typing import Any

from store.resp import RespConnection

TIMEOUT = 2.0  # seconds, as the redis-py client's: fail fast to the degraded answer


def connection(state: Any) -> RespConnection | None:
    """The state's hot connection (None before the state has a Redis URL)."""
    conn: RespConnection | None = getattr(state, "_hot", None)
    if conn is None:
        endpoint = getattr(state, "endpoint", None)
        url = getattr(endpoint, "url", None)
        if url is None:
            return None
        conn = state._hot = RespConnection(url, timeout=TIMEOUT)
    return conn


def close(state: Any) -> None:
    conn: RespConnection | None = getattr(state, "_hot", None)
    if conn is not None:
        conn.close()
        state._hot = None
