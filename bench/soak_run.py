"""One soak run: serve, baseline, (ramp), the load with its faults, ingest, the figures."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.soak_faults import (
    EmbeddedKeeper,
    RulesFile,
    Serve,
    ingest,
    rss_bytes,
    start_publish,
    wait_ready,
)
from bench.soak_goals import figures, found_ids, ids_of, rules_reloads
from bench.soak_load import LoadGenerator, Sample, Traffic
from bench.soak_report import OUTAGE, RECOVERY_GOAL, WORKER_KILL, Timeline, Window, per_route

ROOT = Path(__file__).resolve().parent.parent
RAMP = (8, 16, 32)  # clients back to back in the ramp
SHARE_OF_MAX = 0.7
BURST_FACTOR, BURST_SECONDS = 10.0, 5.0
AFTER = {"publish": 3.0, "worker-kill": 2.0, "rules": 2.0, "burst": 2.0}  # settle, s


@dataclass
class SoakOptions:
    data: Path
    work: Path
    duration: float = 600.0
    rate: float | None = None  # None: 70% of the ramp's max
    server: str = "uvicorn"
    workers: int = 2
    port: int = 8951
    appendfsync: str = "everysec"
    rate_limits: bool = True
    sample_every: float = 10.0
    outage: float = 3.0
    baseline_seconds: float = 5.0
    ramp_seconds: float = 4.0
    seed: int = 1
    timeout: float = 10.0  # per HTTP request: an answer slower than this counts as none


def environment(options: SoakOptions, rules: Path, *, limit: float | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1",
           "TOUCHPOINT_DATA_DIR": str(options.data), "TOUCHPOINT_BUSINESS_RULES_DIR": str(rules),
           "TOUCHPOINT_REDIS_APPENDFSYNC": options.appendfsync}  # fmt: skip
    env.pop("TOUCHPOINT_REDIS_URL", None)
    env.pop("TOUCHPOINT_ADDRESS_RATE_LIMITS", None)
    if limit is not None:  # one bucket per client address for every scope
        bucket = {"rate": limit, "burst": max(1, int(limit))}
        env["TOUCHPOINT_ADDRESS_RATE_LIMITS"] = json.dumps({"*": bucket})
    return env


class Soak:
    def __init__(self, options: SoakOptions, keeper: EmbeddedKeeper, serve: Serve,
                 rules: RulesFile, publish_env: dict[str, str], rate: float) -> None:  # fmt: skip
        self.o, self.keeper, self.serve, self.rules = options, keeper, serve, rules
        self.publish_env, self.rate = publish_env, rate
        self.timeline = Timeline(warmup_end=0.1 * options.duration)
        self.faults_done = False
        self.burst_at: float | None = None
        self.memory: dict[str, list[tuple[float, float]]] = {}
        self.publish_code: int | None = None
        self.respawned = False

    def rate_at(self, t: float) -> float:
        bursting = self.burst_at is not None and self.burst_at <= t < self.burst_at + BURST_SECONDS
        return self.rate * (BURST_FACTOR if bursting else 1.0)

    async def at(self, gen: LoadGenerator, fraction: float) -> float:
        wait = fraction * self.o.duration - gen.now()
        if wait > 0:
            await asyncio.sleep(wait)
        return gen.now()

    async def faults(self, gen: LoadGenerator) -> None:
        tl, d = self.timeline, self.o.duration
        t = await self.at(gen, 0.10)
        tl.note(t, "fault: `touchpoint run` publishing a new version")
        publish = start_publish(self.o.data, env=self.publish_env, budget=20,
                                log=self.o.work / "publish.log")  # fmt: skip
        publish_started = t
        t = await self.at(gen, 0.30)
        victim = await asyncio.to_thread(self.serve.kill_worker)
        tl.note(t, f"fault: API worker {victim} SIGKILLed")
        while gen.now() - t < 60:
            pids = self.serve.worker_pids()
            if victim not in pids and len(pids) >= self.serve.workers:
                self.respawned = True
                break
            await asyncio.sleep(0.1)
        tl.note(gen.now(), f"worker respawned: {self.respawned}")
        tl.windows.append(Window(WORKER_KILL, t, gen.now() + AFTER[WORKER_KILL] + 3))
        t = await self.at(gen, 0.40)
        self.rules.break_it()
        tl.note(t, f"fault: {self.rules.path.name} broken (YAML error)")
        t_mend = await self.at(gen, 0.45)
        self.rules.mend()
        tl.note(t_mend, f"{self.rules.path.name} mended")
        tl.windows.append(Window("rules", t, t_mend + AFTER["rules"]))
        await self.at(gen, 0.60)
        while publish.poll() is None:  # a publish cut by the Redis kill would prove nothing
            await asyncio.sleep(0.2)
        self.publish_code = publish.returncode
        tl.note(gen.now(), f"publish ended, exit code {self.publish_code}")
        tl.windows.append(Window("publish", publish_started, gen.now() + AFTER["publish"]))
        t = gen.now()
        await asyncio.to_thread(self.keeper.kill)
        tl.redis_killed = t
        tl.note(t, f"fault: Redis SIGKILLed (down for {self.o.outage:g} s)")
        await asyncio.sleep(self.o.outage)
        await asyncio.to_thread(self.keeper.restart)
        tl.redis_back = gen.now()
        tl.note(tl.redis_back, "Redis started again (same dir, AOF)")
        tl.windows.append(Window(OUTAGE, t, tl.redis_back + RECOVERY_GOAL))
        t = await self.at(gen, max(0.80, (tl.redis_back + RECOVERY_GOAL + 1) / d))
        self.burst_at = t
        tl.note(t, f"fault: burst, {BURST_FACTOR:g}x the rate for {BURST_SECONDS:g} s")
        tl.windows.append(Window("burst", t, t + BURST_SECONDS + AFTER["burst"]))
        await asyncio.sleep(BURST_SECONDS + AFTER["burst"])
        self.faults_done = True

    async def sample_memory(self, gen: LoadGenerator) -> None:
        while True:
            t = gen.now()
            rows = {f"worker {pid}": rss_bytes(pid) for pid in self.serve.worker_pids()}
            rows["redis used_memory"] = await asyncio.to_thread(self.keeper.used_memory)
            text = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in rows.items() if v is not None)
            print(f"t={t:7.1f}s  memory: {text}", flush=True)
            for name, value in rows.items():
                if value is not None:
                    self.memory.setdefault(name, []).append((t, float(value)))
            await asyncio.sleep(self.o.sample_every)

    async def run(self, gen: LoadGenerator) -> None:
        gen.origin = time.monotonic()
        sampler = asyncio.create_task(self.sample_memory(gen))
        faults = asyncio.create_task(self.faults(gen))

        def going(t: float) -> bool:
            return t < self.o.duration or not self.faults_done

        try:
            await asyncio.gather(gen.open_loop(going=going, rate=self.rate_at), faults)
        finally:
            sampler.cancel()


async def measure(gen: LoadGenerator, options: SoakOptions) -> tuple[dict[str, Any], float]:
    """The unloaded latencies per route, and the ramp's best answers/s (0 when not run)."""
    await gen.closed_loop(concurrency=1, seconds=options.baseline_seconds)
    unloaded = per_route(gen.samples)
    best = 0.0
    if options.rate is None:
        for clients in RAMP:
            got = await gen.closed_loop(concurrency=clients, seconds=options.ramp_seconds)
            print(f"ramp: {clients} clients back to back: {got:.0f} answers/s", flush=True)
            best = max(best, got)
    return unloaded, best


def run_soak(options: SoakOptions) -> dict[str, Any]:
    rules = RulesFile(ROOT / "rules", options.work)
    keeper = EmbeddedKeeper(options.data, appendfsync=options.appendfsync)
    with keeper.client() as client:  # a server already running keeps its policy: set it
        client.config_set("appendfsync", options.appendfsync)
    customers = ids_of(options.data / "customers.parquet", "customer_id")
    items = ids_of(options.data / "items.parquet", "item_id")
    traffic = Traffic(customers, items, seed=options.seed, tag=f"soak{int(time.time())}")

    def start_serve(env: dict[str, str]) -> Serve:
        serve = Serve(options.data, port=options.port, workers=options.workers,
                      server=options.server, env=env, log=options.work / "serve.log")  # fmt: skip
        serve.wait_workers()
        return serve

    publish_env = environment(options, ROOT / "rules", limit=None)
    serve: Serve | None = None
    try:
        serve = start_serve(environment(options, rules.directory, limit=None))
        before = LoadGenerator(serve.base_url, traffic, timeout=options.timeout)
        unloaded, best = asyncio.run(measure(before, options))
        rate = options.rate or SHARE_OF_MAX * best
        base = ", ".join(f"{k} {v['p50_ms']:.1f}/{v['p99_ms']:.1f}" for k, v in unloaded.items())
        print(f"unloaded p50/p99 ms: {base}\nsoak rate: {rate:.0f} requests/s", flush=True)
        if options.rate_limits:  # again, with a per-address limit of 2x the rate
            serve.stop()
            serve = start_serve(environment(options, rules.directory, limit=2 * rate))
        version_before = wait_ready_version(serve.base_url)
        gen = LoadGenerator(serve.base_url, traffic, timeout=options.timeout)
        soak = Soak(options, keeper, serve, rules, publish_env, rate)
        asyncio.run(soak.run(gen))
        version_after = wait_ready_version(serve.base_url)
        serve_code = serve.stop()
        ingested = ingest(options.data, env=publish_env)
        if ingested.returncode != 0:
            raise RuntimeError(f"touchpoint ingest failed: {ingested.stderr[-2000:]}")
    finally:
        if serve is not None and serve.process.poll() is None:  # stopped early by an error
            serve.stop()
        keeper.release()
    accepted = {k: {**before.accepted[k], **gen.accepted[k]} for k in gen.accepted}
    found = {"events": found_ids(options.data, "events", "event_id"),
             "feedback": found_ids(options.data, "feedback", "response_id")}  # fmt: skip
    return figures(
        options,
        soak,
        gen,
        unloaded,
        rate,
        best,
        accepted,
        found,
        versions=(version_before, version_after),
        serve_code=serve_code,
        reloads=rules_reloads(options.data, rules.directory),
    )


def wait_ready_version(base_url: str) -> str | None:
    import httpx

    wait_ready(base_url)
    return httpx.get(f"{base_url}/readyz", timeout=5).json().get("version")


__all__ = ["Sample", "SoakOptions", "run_soak"]
