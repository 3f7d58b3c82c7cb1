"""`GET /v1/customers/{id}/survey`: ask now or not, which survey, and record an ask.

The policy is `surveys.yaml` in the business rules directory (`insights.surveys`), re-read
when the file changes (`api.services.watched`; a bad edit keeps the previous policy); a bad
file fails start-up (`survey_policy` is called by the app factory). Two round trips when
the answer is "ask" (read, then a compare-and-set record), one otherwise, both on the
process's hot connection. "ask: true" is a reservation: from then on the quiet period
holds on every channel and replica, whether or not the caller sends the survey.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from api.problems import Unavailable
from api.services.hot import connection
from api.services.watched import WatchedFile
from api.settings import ApiSettings
from api.state import ServingState
from insights.surveys import DAY, SurveyFacts, SurveyPolicy, decide, load_policy
from store.surveys import SurveyState, read_survey_state, record_ask

_POLICIES = WatchedFile(load_policy)


def survey_policy(settings: ApiSettings, *, strict: bool = False) -> SurveyPolicy:
    """The policy in force: re-read when the file's mtime or size changed; a bad edit keeps
    the previous policy (`strict`, start-up: it fails)."""
    return _POLICIES.current(settings.business_rules_dir / "surveys.yaml", strict=strict)


def facts_of(state: SurveyState, channel: str, touchpoint: str) -> SurveyFacts:
    profile = state.profile or {}
    live_purchases = sum(1 for e in state.recent if e.type == "purchase")
    return SurveyFacts(
        channel=channel,
        touchpoint=touchpoint,
        # orders the batch counted, or the live purchases if more (a customer new since it ran)
        purchases=max(int(profile.get("frequency") or 0), live_purchases),
        consent=(  # the live value wins over the batch's (`api.services.consent`)
            {**(profile.get("consent") or {}), **state.consent}
            if state.profile is not None or state.consent
            else None
        ),
        open_cases=state.open_cases,
        last_surveyed=state.last_surveyed,
    )


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


async def survey_decision(
    state: ServingState, policy: SurveyPolicy, *, customer_id: str, channel: str, touchpoint: str
) -> dict[str, Any]:
    conn = connection(state)
    if conn is None:
        raise Unavailable("Redis is not connected")
    version = state.shared.version if state.shared is not None else None
    try:
        for _ in range(2):  # a second pass only when another replica recorded an ask meanwhile
            now = time.time()
            read = await read_survey_state(conn, state.keys, version, customer_id)
            decision = decide(policy, facts_of(read, channel, touchpoint), now)
            if not decision.ask or decision.survey is None:
                break
            record = {"survey": decision.survey, "channel": channel, "touchpoint": touchpoint}
            ttl = int(policy.longest_days * DAY) + 86_400
            if await record_ask(
                conn,
                state.keys,
                customer_id,
                token=read.token,
                survey=decision.survey,
                now=now,
                decision=record,
                ttl=ttl,
            ):
                break
        else:
            raise Unavailable("survey decisions conflicted twice; retry")
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("survey state is unavailable right now; retry shortly") from exc
    return {
        "customer_id": customer_id,
        "channel": channel,
        "touchpoint": touchpoint,
        "ask": decision.ask,
        "survey": decision.survey,
        "reason": decision.reason,
        "next_eligible_at": _iso(decision.next_eligible_at),
        "quiet_days": policy.quiet_days,
    }
