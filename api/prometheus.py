"""Prometheus instruments and a pure-ASGI middleware timing every request by route template.

Labels use the route's path template (`/v1/customers/{customer_id}/offers`), never the raw
path, so the number of series stays bounded. One registry per app, so tests and several apps
in one process do not collide.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "touchpoint_requests_total",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "touchpoint_request_seconds",
            "Request latency by route template.",
            ["route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "touchpoint_errors_total",
            "Responses with status >= 500, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "touchpoint_fallbacks_total",
            "Answers that fell back: degraded (Redis down), cold_start, popular_fill, suppressed.",
            ["reason"],
            registry=self.registry,
        )
        # (route, method, status) -> its series: `labels()` resolves them on every call
        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count and time one request (an error too when `status` >= 500)."""
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            error = self.errors.labels(route) if status >= 500 else None
            series = (self.latency.labels(route, method),
                      self.requests.labels(route, method, str(status)), error)  # fmt: skip
            self._series[key] = series
        series[0].observe(seconds)
        series[1].inc()
        if series[2] is not None:
            series[2].inc()


class MetricsMiddleware:
    """Counts and times each HTTP request; the route template is resolved once per path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    @staticmethod
    def _template(scope: Scope) -> str:
        # FastAPI records the matched route in the (shared, mutated) scope while routing
        route = scope.get("route")
        return str(getattr(route, "path_format", None) or getattr(route, "path", "unmatched"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(self._template(scope), scope["method"], status, elapsed)


def install(app: Any) -> Metrics:
    """A fresh registry, and the timing middleware on `app` counting into it."""
    metrics = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return metrics
