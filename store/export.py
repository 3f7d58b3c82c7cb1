"""Everything Redis holds about one customer, as one JSON-ready document (right of access).

Sections: the live serving version's `profile`, `recommendations`, `history` and `consumed`
(item ids), the live `segments`, `recent_events`, the latest survey answers, their follow-up
`cases` (with notes), the survey-throttling state, A/B `experiments` (rows and exposures) and
`other` — any other key tagged with the customer (whatever a newer part stores, e.g.
consent), decoded by type, so the export never misses what erasure would delete. No pandas:
bytes in, plain Python out. Synchronous client (the API calls it off its event loop).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
import redis

from store import feedback, recent, segments, serving, surveys
from store.case_events import open_cases_key
from store.codec import unpack_ranked
from store.erase import SCAN_COUNT
from store.erase_shared import customer_cases
from store.experiment_store import ROW_FIELDS, ExperimentKeys
from store.keys import Keys

COVERED = frozenset({"recent", "feedback", "feedback-tp", "cases", "surveys", "exp:last"})


def _text(raw: Any) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _live(client: redis.Redis, keys: Keys, artifact: str) -> str | None:
    raw = client.get(keys.live(artifact))
    return _text(raw) if raw is not None else None


def _ranked(raw: bytes | None, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    indices, scores = unpack_ranked(raw)
    return [{"item_id": items[int(i)]["item_id"] if int(i) < len(items) else None,
             "score": float(s)} for i, s in zip(indices, scores, strict=True)]  # fmt: skip


def _published(client: redis.Redis, keys: Keys, customer_id: str) -> dict[str, Any]:
    version = _live(client, keys, serving.ARTIFACT)
    if version is None:
        return {}
    names = ("profile", "recs", "hist", "consumed")
    raws: Any = client.mget([keys.customer_data(serving.ARTIFACT, version, customer_id, n)
                        for n in names])  # fmt: skip
    profile, recs, hist, consumed = raws
    if not any(raws):
        return {}
    items_raw = client.get(keys.data(serving.ARTIFACT, version, "items"))
    items = orjson.loads(items_raw) if items_raw else []  # type: ignore[arg-type]
    return {
        "serving_version": version,
        "profile": orjson.loads(profile) if profile else None,
        "recommendations": _ranked(recs, items),
        "history": _ranked(hist, items),
        "consumed": [r["item_id"] for r in _ranked(consumed, items)],
    }


def _segments(client: redis.Redis, keys: Keys, customer_id: str) -> list[str]:
    version = _live(client, keys, segments.ARTIFACT)
    if version is None:
        return []
    raw = client.hget(keys.data(segments.ARTIFACT, version, segments.bucket_key(customer_id)),
                      customer_id)  # fmt: skip
    return [s for s in _text(raw).split(";") if s] if raw is not None else []


def _experiments(client: redis.Redis, keys: Keys, customer_id: str) -> dict[str, Any]:
    k = ExperimentKeys(keys)
    out: dict[str, Any] = {}
    for name in client.hkeys(k.definitions()):  # type: ignore[union-attr]
        experiment = _text(name)
        pipe = client.pipeline(transaction=False)
        for row in ROW_FIELDS:
            pipe.hget(k.rows(experiment, row), customer_id)
        found = {f: _text(v) for f, v in zip(ROW_FIELDS, pipe.execute(), strict=True) if v}
        if found:
            out[experiment] = found
    return out


def _value(client: redis.Redis, name: str) -> Any:
    """Any key's value by its type, as text (binary bytes replaced)."""
    kind = _text(client.type(name))
    if kind == "string":
        return _text(client.get(name))
    if kind == "hash":
        return {_text(k): _text(v) for k, v in client.hgetall(name).items()}  # type: ignore[union-attr]
    if kind == "list":
        return [_text(v) for v in client.lrange(name, 0, -1)]  # type: ignore[union-attr]
    if kind == "set":
        return sorted(_text(v) for v in client.smembers(name))  # type: ignore[union-attr]
    if kind == "zset":
        scored: Any = client.zrange(name, 0, -1, withscores=True)
        return [[_text(m), s] for m, s in scored]
    return None


def export_customer(client: redis.Redis, keys: Keys, customer_id: str) -> dict[str, Any] | None:
    """The document, or None when Redis holds nothing about the customer."""
    tagged = [_text(n) for n in client.scan_iter(match=keys.customer_pattern(customer_id),
                                                  count=SCAN_COUNT)]  # fmt: skip
    live_prefix = keys.customer(customer_id, "")
    pipe = client.pipeline(transaction=False)
    pipe.lrange(recent.recent_key(keys, customer_id), 0, -1)
    pipe.hgetall(feedback.feedback_key(keys, customer_id))
    pipe.hgetall(feedback.touchpoint_feedback_key(keys, customer_id))
    pipe.hgetall(open_cases_key(keys, customer_id))
    pipe.hgetall(surveys.surveys_key(keys, customer_id))
    pipe.hgetall(ExperimentKeys(keys).last(customer_id))
    events, answers, by_touchpoint, open_cases, survey_state, last = pipe.execute()
    document: dict[str, Any] = {
        "customer_id": customer_id,
        **_published(client, keys, customer_id),
        "segments": _segments(client, keys, customer_id),
        "recent_events": [asdict(e) for e in recent.decode(events)],
        "feedback": feedback.decode(answers),
        "feedback_by_touchpoint": feedback.decode(by_touchpoint),
        "open_cases": {_text(k): _text(v) for k, v in open_cases.items()},
        "cases": customer_cases(client, keys, customer_id),
        "survey_state": {_text(k): _text(v) for k, v in survey_state.items()},
        "experiments": _experiments(client, keys, customer_id),
        "experiment_exposures": {_text(k): _text(v) for k, v in last.items()},
    }
    document["other"] = {
        name.removeprefix(live_prefix): _value(client, name)
        for name in sorted(tagged)
        if name.startswith(live_prefix) and name.removeprefix(live_prefix) not in COVERED
    }
    empty = not tagged and not document["segments"] and not document["cases"]
    return None if empty and not document["experiments"] else document
