"""What the API reads of each customer's profile: tier, points, consents, segments and the
latest NPS/CSAT/CES answer, as the batch publishes it (and `touchpoint recommend` reads it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd


def customer_profiles(
    customers: pd.DataFrame, segments: pd.DataFrame | None, feedback: pd.DataFrame
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Per-customer profile: tier, points, consents and segments; latest NPS/CSAT/CES."""
    frame = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].astype(str),
            "loyalty_tier": customers["loyalty_tier"].astype(str),
            "points_balance": customers["points_balance"].astype("int64"),
            "country": customers["country"].astype(str),
            "consent_email": customers["consent_email"],
            "consent_push": customers["consent_push"],
            "consent_sms": customers["consent_sms"],
        }
    )
    if segments is not None and len(segments):
        wanted = [c for c in PROFILE_SEGMENT_FIELDS if c in segments.columns]
        seg = segments[["customer_id", *wanted]].assign(
            customer_id=segments["customer_id"].astype(str)
        )
        frame = frame.merge(seg, on="customer_id", how="outer")
    latest = _latest_feedback(feedback)
    for record in frame.to_dict("records"):
        cid = record["customer_id"]
        profile: dict[str, Any] = {"customer_id": cid, "feedback": latest.get(cid, {})}
        if pd.notna(record.get("loyalty_tier")):
            profile.update(
                loyalty_tier=record["loyalty_tier"],
                points_balance=int(record["points_balance"]),
                country=record["country"],
                consent={
                    "email": bool(record["consent_email"]),
                    "push": bool(record["consent_push"]),
                    "sms": bool(record["consent_sms"]),
                },
            )
        for name in PROFILE_SEGMENT_FIELDS:
            value = record.get(name)
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                continue
            if name == "segments":
                profile[name] = [s for s in str(value).split(";") if s]
            elif name in ("recency_days", "frequency", "monetary"):
                profile[name] = float(value)
            else:
                profile[name] = str(value)
        yield cid, profile


PROFILE_SEGMENT_FIELDS = (
    "rfm_segment",
    "lifecycle_stage",
    "nps_group",
    "segments",
    "recency_days",
    "frequency",
    "monetary",
)


def _latest_feedback(feedback: pd.DataFrame) -> dict[str, dict[str, int]]:
    latest: dict[str, dict[str, int]] = {}
    if len(feedback):
        ordered = feedback.sort_values("timestamp")
        last = ordered.groupby(["customer_id", "survey"], observed=True)["score"].last()
        for key, score in last.items():
            cid, survey = (str(part) for part in key)  # type: ignore[attr-defined]
            latest.setdefault(cid, {})[survey] = int(score)
    return latest
