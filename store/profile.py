"""Everything one personalised request needs about a customer, in ONE pipeline round trip.

The published per-customer data of the live serving version (`recs`, `profile`, `hist`), the
live recent events, the frequency-cap windows the active rules use and, for offers, the
redemption counts behind budgets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import redis.asyncio as aioredis

from store import counters, recent
from store.codec import unpack_ranked
from store.keys import Keys
from store.serving import ARTIFACT, Ranked

_EMPTY: Ranked = (np.empty(0, np.uint32), np.empty(0, np.float32))


@dataclass
class CustomerContext:
    """One customer's data for one request (empty for an unknown customer)."""

    customer_id: str
    recs: Ranked = _EMPTY
    profile: dict[str, Any] | None = None
    history: Ranked = _EMPTY
    recent: list[recent.RecentEvent] = field(default_factory=list)
    windows: dict[int, counters.WindowCounts] = field(default_factory=dict)
    redeemed: dict[str, int] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.profile is not None or len(self.recs[0]) > 0


async def read_context(
    client: aioredis.Redis,
    keys: Keys,
    version: str,
    customer_id: str,
    *,
    windows: Iterable[int] = (),
    budgets: bool = False,
    now: float | None = None,
) -> CustomerContext:
    """Read the customer's published data, recent events and counters in one round trip."""
    pipe = client.pipeline(transaction=False)
    for name in ("recs", "profile", "hist"):
        pipe.get(keys.customer_data(ARTIFACT, version, customer_id, name))
    recent.queue_read(pipe, keys, customer_id)
    queued = counters.queue_read_windows(pipe, keys, customer_id, windows, now)
    if budgets:
        counters.queue_read_redeemed(pipe, keys)
    answers = await pipe.execute()
    recs, profile, hist, events = answers[:4]
    window_raw = answers[4 : 4 + len(queued)]
    return CustomerContext(
        customer_id=customer_id,
        recs=unpack_ranked(recs),
        profile=orjson.loads(profile) if profile else None,
        history=unpack_ranked(hist),
        recent=recent.decode(events),
        windows={
            d: counters.decode_window(d, raw) for d, raw in zip(queued, window_raw, strict=True)
        },
        redeemed=counters.decode_redeemed(answers[-1]) if budgets else {},
    )
