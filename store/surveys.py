"""Survey throttling state in Redis, shared by every API replica.

Key `tp:c:{CUSTOMER}:surveys`, a hash: `at` → epoch seconds of the last survey asked (any),
`<survey>` → epoch seconds of the last time that survey was asked, `decision` → JSON of the
last ask. Recording is compare-and-set on `at` (one script), so two replicas that decide at
the same moment cannot both ask: the loser re-reads and finds the quiet period.

`read_survey_state` gathers in one pipeline round trip what the decision needs: the published
profile (consent, order count), the live recent events, the latest answers per survey (their
timestamps count as "surveyed"), the open cases and this hash, on the process's hot
connection (`store.resp`) like the profile read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from store import recent
from store.case_events import open_cases_key
from store.consent import decode_consent
from store.feedback import feedback_key
from store.keys import Keys
from store.resp import RespConnection
from store.serving import ARTIFACT

# KEYS[1] = the hash; ARGV = expected `at` ('' = none), now, survey, decision JSON, ttl.
_RECORD_IF_UNCHANGED = """
local current = redis.call('HGET', KEYS[1], 'at') or ''
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[2], ARGV[3], ARGV[2], 'decision', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def surveys_key(keys: Keys, customer_id: str) -> str:
    return keys.customer(customer_id, "surveys")


@dataclass
class SurveyState:
    profile: dict[str, Any] | None = None  # the published profile, None if none
    recent: list[recent.RecentEvent] = field(default_factory=list)
    answered: dict[str, float] = field(default_factory=dict)  # survey → latest answer's time
    asked: dict[str, float] = field(default_factory=dict)  # survey → last asked
    open_cases: dict[str, str] = field(default_factory=dict)  # touchpoint → case id
    token: str = ""  # the `at` field as read: the compare-and-set token
    consent: dict[str, bool] = field(default_factory=dict)  # set live (`store.consent`)

    @property
    def last_surveyed(self) -> dict[str, float]:
        """Per survey, the later of its last ask and its last answer."""
        out = dict(self.asked)
        for survey, at in self.answered.items():
            out[survey] = max(at, out.get(survey, at))
        return out


async def read_survey_state(
    client: RespConnection, keys: Keys, version: str | None, customer_id: str
) -> SurveyState:
    """One round trip on the hot connection (all keys carry the customer's hash tag)."""
    commands: list[tuple[Any, ...]] = []
    if version is not None:
        commands.append(("GET", keys.customer_data(ARTIFACT, version, customer_id, "profile")))
    commands += [
        ("LRANGE", recent.recent_key(keys, customer_id), 0, -1),
        ("HGETALL", feedback_key(keys, customer_id)),
        ("HGETALL", open_cases_key(keys, customer_id)),
        ("HGETALL", surveys_key(keys, customer_id)),
        ("HGETALL", keys.consent(customer_id)),
    ]
    replies = await client.execute_many(commands)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    profile_raw = replies.pop(0) if version is not None else None
    events, feedback, cases, mine, consent = replies[0], *(_pairs(r) for r in replies[1:])
    answered = {}
    for name, value in feedback.items():
        survey = name.decode()
        if survey.endswith(":ts"):
            answered[survey.removesuffix(":ts")] = _epoch(value.decode())
    token = mine.get(b"at", b"").decode()
    asked = {k.decode(): float(v) for k, v in mine.items() if k not in (b"at", b"decision")}
    return SurveyState(
        profile=orjson.loads(profile_raw) if profile_raw else None,
        recent=recent.decode(events),
        answered=answered,
        asked=asked,
        open_cases={k.decode(): v.decode() for k, v in cases.items()},
        token=token,
        consent=decode_consent(consent),
    )


async def record_ask(
    client: RespConnection,
    keys: Keys,
    customer_id: str,
    *,
    token: str,
    survey: str,
    now: float,
    decision: dict[str, Any],
    ttl: int,
) -> bool:
    """Record that `survey` is asked now, unless another ask was recorded since `token` was
    read; True when recorded."""
    done = await client.execute(
        "EVAL",
        _RECORD_IF_UNCHANGED,
        1,
        surveys_key(keys, customer_id),
        token,
        repr(now),
        survey,
        orjson.dumps(decision),
        ttl,
    )
    return bool(done)


def _pairs(flat: list[bytes] | None) -> dict[bytes, bytes]:
    """An HGETALL reply (a flat list on this connection) as a dict."""
    flat = flat or []
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _epoch(iso: str) -> float:
    parsed = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
