"""The webhook worker: case events from the stream to the configured URLs, at least once.

Each step: (1) entries this consumer was given and never acknowledged (after a crash), entries
a dead consumer left idle, then new entries; each is POSTed, signed, to every endpoint that
wants its kind and queue, in parallel threads with a timeout; the entry is acknowledged in
the MULTI that records what became of each delivery (done, scheduled to retry, dead).
(2) due retries, leased while tried. (3) open cases past their due time get one
`case.overdue` event, appended to the stream and delivered like the others.

Why a `touchpoint worker` process and not a task inside the API: the API is tuned for
millisecond answers (an event loop, GC thresholds) and runs as N replicas that scale with
traffic; deliveries block on slow receivers for seconds, retry for hours and scale with
receivers. Apart, a hanging receiver cannot take CPU or connections from serving, POST
/v1/feedback only appends to the stream, the worker can be restarted, killed or run twice
(a consumer group shares the work) without touching the API, and a SIGKILL test is honest.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import redis

from jobs.webhook_http import post
from store.webhooks import StreamEntry, WebhookStore
from webhooks.config import Endpoint, WebhookConfig
from webhooks.signing import sign
from webhooks.timing import Backoff, due_time, next_step

log = logging.getLogger("touchpoint.webhooks")
USER_AGENT = "Touchpoint-Webhooks/1"


@dataclass
class StepCounts:
    entries: int = 0
    delivered: int = 0
    retried: int = 0  # failed and scheduled again
    dead: int = 0
    overdue: int = 0

    def add(self, other: StepCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


class WebhookWorker:
    """One consumer of the `webhooks` group; `step()` does one round, `run()` loops."""

    def __init__(
        self,
        store: WebhookStore,
        config: WebhookConfig,
        *,
        secrets: Mapping[str, str],
        consumer: str = "worker",
        batch: int = 32,
        block_ms: int = 1000,
        claim_idle_ms: int = 60_000,
        threads: int = 8,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.config, self.secrets = store, config, secrets
        self.consumer, self.batch, self.block_ms = consumer, batch, block_ms
        # The longest a step's deliveries can take: rounds of `threads` parallel attempts.
        longest = max((e.timeout_seconds for e in config.endpoints), default=5.0)
        rounds = math.ceil(batch * max(1, len(config.endpoints)) / threads)
        slowest_step = rounds * longest
        # Another consumer's entry idle for less than that may still be in its hands:
        # claiming it then would only send it twice. A retry is leased for as long.
        self.claim_idle_ms = max(claim_idle_ms, int((slowest_step + 1) * 1000))
        self.lease = slowest_step + 10
        self.rng = rng or random.Random()
        self.clock = clock
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="webhook")
        self._pending_first = True
        store.ensure_group()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def run(self, stop: threading.Event, *, once: bool = False) -> StepCounts:
        """Steps until `stop` is set (or, `once`, until a step finds nothing to do)."""
        total = StepCounts()
        while not stop.is_set():
            try:
                counts = self.step(block=not once)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                self.store.ensure_group()  # Redis restarted without its data: start again
                continue
            total.add(counts)
            if once and counts == StepCounts():
                break
        return total

    def step(self, *, block: bool = True) -> StepCounts:
        counts = StepCounts()
        entries = []
        if self._pending_first:  # what this consumer held when it died, before anything new
            entries = self.store.read(self.consumer, self.batch, pending=True)
            self._pending_first = len(entries) == self.batch
        if not entries:
            entries = self.store.claim_stale(self.consumer, self.claim_idle_ms, self.batch)
        if not entries:
            wait = self.block_ms if block and not self.store.scheduled() else 0
            entries = self.store.read(self.consumer, self.batch, pending=False, block_ms=wait)
        self._deliver_entries(entries, counts)
        self._retry_due(counts)
        for case in self.store.overdue_cases(self.clock(), self.batch):
            counts.overdue += self.store.emit_overdue(case)
        return counts

    def _deliver_entries(self, entries: list[StreamEntry], counts: StepCounts) -> None:
        now = self.clock()
        jobs: list[tuple[str, dict[str, Any]]] = []
        for item in entries:
            entry = item.entry
            if entry is None:
                log.warning("case event %s was trimmed before delivery", item.stream_id)
                continue
            for endpoint in self.config.targets(entry.get("kind", ""), entry.get("queue", "")):
                jobs.append((item.stream_id, new_delivery(entry, endpoint, now)))
        results = list(self._pool.map(lambda job: self._attempt(job[1]), jobs))
        by_entry: dict[str, list[dict[str, Any]]] = {}
        for (stream_id, _), record in zip(jobs, results, strict=True):
            by_entry.setdefault(stream_id, []).append(record)
        for item in entries:
            counts.entries += 1
            later, dead = [], []
            for record in by_entry.get(item.stream_id, []):
                due = self._after(record, counts)
                if record.get("dead_at"):
                    dead.append(record)
                elif due is not None:
                    later.append((record, due))
            entry = item.entry or {}
            case = entry.get("case")
            cases = []
            if entry.get("kind") != "case.overdue" and isinstance(case, dict) and "case_id" in case:
                cases.append((case, due_time(case)))
            self.store.settle(item.stream_id, later=later, dead=dead, cases=cases)

    def _retry_due(self, counts: StepCounts) -> None:
        leased = self.store.lease_retries(self.clock(), self.lease, self.batch)
        for record in self._pool.map(self._attempt, leased):
            due = self._after(record, counts)
            self.store.retry_settled(record, due=due, dead=bool(record.get("dead_at")))

    def _after(self, record: dict[str, Any], counts: StepCounts) -> float | None:
        """Count the attempt's outcome; the retry's due time when it is to be tried again."""
        if record["error"] is None:
            counts.delivered += 1
            return None
        if next_step(record["attempt"], record["max_attempts"]) == "dead":
            record["dead_at"] = self.clock()
            counts.dead += 1
            log.warning(
                "webhook %s dead after %d attempts: %s",
                record["id"],
                record["attempt"],
                record["error"],
            )
            return None
        counts.retried += 1
        wait = Backoff(**record["backoff"]).delay(record["attempt"], self.rng)
        log.info(
            "webhook %s attempt %d failed (%s); next in %.1f s",
            record["id"],
            record["attempt"],
            record["error"],
            wait,
        )
        return self.clock() + wait

    def _attempt(self, record: dict[str, Any]) -> dict[str, Any]:
        """One signed POST of the delivery, with the endpoint as configured now."""
        record = {**record, "attempt": record["attempt"] + 1}
        endpoint = self.config.endpoint(record["endpoint"])
        if endpoint is None:
            record.update(error="endpoint no longer configured", max_attempts=record["attempt"])
            return record
        record.update(
            url=endpoint.url, max_attempts=endpoint.max_attempts, backoff=asdict(endpoint.backoff)
        )
        body = orjson.dumps(record["event"])
        secret = self.secrets.get(endpoint.secret_env, "")
        headers = sign(secret, body, event_id=record["event"]["event_id"], now=self.clock())
        headers["User-Agent"] = USER_AGENT
        record["error"] = post(endpoint.url, body, headers, endpoint.timeout_seconds)
        record["last_attempt_at"] = self.clock()
        return record


def new_delivery(entry: dict[str, Any], endpoint: Endpoint, now: float) -> dict[str, Any]:
    """The record of one event's delivery to one endpoint, before its first attempt."""
    return {
        "id": f"{entry['event_id']}:{endpoint.name}",
        "event": entry,
        "endpoint": endpoint.name,
        "url": endpoint.url,
        "attempt": 0,
        "max_attempts": endpoint.max_attempts,
        "backoff": asdict(endpoint.backoff),
        "first_at": now,
        "error": None,
    }
