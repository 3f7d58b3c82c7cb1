"""Speed and memory of the insights step at scale, beside a plain pandas baseline.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.insights_speed [--responses 1000000]
        [--customers 200000] [--events 2000000] [--no-text]

Generated in memory (no cache): `--responses` survey answers over 12 months (NPS/CSAT/CES
at 12 mapped touchpoints and one unmapped, a third with a comment in Korean, English or
both from `bench/_comments.py`), customers with tiers, four segment memberships each, and
purchase/view/dismiss events. Timed in the same run:

1. baseline: a plain pandas groupby of the same cells (count and mean per survey × each
   dimension × each period: what a dashboard would do without intervals, tests or text);
2. `build_insights(..., text=False)`: every score table, journey, drivers;
3. `build_insights(...)`: the same plus themes, sentiment and the emotion curve — the
   batch's step. Goal (issue 20): ≤ 60 s and ≤ 4 GB peak for 1M responses.
Peak memory is the process's maximum RSS (data included), with the RSS before the step.
CPU seconds beside wall seconds: on a shared machine the wall time includes waiting.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from dataclasses import dataclass, field

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import orjson
import pandas as pd

from bench._comments import generate_comments
from insights.build import build_insights

STAGES = ["before_purchase", "purchase_and_use", "after_use"]
TOUCHPOINTS = {
    "ads": 0, "search": 0, "product_page": 0, "store_visit": 0, "checkout": 1, "payment": 1,
    "delivery": 1, "app_use": 1, "support": 2, "returns": 2, "repurchase": 2, "loyalty": 2,
}  # fmt: skip
SEGMENTS = (
    [f"rfm-{k}" for k in range(8)]
    + [f"lifecycle-{k}" for k in range(6)]
    + [f"cluster-{k}" for k in range(8)]
)


@dataclass
class Journey:
    stages: list[str] = field(default_factory=lambda: list(STAGES))

    def stage_of(self, touchpoint: str) -> str:
        return STAGES[TOUCHPOINTS[touchpoint]] if touchpoint in TOUCHPOINTS else ""


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def generate(responses: int, customers: int, events: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:07d}" for i in range(customers)], dtype=object)
    commented = responses // 3
    with_text = generate_comments(commented, seed=seed)
    survey = np.concatenate([with_text["survey"].to_numpy(object),
                             rng.choice(["nps", "csat", "ces"], responses - commented,
                                        p=[0.5, 0.3, 0.2]).astype(object)])  # fmt: skip
    high = np.select([survey == "nps", survey == "csat"], [11, 6], 8)
    low = np.where(survey == "nps", 0, 1)
    score = np.concatenate(
        [with_text["score"].to_numpy(np.int64), rng.integers(low[commented:], high[commented:])]
    )
    names = np.array([*TOUCHPOINTS, "kiosk"], dtype=object)
    start = pd.Timestamp("2025-01-01", tz="UTC")
    feedback = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(responses)],
        "customer_id": ids[rng.integers(0, customers, responses)],
        "survey": survey, "score": score,
        "comment": np.concatenate([with_text["comment"].to_numpy(object),
                                   np.full(responses - commented, "", dtype=object)]),
        "channel": rng.choice(["web", "app", "store", "call_centre"], responses),
        "touchpoint": names[rng.integers(0, len(names), responses)],
        "timestamp": start + pd.to_timedelta(rng.integers(0, 365 * 86_400, responses), "s"),
    })  # fmt: skip
    people = pd.DataFrame({"customer_id": ids, "loyalty_tier": rng.choice(
        ["none", "bronze", "silver", "gold", "platinum"], customers)})  # fmt: skip
    member_of = rng.integers(0, len(SEGMENTS), (customers, 4))
    memberships = pd.DataFrame(
        {"customer_id": np.repeat(ids, 4), "segment": np.array(SEGMENTS)[member_of.ravel()]}
    ).drop_duplicates()
    event_frame = pd.DataFrame({
        "customer_id": ids[rng.integers(0, customers, events)],
        "type": rng.choice(["view", "purchase", "dismiss"], events, p=[0.8, 0.15, 0.05]),
        "timestamp": start + pd.to_timedelta(rng.integers(0, 365 * 86_400, events), "s"),
    })  # fmt: skip
    return {"feedback": feedback, "customers": people, "events": event_frame,
            "memberships": memberships}  # fmt: skip


def baseline(feedback: pd.DataFrame, customers: pd.DataFrame, memberships: pd.DataFrame) -> int:
    """Count and mean per survey × dimension × period with plain pandas groupbys."""
    frame = feedback.merge(customers.rename(columns={"loyalty_tier": "tier"}), on="customer_id")
    frame["stage"] = frame["touchpoint"].map(Journey().stage_of)
    segmented = frame[["customer_id", "survey", "score", "timestamp"]].merge(
        memberships, on="customer_id"
    )
    cells = 0
    for source, dims in ((frame, ("touchpoint", "stage", "channel", "tier")),
                         (segmented, ("segment",))):  # fmt: skip
        naive = source["timestamp"].dt.tz_convert(None)
        periods = [None, naive.dt.floor("D"), naive.dt.to_period("W").dt.start_time,
                   naive.dt.to_period("M").dt.start_time]  # fmt: skip
        for dim in dims:
            for period in periods:
                keys = [source["survey"], source[dim]] + ([] if period is None else [period])
                cells += len(source.groupby(keys, observed=True)["score"].agg(["size", "mean"]))
    return cells


def timed(label: str, run):  # type: ignore[no-untyped-def]
    before = rss_mib()
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(f"{label:<48} {seconds:6.1f} s wall {cpu:6.1f} s CPU   RSS before {before:5.0f} MiB, "
          f"peak so far {peak_mib():5.0f} MiB", flush=True)  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--no-text", action="store_true")
    args = parser.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"{args.responses:,} responses, {args.customers:,} customers, {args.events:,} events"
    )
    data = timed("generate", lambda: generate(args.responses, args.customers, args.events))
    tables = {k: data[k] for k in ("feedback", "customers", "events")}
    cells = timed(
        "baseline: plain pandas groupby counts+means",
        lambda: baseline(data["feedback"], data["customers"], data["memberships"]),
    )
    print(f"  baseline cells: {cells:,}")
    built = timed("build_insights(text=False)", lambda: build_insights(
        tables, journey=Journey(), memberships=data["memberships"], text=False))  # fmt: skip
    print(f"  documents: {len(built.documents)}")
    if not args.no_text:
        built = timed("build_insights (with themes, sentiment, curve)", lambda: build_insights(
            tables, journey=Journey(), memberships=data["memberships"]))  # fmt: skip
        size = sum(len(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))
                   for doc in built.documents.values())  # fmt: skip
        print(
            f"  documents as JSON: {size / 2**20:.1f} MiB; sentiment model: "
            f"{len(built.sentiment_model or b'') / 2**20:.1f} MiB"
        )
        themes = built.documents["themes"]["themes"]
        print(f"  themes: {[t['name'] for t in themes][:8]}")
    print(f"peak RSS of the whole run: {peak_mib():.0f} MiB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
