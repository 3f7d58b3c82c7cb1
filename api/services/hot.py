"""The process's hot-path Redis connection (`store.resp`), held by the serving state.

Created on first use from the state's resolved Redis URL (`redis+cluster://`: one connection
per primary, commands by slot, `store.resp_cluster`); after Redis restarts it reconnects
by itself on the next request. The serving state closes it when it stops.
"""

from __future__ import annotations

from api.state import ServingState
from store.resp import RespConnection
from store.resp_cluster import hot_connection

TIMEOUT = 2.0  # seconds, as the redis-py client's: fail fast to the degraded answer


def connection(state: ServingState) -> RespConnection | None:
    """The state's hot connection (None before the state has a Redis URL)."""
    conn = state.hot
    if conn is None:
        url = state.endpoint.url
        if url is None:
            return None
        conn = state.hot = hot_connection(url, timeout=TIMEOUT)  # slot-aware on a cluster
    return conn
