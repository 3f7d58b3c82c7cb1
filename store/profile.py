"""Everything one personalised request needs about a customer, in ONE Redis command.

The published per-customer data of the live serving version (`recs`, `profile`, `hist`,
`consumed`, `why`), the live recent events, the latest survey answers (for `/profile`) and the
frequency-cap windows the active rules use come back from one Lua script (`EVALSHA`,
registered once per server; re-loaded after a `NOSCRIPT`, e.g. when Redis restarted). Every
key it touches carries the `{customer_id}` hash tag, so it is Cluster-safe. Offer budgets
need the one global redemption hash: it rides in the same pipeline (still one round trip).

Why a script and not a pipeline of GET/LRANGE/HGETALL: each command costs client CPU to pack
and parse; one script call is one command and one reply. Sent on the process's hot-path
connection (`store.resp`, see there why not redis-py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from redis.exceptions import NoScriptError

from store import counters, feedback, recent
from store.case_events import open_cases_key
from store.cases import decode_open_cases
from store.codec import unpack_ranked
from store.consent import decode_consent
from store.keys import Keys
from store.resp import RespConnection
from store.serving import ARTIFACT, Ranked

_EMPTY: Ranked = (np.empty(0, np.uint32), np.empty(0, np.float32))
_NO_ITEMS: NDArray[np.int64] = np.empty(0, np.int64)
STRINGS = ("recs", "profile", "hist", "consumed", "why")
LEGACY_CONSUMED = "bought"  # what versions published before `consumed` existed call it

# KEYS = the 5 published strings, the recent list, the A/B assignment unit (a string, set by
# an identity merge), the live consent hash (`store.consent`: unversioned, so it holds across
# publishes, and read here so consent costs no round trip), the feedback, open-cases and
# per-touchpoint feedback hashes (each optional), then per
# window its hash and its log (`store.counters`), and last the `bought` string versions
# published before `consumed` replaced it hold (read only when `consumed` is missing);
# ARGV = how many recent events, the first window's KEYS index, the least item count kept.
# A missing string comes back as nil, a missing hash as {}; a window as its fields and
# counts, flat, with its log added in. Of a window only the item fields (`i:…`) shown at
# least ARGV[3] times come back, and every channel field (`c:…`): an item shown fewer times
# than any cap allows cannot be blocked, so it need not be decoded.
READ_SCRIPT = (
    counters.ADD_RECORD
    + """
local out = {}
local strings = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
for i = 1, 5 do out[i] = strings[i] end
if not out[4] then out[4] = redis.call('GET', KEYS[#KEYS]) end
out[6] = redis.call('LRANGE', KEYS[6], 0, tonumber(ARGV[1]) - 1)
out[7] = redis.call('GET', KEYS[7])
local first_window, least = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 8, first_window - 1 do out[i] = redis.call('HGETALL', KEYS[i]) end
local o = first_window - 1
for i = first_window, #KEYS - 1, 2 do
  local flat = redis.call('HGETALL', KEYS[i])
  local log = redis.call('LRANGE', KEYS[i + 1], 0, -1)
  if #log > 0 then
    local counts = {}
    for j = 1, #flat, 2 do counts[flat[j]] = tonumber(flat[j + 1]) end
    for _, record in ipairs(log) do add_record(counts, record) end
    flat = {}
    for name, count in pairs(counts) do
      flat[#flat + 1] = name
      flat[#flat + 1] = count
    end
  end
  if least > 1 then
    local kept = {}
    for j = 1, #flat, 2 do
      if string.sub(flat[j], 1, 2) ~= 'i:' or tonumber(flat[j + 1]) >= least then
        kept[#kept + 1] = flat[j]
        kept[#kept + 1] = flat[j + 1]
      end
    end
    flat = kept
  end
  o = o + 1
  out[o] = flat
end
return out
"""
)
READ_SHA = hashlib.sha1(READ_SCRIPT.encode()).hexdigest()


@dataclass
class CustomerContext:
    """One customer's data for one request (empty for an unknown customer)."""

    customer_id: str
    recs: Ranked = _EMPTY
    profile: dict[str, Any] | None = None
    history: Ranked = _EMPTY
    consumed: NDArray[np.int64] = field(default_factory=lambda: _NO_ITEMS)  # item indices
    why: bytes = b""  # per rec, its reason's anchor in `history` (see `store.serving`)
    recent: list[recent.RecentEvent] = field(default_factory=list)
    windows: dict[int, counters.WindowCounts] = field(default_factory=dict)
    redeemed: dict[str, int] = field(default_factory=dict)
    feedback: dict[str, dict[str, Any]] = field(default_factory=dict)
    open_cases: dict[str, str] = field(default_factory=dict)  # touchpoint -> case id
    touchpoint_feedback: dict[str, dict[str, Any]] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)  # given live; wins over the batch's
    unit: str | None = None  # the id A/B variants are hashed from, when merged from a visitor

    @property
    def known(self) -> bool:
        return self.profile is not None or len(self.recs[0]) > 0


def _pairs(flat: Sequence[bytes] | None) -> dict[bytes, bytes]:
    """A script's HGETALL reply (a flat list) as the dict redis-py would have made."""
    flat = flat or ()
    return dict(zip(flat[::2], flat[1::2], strict=True))


async def read_context(
    client: RespConnection,
    keys: Keys,
    version: str,
    customer_id: str,
    *,
    windows: Iterable[int] = (),
    least_shown: int = 1,
    budgets: bool = False,
    with_feedback: bool = False,
    with_cases: bool = False,
    with_touchpoints: bool = False,
    now: float | None = None,
) -> CustomerContext:
    """Read the customer's published data, recent events, counters (and, asked for, the
    latest survey answers, the open follow-up cases, the latest answer per touchpoint) in one
    round trip. The windows' item counts hold only items shown
    at least `least_shown` times (the lowest item cap of the rules: nothing below it blocks)."""
    queued = sorted(set(windows))
    script_keys = [keys.customer_data(ARTIFACT, version, customer_id, n) for n in STRINGS]
    script_keys.append(recent.recent_key(keys, customer_id))
    script_keys.append(keys.assignment_unit(customer_id))
    script_keys.append(keys.consent(customer_id))
    if with_feedback:
        script_keys.append(feedback.feedback_key(keys, customer_id))
    if with_cases:
        script_keys.append(open_cases_key(keys, customer_id))
    if with_touchpoints:
        script_keys.append(feedback.touchpoint_feedback_key(keys, customer_id))
    first_window = len(script_keys) + 1
    for days in queued:
        window = counters.window_key(keys, customer_id, days, now)
        script_keys += (window, counters.log_key(window))
    script_keys.append(keys.customer_data(ARTIFACT, version, customer_id, LEGACY_CONSUMED))
    commands: list[tuple[Any, ...]] = [
        (
            "EVALSHA",
            READ_SHA,
            len(script_keys),
            *script_keys,
            recent.RECENT_CAP,
            first_window,
            least_shown,
        ),
    ]
    if budgets:  # the redemption hash is global (another slot): its own command, same trip
        commands.append(("HGETALL", counters.redeemed_key(keys)))
    replies = await client.execute_many(commands)
    if isinstance(replies[0], NoScriptError):  # a restarted or flushed server: register it
        await client.execute("SCRIPT", "LOAD", READ_SCRIPT)
        replies = await client.execute_many(commands)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    reply = replies[0]
    redeemed_raw = _pairs(replies[1]) if budgets else None
    recs, profile, hist, consumed, why, events, unit = reply[:7]
    hashes = reply[7:]
    consent_raw = hashes.pop(0)
    feedback_raw = hashes.pop(0) if with_feedback else None
    cases_raw = hashes.pop(0) if with_cases else None
    touchpoints_raw = hashes.pop(0) if with_touchpoints else None
    return CustomerContext(
        customer_id=customer_id,
        recs=unpack_ranked(recs),
        profile=orjson.loads(profile) if profile else None,
        history=unpack_ranked(hist),
        consumed=unpack_ranked(consumed)[0].astype(np.int64),
        why=why or b"",
        recent=recent.decode(events),
        windows={
            d: counters.decode_window_fields(d, raw[::2], raw[1::2])
            for d, raw in zip(queued, hashes, strict=True)
        },
        redeemed=counters.decode_redeemed(redeemed_raw) if budgets else {},
        feedback=feedback.decode(_pairs(feedback_raw)) if with_feedback else {},
        open_cases=decode_open_cases(_pairs(cases_raw)) if with_cases else {},
        touchpoint_feedback=feedback.decode(_pairs(touchpoints_raw)) if with_touchpoints else {},
        consent=decode_consent(_pairs(consent_raw)),
        unit=unit.decode() if unit else None,
    )
