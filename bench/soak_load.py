"""The soak's load: production-shaped mixed traffic over HTTP, open loop at a given rate.

`Traffic` draws the next request from the mix (GET recommendations 60%, personalize 15%,
offers/rewards/content 10%, events in batches of 1-20 10%, feedback 5%); `LoadGenerator`
sends them with httpx on keep-alive connections at `rate(t)` requests a second (open loop:
a slow answer does not slow the offered load; past `connections` requests in flight the
next ones are shed and counted), and records every answer as a `Sample`. The ids of every
event and survey response answered 202 are kept to be counted back after `touchpoint ingest`.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

# route → share of requests (issue 24: production proportions)
MIX: dict[str, float] = {
    "recommendations": 0.60, "personalize": 0.15, "offers": 0.10 / 3, "rewards": 0.10 / 3,
    "content": 0.10 / 3, "events": 0.10, "feedback": 0.05,
}  # fmt: skip
INTAKE_ID = {"events": "event_id", "feedback": "response_id"}  # the id counted back after ingest
EVENT_TYPES = ("view", "view", "click", "add_to_cart", "purchase")
CHANNELS = ("web", "app", "email")
NO_ANSWER = 0  # a Sample's status when no HTTP answer came (refused, reset, timed out)
CATCH_UP_LIMIT = 1.0  # seconds behind schedule past which missed sends are dropped, not burst


@dataclass(slots=True)
class Sample:
    """One request: when it was sent (seconds since the soak's origin), where, the answer."""

    at: float
    route: str
    status: int
    seconds: float
    degraded: bool = False


@dataclass
class Request:
    route: str
    method: str
    path: str
    body: bytes | None = None
    ids: list[str] = field(default_factory=list)  # intake ids in the body


class Traffic:
    """Draws requests from the mix for known customers and items (a few unknown ones too)."""

    def __init__(self, customers: list[str], items: list[str], *, seed: int, tag: str) -> None:
        self.customers, self.items = customers, items
        self.rng = random.Random(seed)
        self.tag = tag  # makes intake ids unique per soak run
        self.serial = itertools.count()
        self.routes, self.weights = list(MIX), list(MIX.values())

    def customer(self) -> str:
        if self.rng.random() < 0.02:
            return f"soak-new-{self.rng.randrange(1_000_000)}"  # a cold-start visitor
        return self.rng.choice(self.customers)

    def next(self) -> Request:
        route = self.rng.choices(self.routes, self.weights)[0]
        who = self.customer()
        channel = self.rng.choice(CHANNELS)
        if route == "recommendations":
            return Request(route, "GET", f"/v1/customers/{who}/recommendations?k=10")
        if route in ("offers", "rewards", "content"):
            return Request(route, "GET", f"/v1/customers/{who}/{route}?channel={channel}")
        if route == "personalize":
            body = {"customer_id": who, "channel": channel, "slots": [
                {"name": "hero", "kind": "product", "k": 4},
                {"name": "deals", "kind": "offer", "k": 3},
                {"name": "more", "kind": "product", "k": 3}]}  # fmt: skip
            return Request(route, "POST", "/v1/personalize", orjson.dumps(body))
        if route == "events":
            events = [self._event(who) for _ in range(self.rng.randint(1, 20))]
            ids = [e["event_id"] for e in events]
            return Request(route, "POST", "/v1/events", orjson.dumps({"events": events}), ids)
        response_id = f"{self.tag}-f{next(self.serial)}"
        answer = {"response_id": response_id, "customer_id": who, "survey": "nps",
                  "score": self.rng.randint(0, 10), "channel": channel}  # fmt: skip
        return Request(route, "POST", "/v1/feedback", orjson.dumps(answer), [response_id])

    def _event(self, who: str) -> dict[str, Any]:
        return {"event_id": f"{self.tag}-e{next(self.serial)}", "customer_id": who,
                "item_id": self.rng.choice(self.items), "type": self.rng.choice(EVENT_TYPES),
                "channel": self.rng.choice(CHANNELS)}  # fmt: skip


class LoadGenerator:
    """Sends `Traffic` to one base URL and keeps what came back."""

    def __init__(
        self, base_url: str, traffic: Traffic, *, connections: int = 64, timeout: float = 5.0
    ) -> None:
        self.base_url, self.traffic = base_url, traffic
        self.connections, self.timeout = connections, timeout
        self.origin = time.monotonic()  # Sample.at counts from here
        self.samples: list[Sample] = []
        self.accepted: dict[str, dict[str, float]] = {"events": {}, "feedback": {}}  # id → at
        self.offered = 0
        self.shed = 0  # not sent: every connection busy
        self.dropped_late = 0  # not sent: the generator fell behind schedule (CPU starved)
        self._inflight = 0

    def now(self) -> float:
        return time.monotonic() - self.origin

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self.connections,
                              max_keepalive_connections=self.connections)  # fmt: skip
        return httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=self.timeout)

    async def _send(self, client: httpx.AsyncClient, request: Request) -> Sample:
        at = self.now()
        started = time.perf_counter()
        headers = {"content-type": "application/json"} if request.body is not None else None
        try:
            response = await client.request(
                request.method, request.path, content=request.body, headers=headers
            )
            status, degraded = response.status_code, b'"degraded":true' in response.content
        except httpx.HTTPError:
            status, degraded = NO_ANSWER, False
        sample = Sample(at, request.route, status, time.perf_counter() - started, degraded)
        self.samples.append(sample)
        if status == 202 and request.ids:
            kept = self.accepted[request.route]
            for one in request.ids:
                kept[one] = at
        return sample

    async def _one(self, client: httpx.AsyncClient, request: Request) -> None:
        self._inflight += 1
        try:
            await self._send(client, request)
        finally:
            self._inflight -= 1

    async def open_loop(
        self, *, going: Callable[[float], bool], rate: Callable[[float], float]
    ) -> None:
        """Offer `rate(t)` requests a second while `going(t)`."""
        tasks: set[asyncio.Task[None]] = set()
        async with self._client() as client:
            due = self.now()
            while going(due):
                now = self.now()
                if due > now:
                    await asyncio.sleep(due - now)
                    continue
                if now - due > CATCH_UP_LIMIT:  # starved of CPU: drop the backlog, say so
                    missed = int((now - due) * rate(due))
                    self.dropped_late += missed
                    self.offered += missed
                    due = now
                self.offered += 1
                if self._inflight >= self.connections:
                    self.shed += 1
                else:
                    task = asyncio.create_task(self._one(client, self.traffic.next()))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                due += 1.0 / rate(due)
            if tasks:
                await asyncio.wait(tasks, timeout=self.timeout + 1)

    async def closed_loop(self, *, concurrency: int, seconds: float) -> float:
        """`concurrency` clients back to back for `seconds`: answers a second (2xx only)."""
        end = self.now() + seconds
        first = len(self.samples)

        async def client_loop(client: httpx.AsyncClient) -> None:
            while self.now() < end:
                await self._send(client, self.traffic.next())

        async with self._client() as client:
            await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        ok = sum(1 for s in self.samples[first:] if 200 <= s.status < 300)
        return ok / seconds
