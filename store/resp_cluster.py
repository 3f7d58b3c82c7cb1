"""The API's hot connection on Redis Cluster: `store.resp` per primary, commands by slot.

`ClusterRespConnection` has `RespConnection`'s interface (`execute`, `execute_many`,
`submit`, `close`), so the hot path's readers and writers take either. It learns which
primary serves which slot with `CLUSTER SLOTS` (from the URL's seed nodes, then from any
node it knows), keeps one `RespConnection` per primary, and splits each batch of commands
by the slot of each command's first key (a script's first key; every key of one script
shares a hash tag, see `store.keys`), sending every node's share in one write and putting
the replies back in the caller's order. Commands naming no key (`SCRIPT LOAD`) go to every
primary, so a script is known wherever its calls land. A `MOVED` reply (slots moved, a
replica promoted) re-reads the slot map and re-sends those commands (an `ASK`, during a live
resharding, is not followed: it comes back as an error reply); a lost connection
fails the batch as on one server (the caller answers degraded) and the next call re-reads
the slot map, so the API follows a failover without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from store.cluster import parse_cluster_url
from store.resp import Command, RespConnection

SLOTS = 16384
REDIRECTS = 3  # MOVED rounds before giving up on a command
BROADCAST = -1  # a command for every primary
ANY = -2  # a command naming no key, for any primary
Sent = list[tuple[list[int], "asyncio.Future[list[Any]]"]]  # command indices, their replies


def command_slot(command: Command) -> int:
    """The slot a command's key is in; `BROADCAST` for `SCRIPT …`, `ANY` without a key."""
    name = str(command[0]).upper()
    if name == "SCRIPT":
        return BROADCAST
    if name in ("EVAL", "EVALSHA"):
        key = command[3] if int(command[2]) > 0 else None
    else:
        key = command[1] if len(command) > 1 else None
    if key is None:
        return ANY
    return key_slot(key.encode() if isinstance(key, str) else bytes(key))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClusterRespConnection(RespConnection):
    """`RespConnection` over the primaries of a Redis Cluster (see the module)."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        super().__init__(url, timeout=timeout)
        self.address = parse_cluster_url(url)
        self.owners: list[str] = []  # slot → "host:port" of its primary (empty: unknown)
        self.primaries: list[str] = []  # the owners, once each (for `SCRIPT …`)
        self.nodes: dict[str, RespConnection] = {}
        self._mapping: asyncio.Future[None] | None = None

    def _node(self, name: str) -> RespConnection:
        conn = self.nodes.get(name)
        if conn is None:
            auth = ""
            if self.address.password:
                auth = f"{self.address.username or 'default'}:{self.address.password}@"
            conn = self.nodes[name] = RespConnection(f"redis://{auth}{name}", timeout=self.timeout)
        return conn

    async def refresh_slots(self) -> None:
        """Re-read the slot map (one reader at a time; concurrent callers share it)."""
        if self._mapping is None:
            self._mapping = asyncio.ensure_future(self._read_slots())
        mapping = self._mapping
        try:
            await asyncio.shield(mapping)
        finally:
            if mapping.done() and self._mapping is mapping:
                self._mapping = None

    async def _read_slots(self) -> None:
        seeds = [f"{h}:{p}" for h, p in self.address.nodes]
        candidates = list(dict.fromkeys([*self.nodes, *seeds]))
        last: Exception | None = None
        for name in candidates:
            try:
                reply = await self._node(name).execute("CLUSTER", "SLOTS")
            except RedisError as exc:
                last = exc
                continue
            owners = [""] * SLOTS
            for start, end, primary, *_replicas in reply:
                host = _text(primary[0]) or name.rsplit(":", 1)[0]
                owner = f"{host}:{int(primary[1])}"
                for slot in range(int(start), int(end) + 1):
                    owners[slot] = owner
            self.owners, self.primaries = owners, sorted(set(owners) - {""})
            for gone in set(self.nodes) - set(owners) - set(seeds):
                self.nodes.pop(gone).close()
            return
        raise RedisConnectionError(f"no Redis Cluster node answered CLUSTER SLOTS: {last}")

    def _route(self, commands: Sequence[Command]) -> dict[str, list[int]]:
        """Primary → the indices of the commands it takes, in the caller's order."""
        owners, primaries = self.owners, self.primaries
        if not owners:  # another call's failure forgot the map while this one waited
            raise RedisConnectionError("the Redis Cluster slot map is being re-read")
        groups: dict[str, list[int]] = {}
        for i, command in enumerate(commands):
            slot = command_slot(command)
            if slot == BROADCAST:
                targets = primaries
            elif slot == ANY:
                targets = primaries[:1]
            else:
                targets = [owners[slot]]
            if not targets or not targets[0]:
                raise RedisConnectionError(f"no Redis Cluster primary serves slot {slot}")
            for target in targets:
                groups.setdefault(target, []).append(i)
        return groups

    def submit(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """As `RespConnection.submit`: with the slot map known, every node's share is queued
        on its connection before this returns."""
        if not self.owners or not commands:
            return asyncio.ensure_future(self.execute_many(commands))
        sent = self._send(commands)
        return asyncio.ensure_future(self._gather(commands, sent, REDIRECTS))

    async def execute_many(self, commands: Sequence[Command]) -> list[Any]:
        if not commands:
            return []
        if not self.owners:
            await self.refresh_slots()
        return await self._gather(commands, self._send(commands), REDIRECTS)

    def _send(self, commands: Sequence[Command]) -> Sent:
        return [
            (indices, self._node(node).submit([commands[i] for i in indices]))
            for node, indices in self._route(commands).items()
        ]

    async def _gather(
        self,
        commands: Sequence[Command],
        sent: Sent,
        redirects: int,
    ) -> list[Any]:
        replies: list[Any] = [None] * len(commands)
        answered = [False] * len(commands)
        failure: BaseException | None = None
        for indices, future in sent:
            try:
                node_replies = await future
            except (RedisError, OSError) as exc:
                failure = failure or exc
                continue
            for i, reply in zip(indices, node_replies, strict=True):
                if not answered[i]:  # a broadcast: the first primary's reply stands
                    replies[i], answered[i] = reply, True
        if failure is not None:
            self.owners = self.primaries = []  # a node went away: re-read the map next call
            raise failure
        moved = [i for i, r in enumerate(replies) if _redirected(r)]
        if moved and redirects > 0:
            await self.refresh_slots()
            again = await self._gather(
                [commands[i] for i in moved], self._send([commands[i] for i in moved]),
                redirects - 1,
            )  # fmt: skip
            for i, reply in zip(moved, again, strict=True):
                replies[i] = reply
        return replies

    def close(self) -> None:
        for conn in self.nodes.values():
            conn.close()
        self.nodes.clear()
        self.owners = self.primaries = []


def _redirected(reply: Any) -> bool:
    return isinstance(reply, ResponseError) and str(reply).startswith("MOVED ")


def hot_connection(url: str, *, timeout: float) -> RespConnection:
    """The hot connection for `url`: slot-aware for `redis+cluster://`, else one server."""
    from store.cluster import is_cluster_url

    if is_cluster_url(url):
        return ClusterRespConnection(url, timeout=timeout)
    return RespConnection(url, timeout=timeout)
