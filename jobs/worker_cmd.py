"""`touchpoint worker`: deliver case events to the configured webhooks (see
`jobs.webhook_worker` for what a step does and why this is a process of its own)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from redis.exceptions import RedisError

from jobs.common import BUSINESS_RULES_DIR_ENV, DataDir, JsonFlag, report, setup_logging

WEBHOOKS_ENV = "TOUCHPOINT_WEBHOOKS_FILE"
RETRY_PAUSE = 1.0  # seconds between attempts while Redis is out of reach

WebhooksFile = Annotated[
    Path | None,
    typer.Option(
        "--webhooks",
        dir_okay=False,
        help=f"Webhook configuration (default: ${WEBHOOKS_ENV}, else webhooks.yaml in the "
        "business rules directory).",
    ),
]


def webhooks_file(path: Path | None) -> Path:
    if path is not None:
        return path
    if os.environ.get(WEBHOOKS_ENV):
        return Path(os.environ[WEBHOOKS_ENV])
    return Path(os.environ.get(BUSINESS_RULES_DIR_ENV) or "rules") / "webhooks.yaml"


def worker(
    data: DataDir = Path("data"),
    webhooks: WebhooksFile = None,
    consumer: Annotated[
        str, typer.Option(help="Consumer name; give each worker its own to run several.")
    ] = "worker",
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Entries per step.")] = 32,
    claim_idle: Annotated[
        float, typer.Option(help="Seconds before taking over another consumer's entries.")
    ] = 60.0,
    once: Annotated[bool, typer.Option(help="Deliver what is due now, then exit.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Deliver case events (opened, updated, resolved, overdue) to the configured webhooks,
    at least once, signed, with retries and a dead-letter list."""
    from jobs.webhook_worker import StepCounts, WebhookWorker
    from store.client import connect
    from store.config import StoreConfig
    from store.keys import Keys
    from store.webhooks import WebhookStore
    from webhooks.config import load_webhooks

    setup_logging()
    log = logging.getLogger("touchpoint.webhooks")
    path = webhooks_file(webhooks)
    config = load_webhooks(path, need_secrets=True)  # refused here, with file and line
    log.info("%d webhook endpoint(s) from %s", len(config.endpoints), config.source)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())  # finish the step under way, then exit
    store_config = StoreConfig(data_dir=data)
    total = StepCounts()
    with connect(store_config) as client:
        store = WebhookStore(client, Keys(store_config.namespace))
        hooks = WebhookWorker(
            store,
            config,
            secrets=dict(os.environ),
            consumer=consumer,
            batch=batch,
            claim_idle_ms=int(claim_idle * 1000),
        )
        try:
            while not stop.is_set():
                try:
                    total.add(hooks.run(stop, once=once))
                    break
                except (RedisError, OSError) as exc:  # nothing is acknowledged that was not done
                    log.warning("Redis unavailable, retrying: %s", exc)
                    time.sleep(RETRY_PAUSE)
        finally:
            hooks.close()
    report("touchpoint worker", {"webhooks": str(path), **vars(total)}, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
