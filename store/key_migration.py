"""Renaming the keys of an older layout to today's (`touchpoint migrate-keys`).

Two groups of keys moved to hash tags that keep what changes together in one Redis Cluster
slot (`store.keys`):
- the A/B experiments: `tp:g:exp:defs` and `tp:g:exp:defs:rev` → `tp:{exp}:defs…`;
  `tp:g:exp:KEY:TABLE` → `tp:{exp:KEY}:TABLE` (TABLE one of `store.experiment_store`'s);
- the streams a case's script appends to: `tp:{s:STREAM}:…` → `tp:{cases}:s:STREAM:…` for
  `cases` and `case-events` (the stream itself, its idempotency marks, lock and consumer
  state; a renamed stream keeps its consumer groups and pending entries).

Idempotent: a renamed key is not found again. On one Redis server a key moves by RENAMENX
(atomic, keeps its TTL); on a Redis Cluster, when the two names are in different slots, by
DUMP + RESTORE (with its TTL) + DEL. A key whose new name is taken is left alone and reported
as a conflict, unless both hold the same value (a move interrupted after its RESTORE): then
the old one is deleted. Run it with the API, `touchpoint ingest` and the workers stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import redis
from redis.crc import key_slot

from store.cluster import is_cluster_client
from store.experiment_store import ROW_FIELDS
from store.keys import CASE_STREAMS, Keys

Rename = Callable[[str], str | None]  # old key → new key (None: not a key of the old layout)


@dataclass
class Migration:
    renamed: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)


def _experiment_rename(keys: Keys) -> tuple[str, Rename]:
    prefix = f"{keys.namespace}:g:exp:"

    def rename(old: str) -> str | None:
        rest = old[len(prefix) :]
        if rest in ("defs", "defs:rev"):
            return keys.experiments(rest)
        experiment, _, table = rest.rpartition(":")
        return keys.experiment(experiment, table) if experiment and table in ROW_FIELDS else None

    return prefix + "*", rename


def _case_stream_rename(keys: Keys, stream: str) -> tuple[str, Rename]:
    prefix = f"{keys.namespace}:{{s:{stream}}}:"

    def rename(old: str) -> str | None:
        return f"{keys.stream_base(stream)}:{old[len(prefix) :]}"

    return prefix + "*", rename


def rules(keys: Keys) -> list[tuple[str, Rename]]:
    """(SCAN pattern of the old keys, their new name) per group."""
    return [_experiment_rename(keys)] + [_case_stream_rename(keys, s) for s in CASE_STREAMS]


def planned(client: redis.Redis, keys: Keys) -> Iterator[tuple[str, str]]:
    """(old, new) of every key of the old layout (SCAN: every primary on a cluster)."""
    for pattern, rename in rules(keys):
        for raw in client.scan_iter(match=pattern, count=1000):
            old = raw.decode() if isinstance(raw, bytes) else str(raw)
            new = rename(old)
            if new is not None and new != old:
                yield old, new


def _move(client: redis.Redis, old: str, new: str) -> bool:
    """Move `old` to `new`; False when `new` holds something else (a conflict)."""
    if not is_cluster_client(client) or key_slot(old.encode()) == key_slot(new.encode()):
        if client.renamenx(old, new):
            return True
    else:
        dumped = client.dump(old)
        if dumped is None:  # gone meanwhile: nothing to move
            return True
        ttl = int(client.pttl(old))  # type: ignore[arg-type]
        if not client.exists(new):
            client.restore(new, max(ttl, 0), dumped)  # type: ignore[arg-type]
            client.delete(old)
            return True
    if client.dump(old) == client.dump(new):  # an earlier move stopped after its copy
        client.delete(old)
        return True
    return False


def migrate(client: redis.Redis, keys: Keys, *, dry_run: bool = False) -> Migration:
    """Rename every key of the old layout (see the module); `dry_run`: only list them."""
    result = Migration()
    for old, new in list(planned(client, keys)):
        if dry_run or _move(client, old, new):
            result.renamed.append((old, new))
        else:
            result.conflicts.append((old, new))
    return result
