"""Customer 360: the profile the API answers and, per channel, what Touchpoint would serve
right now — through the same `answer` every list route calls, as a preview (no impression
counted, nothing recorded as served, no exposure logged)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from api.deps import AppParts
from api.services.cases import get_case
from api.services.profile import read_profile
from api.services.recommend import SlotRequest, answer
from api.ui.views import Parts
from contracts.requests import ID_MAX, ID_PATTERN
from contracts.schema import CHANNELS

PREVIEW = (  # (slot, kind, k): one list per kind, as a marketer checks them
    SlotRequest("products", "product", 5),
    SlotRequest("offers", "offer", 3),
    SlotRequest("content", "content", 3),
    SlotRequest("rewards", "reward", 3),
)
_ID = re.compile(ID_PATTERN)


def id_problem(customer_id: str) -> str | None:
    """Why `customer_id` is not an id the API takes (the request rules'), or None."""
    if len(customer_id) > ID_MAX:
        return f"a customer id has at most {ID_MAX} characters"
    if not _ID.match(customer_id):
        return "a customer id has no spaces, braces or control characters"
    return None


async def _channel(parts: AppParts, customer_id: str, channel: str) -> dict[str, Any]:
    head, slots, _exposure = await answer(
        parts.serving,
        parts.rules.current(),
        customer_id=customer_id,
        channel=channel,
        requests=PREVIEW,
        record=False,
    )  # fmt: skip — the exposure task is left unrun: a preview is no exposure
    return {"channel": channel, "head": head, "slots": slots}


async def customer_360(parts: AppParts, customer_id: str) -> dict[str, Any]:
    found = Parts()
    profile, *previews = await asyncio.gather(  # concurrent: one round trip each
        found.get("profile", read_profile(parts.serving, customer_id)),
        *(found.get("recommendations", _channel(parts, customer_id, c)) for c in CHANNELS),
    )
    channels = [p for p in previews if p is not None]
    listed = (profile or {}).get("open_cases") or []
    cases = await asyncio.gather(*(found.get("open cases", get_case(parts.serving, c["case_id"]))
                                   for c in listed))  # fmt: skip
    feedback = (profile or {}).get("feedback_by_touchpoint") or {}
    experiments: dict[tuple[str, str | None], list[str]] = {}  # (key, variant) -> channels
    for preview in channels:
        for e in preview["head"].get("experiments", []):
            experiments.setdefault((e["key"], e["variant"]), []).append(preview["channel"])
    return {
        "problems": found.problems,
        "customer_id": customer_id,
        "profile": profile,
        "channels": channels,
        "experiments": [
            {"key": k, "variant": v, "channels": c} for (k, v), c in experiments.items()
        ],
        "degraded": any(c["head"].get("degraded") for c in channels),
        "open_cases": [c for c in cases if c is not None],
        "touchpoint_feedback": [
            {"touchpoint": tp, **answer} for tp, answer in sorted(feedback.items())
        ],
    }
