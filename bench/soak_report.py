"""The soak's figures: per route and per phase, memory over time, and the goals checked.

A phase is the window of one injected fault (from its start until a few seconds after it
ended) or `steady`; `warm-up` is the start of the run, left out of the memory slope.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.soak_load import NO_ANSWER, Sample

STEADY, WARMUP, OUTAGE = "steady", "warm-up", "redis-outage"
WORKER_KILL = "worker-kill"
# where fault windows overlap, the sample counts for the first of these
PRECEDENCE = (OUTAGE, WORKER_KILL, "burst", "rules", "publish")
RECOVERY_GOAL = 5.0  # seconds after Redis returns within which every answer is good again
P99_FACTOR = 2.0  # loaded p99 within this multiple of the unloaded p99 (steady phase)
FLAT = 0.05  # memory: relative change over the run after warm-up


@dataclass
class Window:
    phase: str
    start: float
    end: float


@dataclass
class Timeline:
    """The announced faults as they happened (seconds since the soak's origin)."""

    warmup_end: float = 0.0
    windows: list[Window] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    redis_killed: float | None = None
    redis_back: float | None = None

    def phase(self, at: float, end: float | None = None) -> str:
        """The phase of a moment, or of a request in flight from `at` to `end` (any window
        it overlaps: a request waiting on Redis when it was killed belongs to the outage)."""
        end = at if end is None else end
        hits = [w.phase for w in self.windows if w.start <= end and at <= w.end]
        if hits:
            return min(hits, key=PRECEDENCE.index)
        return WARMUP if at < self.warmup_end else STEADY

    def note(self, at: float, text: str) -> None:
        self.notes.append(f"t={at:7.1f}s  {text}")
        print(self.notes[-1], flush=True)


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_row(samples: list[Sample]) -> dict[str, Any]:
    good = [s.seconds * 1000 for s in samples if 200 <= s.status < 300]
    statuses = Counter(str(s.status) if s.status != NO_ANSWER else "no-answer" for s in samples)
    return {"requests": len(samples), "p50_ms": quantile(good, 0.5), "p99_ms": quantile(good, 0.99),
            "p999_ms": quantile(good, 0.999), "statuses": dict(sorted(statuses.items())),
            "degraded": sum(s.degraded for s in samples)}  # fmt: skip


def per_route(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    routes: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        routes[s.route].append(s)
    return {route: latency_row(rows) for route, rows in sorted(routes.items())}


def errors_by_phase(samples: list[Sample], timeline: Timeline) -> dict[str, dict[str, int]]:
    """Per phase: requests, every non-2xx status (and `no-answer`) and degraded 200s."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for s in samples:
        phase = timeline.phase(s.at, s.at + s.seconds)
        table[phase]["requests"] += 1
        if not 200 <= s.status < 300:
            table[phase][str(s.status) if s.status != NO_ANSWER else "no-answer"] += 1
        elif s.degraded:
            table[phase]["200 degraded"] += 1
    return {phase: dict(counts) for phase, counts in table.items()}


def recovery_seconds(samples: list[Sample], timeline: Timeline) -> float | None:
    """Seconds from Redis answering again to the last 5xx or unanswered request after it."""
    if timeline.redis_back is None:
        return None
    bad = [s.at + s.seconds for s in samples
           if s.at + s.seconds >= timeline.redis_back
           and (s.status >= 500 or s.status == NO_ANSWER)]  # fmt: skip
    return max(bad) - timeline.redis_back if bad else 0.0


def slope(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares line through (t, y): (slope per second, fitted y at the first t)."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    k = sum((t - mean_t) * (y - mean_y) for t, y in points) / var if var else 0.0
    return k, mean_y + k * (points[0][0] - mean_t)


def memory_trend(series: dict[str, list[tuple[float, float]]], warmup: float) -> dict[str, Any]:
    """Per series (a worker pid, or `redis`): MB/min and the change over its span, after its
    own warm-up (a respawned worker warms up too), as a share of its fitted start; `flat`
    when within 5%."""
    out: dict[str, Any] = {}
    for name, points in series.items():
        kept = [p for p in points if p[0] >= max(warmup, points[0][0] + warmup)]
        if len(kept) < 3:
            continue
        k, start = slope(kept)
        change = k * (kept[-1][0] - kept[0][0]) / start if start else 0.0
        out[name] = {"mb_per_min": k * 60 / 1e6, "change": change, "flat": abs(change) <= FLAT,
                     "first_mb": kept[0][1] / 1e6, "last_mb": kept[-1][1] / 1e6}  # fmt: skip
    return out


def p99_against_unloaded(
    samples: list[Sample], unloaded: dict[str, dict[str, Any]], timeline: Timeline
) -> dict[str, dict[str, float | bool]]:
    steady = per_route([s for s in samples if timeline.phase(s.at, s.at + s.seconds) == STEADY])
    out: dict[str, dict[str, float | bool]] = {}
    for route, row in steady.items():
        base = unloaded.get(route, {}).get("p99_ms")
        if base:
            ratio = row["p99_ms"] / base
            out[route] = {"unloaded_p99_ms": base, "steady_p99_ms": row["p99_ms"],
                          "ratio": ratio, "ok": ratio <= P99_FACTOR}  # fmt: skip
    return out


def print_tables(result: dict[str, Any]) -> None:
    print("\nper route (whole run):")
    print(f"{'route':<16}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'degraded':>9}"
          "  statuses")  # fmt: skip
    for route, row in result["routes"].items():
        print(f"{route:<16}{row['requests']:>9}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}"
              f"{row['p999_ms']:>10.1f}{row['degraded']:>9}  {row['statuses']}")  # fmt: skip
    print("\nerrors by phase (non-2xx):")
    for phase, counts in result["phases"].items():
        print(f"  {phase:<14} {counts}")
    print("\nmemory (after warm-up):")
    for name, row in result["memory"].items():
        print(f"  {name:<14} {row['first_mb']:8.1f} -> {row['last_mb']:8.1f} MB,"
              f" {row['mb_per_min']:+.2f} MB/min, {100 * row['change']:+.1f}%"
              f" {'flat' if row['flat'] else 'NOT flat'}")  # fmt: skip
    print("\np99 in steady phase vs unloaded:")
    for route, row in result["p99"].items():
        print(f"  {route:<16} {row['steady_p99_ms']:7.1f} ms vs {row['unloaded_p99_ms']:6.1f} ms"
              f" = {row['ratio']:.2f}x {'ok' if row['ok'] else 'OVER 2x'}")  # fmt: skip
    print("\ngoals:")
    for goal, (ok, detail) in result["goals"].items():
        print(f"  [{'MET' if ok else 'NOT MET'}] {goal}: {detail}")
