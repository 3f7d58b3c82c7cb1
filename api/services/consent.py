"""Consent given or withdrawn live: the write behind `PUT /v1/customers/{id}/consent` and
the view behind its `GET` (`store.consent` holds the bytes).

Which value holds, per purpose: the one set live (`PUT`), else the batch's default — the
customers table's `consent_email|push|sms` as the live serving version published them in
the customer's profile — else the default of the purpose (`DEFAULTS`): no marketing
message without consent; personalisation and analytics on until withdrawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from redis.exceptions import RedisError

from api.problems import Unavailable
from api.services.audit import record_audit
from api.state import ServingState
from contracts.schema import CONSENT_PURPOSES
from store.consent import change_entry, read_consent, write_consent
from store.serving import ARTIFACT

DEFAULTS = {"email": False, "push": False, "sms": False, "personalisation": True,
            "analytics": True}  # fmt: skip


async def set_consent(
    state: ServingState, customer_id: str, given: Mapping[str, bool], *, who: str
) -> dict[str, Any]:
    """Apply the purposes `given` at once (every replica reads them on the next request),
    record the change in the consent stream and the audit trail; the view after it."""
    if state.client is None:
        raise Unavailable("Redis is not connected")
    entry = change_entry(customer_id, given, who=who)
    try:
        await write_consent(state.client, state.keys, customer_id, entry)
    except (RedisError, OSError) as exc:
        await record_audit(state, who=who, action="consent.put", target=customer_id,
                           outcome="failed", detail=dict(given))  # fmt: skip
        raise Unavailable("consent cannot be stored right now; retry shortly") from exc
    await record_audit(state, who=who, action="consent.put", target=customer_id,
                       outcome="ok", detail=dict(given))  # fmt: skip
    return await consent_view(state, customer_id)


async def consent_view(state: ServingState, customer_id: str) -> dict[str, Any]:
    """Each purpose's value and where it comes from (`live`, `batch`, `default`), the time
    of the latest live change and the latest changes, newest first."""
    if state.client is None:
        raise Unavailable("Redis is not connected")
    try:
        live, changed_at, history = await read_consent(state.client, state.keys, customer_id)
        batch = await _batch_defaults(state, customer_id)
    except (RedisError, OSError) as exc:
        raise Unavailable("consent cannot be read right now; retry shortly") from exc
    consent, source = {}, {}
    for purpose in CONSENT_PURPOSES:
        for origin, values in (("live", live), ("batch", batch), ("default", DEFAULTS)):
            if purpose in values:
                consent[purpose], source[purpose] = bool(values[purpose]), origin
                break
    return {"customer_id": customer_id, "consent": consent, "source": source,
            "changed_at": changed_at, "history": history}  # fmt: skip


async def _batch_defaults(state: ServingState, customer_id: str) -> dict[str, bool]:
    """The marketing consents the live serving version published in the customer's profile."""
    shared = state.shared
    if shared is None or state.client is None:
        return {}
    key = state.keys.customer_data(ARTIFACT, shared.version, customer_id, "profile")
    raw = await state.client.get(key)
    published = (orjson.loads(raw) or {}).get("consent") or {} if raw else {}
    return {str(k): bool(v) for k, v in published.items() if k in CONSENT_PURPOSES}
