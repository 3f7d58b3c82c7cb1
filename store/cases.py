"""Follow-up cases in Redis: open-or-join, read, update with a version check, list by index.

Keys (`store.keys`): a hash per case `tp:{cases}:case:ID` (every field a string; `version`
grows by one per change), its notes `tp:{cases}:notes:ID` (JSON list), and listing indexes
`tp:{cases}:ix:ORDER:DIM:VALUE` (sorted sets; ORDER `new` = newest first, `urgent` = most
urgent priority, then the earliest due; DIM status, queue, touchpoint, priority; and
`ix:ORDER:all`). Each customer's open cases: `open_cases_key` (touchpoint → case id).

Each change is one script (`store.case_scripts`): the case, its indexes, the open-cases
hash and the appends to the `cases` stream (drained into DIR/cases/ by `touchpoint ingest`)
and to the `case-events` stream (webhooks, `store.case_events`) happen together or not at
all (with Redis's AOF, as durable as the events). Both streams are in the `{cases}` slot
(`Keys.stream_base`). On Redis Cluster (`cluster=True`) the customer's open-cases hash is
in the customer's slot, so the scripts keep the open cases in `Keys.open_cases` (the
`{cases}` slot) and the customer's hash is a copy written beside the script, not in it
(`HSETNX` on opening, a compare-and-delete on closing): a crash between the two leaves the
copy one change behind. Every case is in one slot, so on one shard of the cluster.

Fields the webhook worker reads: `case_id`, `status` (open, contacted, resolved,
closed_no_action), `queue`, `due_at` (ISO 8601 UTC, `...Z`) and `due_ms` (epoch ms).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from insights.followup import TERMINAL
from store.case_events import CASE_EVENTS, MAXLEN, case_event, open_cases_key
from store.case_scripts import FORGET_OPEN, LIST, OPEN_OR_JOIN, UPDATE
from store.events import CASES
from store.feedback import feedback_key
from store.keys import Keys

ORDERS = ("newest", "urgent")
_ORDER_KEY = {"newest": "new", "urgent": "urgent"}
FILTERS = ("status", "queue", "touchpoint", "priority")
SCAN_BUDGET = 2000  # index entries one page may walk past; a page may come back short
NUMERIC = ("version", "score", "severity", "answers", "priority_rank", "created_ms", "due_ms")


def new_case_id() -> str:
    return f"case-{uuid.uuid4().hex[:16]}"


def _open_cases(keys: Keys, customer_id: str, cluster: bool) -> str:
    """The open-cases hash the scripts keep (see the module)."""
    return keys.open_cases(customer_id) if cluster else open_cases_key(keys, customer_id)


def queue_open_case(
    pipe: Any, keys: Keys, case: Mapping[str, Any], *, now_iso: str, cluster: bool = False
) -> None:
    """Queue on a (sync or async) pipeline: open `case` (the fields of
    `insights.followup.plan_case`, plus `created_ms`, `due_ms`), or join the customer's open
    case at its touchpoint. The pipeline's reply for it is `[kind, case id]` (on a cluster
    followed by the copy's `HSETNX` reply)."""
    fields = {k: str(v) for k, v in case.items()}
    case_id = new_case_id()
    # one entry: the script makes it `case.joined` (about the open case) when it joins
    entry = case_event("case.opened", {"case_id": case_id, "queue": fields["queue"]})
    pipe.eval(
        OPEN_OR_JOIN,
        4,
        _open_cases(keys, fields["customer_id"], cluster),
        keys.cases(f"case:{case_id}"),
        keys.stream(CASES),
        keys.stream(CASE_EVENTS),
        fields["touchpoint"],
        case_id,
        orjson.dumps(fields),
        orjson.dumps(entry),
        keys.cases(""),
        MAXLEN,
        now_iso,
    )
    if cluster:  # a join leaves the copy as it is: it names the open case already
        pipe.hsetnx(open_cases_key(keys, fields["customer_id"]), fields["touchpoint"], case_id)


def decode_case(raw: Mapping[bytes, bytes] | Sequence[bytes] | None) -> dict[str, Any] | None:
    """A case hash (HGETALL dict, or a script's flat list) → typed fields; None if missing."""
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raw = dict(zip(raw[::2], raw[1::2], strict=True))
    case: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for name in NUMERIC:
        if name in case:
            case[name] = int(float(case[name]))
    for name in ("priority_score", "value"):
        if name in case:
            case[name] = float(case[name])
    return case


async def read_case(client: Any, keys: Keys, case_id: str) -> dict[str, Any] | None:
    """The case with its notes (oldest first), or None."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.cases(f"case:{case_id}"))
    pipe.lrange(keys.cases(f"notes:{case_id}"), 0, -1)
    raw, notes = await pipe.execute()
    case = decode_case(raw)
    if case is not None:
        case["notes"] = [orjson.loads(n) for n in notes]
    return case


@dataclass(frozen=True)
class UpdateResult:
    outcome: str  # "ok", "missing", "stale"
    version: int | None = None


async def update_case(
    client: Any,
    keys: Keys,
    case: Mapping[str, Any],
    *,
    version: int,
    changes: Mapping[str, str],
    note: Mapping[str, Any] | None,
    kind: str,
    cluster: bool = False,
) -> UpdateResult:
    """Apply `changes` (string fields) if the case is still at `version`; append `note`;
    announce `kind` on both streams. `case` is the version the caller checked."""
    case_id = str(case["case_id"])
    customer_id = str(case["customer_id"])
    entry = case_event(kind, {"case_id": case_id, "queue": case.get("queue", "")})
    reply = await client.eval(
        UPDATE,
        5,
        keys.cases(f"case:{case_id}"),
        _open_cases(keys, customer_id, cluster),
        keys.stream(CASES),
        keys.stream(CASE_EVENTS),
        keys.cases(f"notes:{case_id}"),
        str(version),
        orjson.dumps(dict(changes)),
        orjson.dumps(dict(note)) if note else "",
        orjson.dumps(entry),
        keys.cases(""),
        MAXLEN,
        case_id,
    )
    outcome = reply[0].decode()
    current = int(reply[1]) if len(reply) > 1 and reply[1] is not None else None
    if cluster and outcome == "ok" and changes.get("status") in TERMINAL:
        await client.eval(FORGET_OPEN, 1, open_cases_key(keys, customer_id),
                          str(case["touchpoint"]), case_id)  # fmt: skip
    return UpdateResult(outcome, current)


@dataclass(frozen=True)
class Page:
    cases: list[dict[str, Any]]
    cursor: str | None  # None: nothing more


def encode_cursor(order: str, score: str, case_id: str) -> str:
    raw = orjson.dumps([order, score, case_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> tuple[str, str]:
    """(score, case id) of a cursor made for `order`; ValueError when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, score, case_id = orjson.loads(raw)
        float(score)
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise ValueError("not a cursor this listing made") from exc
    if made_for != order:
        raise ValueError(f"a cursor of the {made_for} order, not {order}")
    return str(score), str(case_id)


def list_args(
    keys: Keys,
    *,
    order: str,
    filters: Mapping[str, str],
    cursor: str | None,
    limit: int,
    budget: int = SCAN_BUDGET,
) -> list[Any]:
    """The LIST script's ARGV (raises ValueError for a bad cursor)."""
    score, case_id = decode_cursor(cursor, order) if cursor else ("", "")
    args: list[Any] = [keys.cases(""), _ORDER_KEY[order], score, case_id, limit, budget]
    for name in FILTERS:
        if filters.get(name):
            args += [name, filters[name]]
    return args


def decode_page(reply: Sequence[Any], order: str) -> Page:
    score, case_id, done = (x.decode() if isinstance(x, bytes) else x for x in reply[:3])
    cases = [c for c in (decode_case(flat) for flat in reply[3:]) if c is not None]
    more = done == "0" and bool(score)
    return Page(cases, encode_cursor(order, score, case_id) if more else None)


async def list_cases(
    client: Any,
    keys: Keys,
    *,
    order: str = "newest",
    filters: Mapping[str, str] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of cases in `order`, matching every filter (status, queue, touchpoint,
    priority); pass the returned cursor for the next page (stable under inserts)."""
    args = list_args(keys, order=order, filters=filters or {}, cursor=cursor, limit=limit)
    # the key names the `{cases}` slot only (a cluster client sends the script there)
    return decode_page(await client.eval(LIST, 1, keys.cases("ix"), *args), order)


async def all_cases(client: Any, keys: Keys, *, chunk: int = 1000) -> list[dict[str, Any]]:
    """Every case (newest first), for the report and the export."""
    ids = [i.decode() for i in await client.zrange(keys.cases("ix:new:all"), 0, -1)]
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), chunk):
        pipe = client.pipeline(transaction=False)
        for case_id in ids[start : start + chunk]:
            pipe.hgetall(keys.cases(f"case:{case_id}"))
        out += [c for c in (decode_case(raw) for raw in await pipe.execute()) if c is not None]
    return out


async def latest_nps(client: Any, keys: Keys, customers: Sequence[str]) -> dict[str, Any]:
    """Each customer's latest NPS answer kept for the profile (`store.feedback`)."""
    pipe = client.pipeline(transaction=False)
    for customer_id in customers:
        pipe.hget(feedback_key(keys, customer_id), "nps")
    replies = await pipe.execute() if customers else []
    return {c: orjson.loads(r) for c, r in zip(customers, replies, strict=True) if r}


def decode_open_cases(raw: Mapping[bytes, bytes] | None) -> dict[str, str]:
    """The open-cases hash → {touchpoint: case id}."""
    return {k.decode(): v.decode() for k, v in (raw or {}).items()}
