"""Which experiments a conversion counts for: the attribution decision, with no storage.

A conversion counts for an experiment when its type is one of the experiment's
`conversion_types` and the customer was exposed to the experiment within its
`attribution_window_hours` before the conversion: either in the response the conversion came
from (its `recommendation_id`) or in the customer's last exposure. `store.experiment_store` reads
the exposure times, asks `attributed`, and writes the counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from experiments.model import MAX_ATTRIBUTION_WINDOW_HOURS, Experiment

# the longest an exposure can still earn a conversion: how long exposures must be kept
MAX_WINDOW_SECONDS = int(MAX_ATTRIBUTION_WINDOW_HOURS * 3600)
# clocks of the API replicas and of the event sources differ: a conversion stamped up to
# five minutes before its exposure still counts
CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class ConversionEvent:
    """A posted event that may be a conversion, as attribution needs it."""

    customer_id: str
    type: str
    timestamp: float  # epoch seconds
    value: float = 0.0
    recommendation_id: str | None = None
    event_id: str | None = None


def within_window(experiment: Experiment, exposed_at: float, converted_at: float) -> bool:
    """Whether a conversion at `converted_at` falls in the window of an exposure at
    `exposed_at` (epoch seconds), allowing `CLOCK_SKEW_SECONDS` of clock skew."""
    window = experiment.attribution_window_hours * 3600
    return -CLOCK_SKEW_SECONDS <= converted_at - exposed_at <= window


def attributed(
    event: ConversionEvent,
    *,
    last: Mapping[str, float],
    via_recommendation: Mapping[str, float],
    experiments: Mapping[str, Experiment],
) -> list[str]:
    """Keys of the experiments `event` counts for, sorted.

    `last` maps experiment key -> the customer's last exposure time; `via_recommendation`
    the exposure times of the response named by the event's `recommendation_id` (empty
    when it has none). Experiments no longer defined are ignored.
    """
    found = []
    for key in sorted(set(last) | set(via_recommendation)):
        exp = experiments.get(key)
        if exp is None or event.type not in exp.conversion_types:
            continue
        for exposed_at in (via_recommendation.get(key), last.get(key)):
            if exposed_at is not None and within_window(exp, exposed_at, event.timestamp):
                found.append(key)
                break
    return found
