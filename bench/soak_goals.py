"""The soak's verdict: what came back, what was counted back after ingest, the goals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from bench.soak_load import MIX, NO_ANSWER, LoadGenerator
from bench.soak_report import (
    OUTAGE,
    RECOVERY_GOAL,
    WORKER_KILL,
    errors_by_phase,
    memory_trend,
    p99_against_unloaded,
    per_route,
    recovery_seconds,
)

if TYPE_CHECKING:
    from bench.soak_run import Soak, SoakOptions


def ids_of(path: Path, column: str) -> list[str]:
    return [str(x) for x in pq.read_table(path, columns=[column]).column(column).to_pylist()]


def rules_reloads(data: Path, directory: Path) -> list[str]:
    """Outcomes of the audit trail's `rules.reload` entries for `directory`, after ingest."""
    outcomes: list[str] = []
    for part in sorted((data / "audit").glob("*.parquet")):
        rows = pq.read_table(part, columns=["action", "target", "outcome"]).to_pylist()
        outcomes += [
            r["outcome"]
            for r in rows
            if (r["action"], r["target"]) == ("rules.reload", str(directory))
        ]
    return outcomes


def found_ids(data: Path, table: str, column: str) -> set[str]:
    found: set[str] = set()
    for part in sorted((data / table).glob("*.parquet")):
        found.update(ids_of(part, column))
    return found


def figures(options: SoakOptions, soak: Soak, gen: LoadGenerator, unloaded: dict[str, Any],
            rate: float, best: float, accepted: dict[str, dict[str, float]],
            found: dict[str, set[str]], *, versions: tuple[str | None, str | None],
            serve_code: int, reloads: list[str]) -> dict[str, Any]:  # fmt: skip
    tl, samples = soak.timeline, gen.samples
    lost = {k: sorted(set(ids) - found[k]) for k, ids in accepted.items()}
    lost_at = [accepted[k][i] for k in lost for i in lost[k]]
    phases = errors_by_phase(samples, tl)
    memory = memory_trend(soak.memory, tl.warmup_end)
    workers = {k: v for k, v in memory.items() if k.startswith("worker")}
    recovery = recovery_seconds(samples, tl)
    burst_429 = sum(
        1 for s in samples if s.status == 429 and tl.phase(s.at, s.at + s.seconds) == "burst"
    )
    outside_5xx = sum(
        1 for s in samples if s.status >= 500 and tl.phase(s.at, s.at + s.seconds) != OUTAGE
    )
    unanswered = sum(1 for s in samples if s.status == NO_ANSWER
                     and tl.phase(s.at, s.at + s.seconds) not in (OUTAGE, WORKER_KILL))  # fmt: skip
    p99 = p99_against_unloaded(samples, unloaded, tl)
    sent = {k: len(v) for k, v in accepted.items()}
    goals: dict[str, tuple[bool, str]] = {
        "zero 5xx outside the Redis outage": (outside_5xx == 0, f"{outside_5xx} 5xx"),
        "every request answered outside the outage and the worker kill":
            (unanswered == 0, f"{unanswered} unanswered"),
        f"recovery within {RECOVERY_GOAL:g} s of Redis returning":
            (recovery is not None and recovery <= RECOVERY_GOAL, f"{recovery} s"),
        "every 202'd event/feedback found after ingest":
            (not any(lost.values()), f"sent {sent}, lost {({k: len(v) for k, v in lost.items()})}"),
        "worker memory flat within 5% after warm-up":
            (bool(workers) and all(v["flat"] for v in workers.values()),
             ", ".join(f"{k} {100 * v['change']:+.1f}%" for k, v in workers.items())),
        "steady p99 within 2x unloaded": (all(v["ok"] for v in p99.values()),
                                          f"{len(p99)} routes compared"),
        "the publish made a new version live":
            (soak.publish_code == 0 and versions[0] != versions[1],
             f"{versions[0]} -> {versions[1]}"),
        "the killed worker was respawned": (soak.respawned, ""),
        "the broken rules file was reported, the mended one reloaded":
            ("failed" in reloads and reloads[-1] == "ok", f"audit: {reloads}"),
    }  # fmt: skip
    if options.rate_limits:
        goals["429s under the burst"] = (burst_429 > 0, f"{burst_429} 429s")
    return {
        "options": {k: str(v) for k, v in vars(options).items()},
        "rate": rate, "ramp_best": best, "offered": gen.offered, "sent": len(samples),
        "shed": gen.shed, "dropped_late": gen.dropped_late, "mix": MIX,
        "timeline": tl.notes, "windows": [vars(w) for w in tl.windows],
        "routes": per_route(samples), "unloaded": unloaded, "phases": phases,
        "recovery_seconds": recovery, "memory": memory, "p99": p99, "burst_429": burst_429,
        "intake_sent": sent, "intake_lost": {k: len(v) for k, v in lost.items()},
        "lost_before_kill_s": [round((tl.redis_killed or 0) - a, 3) for a in sorted(lost_at)],
        "serve_exit": serve_code, "goals": goals,
        "samples": [(s.at, s.route, s.status, s.seconds) for s in samples]
        if os.environ.get("SOAK_KEEP_SAMPLES") else [],
    }  # fmt: skip
