"""Webhook delivery throughput: `touchpoint worker`'s loop against the same signed POSTs sent
straight from a thread pool (no Redis), in the same run, to one receiver on 127.0.0.1.

    python bench/webhooks_speed.py [--events 2000] [--threads 8]

The worker's figure includes reading the stream, acknowledging in a MULTI, noting the case's
due time and the overdue scan; the baseline is the HTTP cost alone. Both use the receiver
below (ThreadingHTTPServer answering 200 at once), so the ratio is what the worker adds.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._redis import start_redis
from jobs.webhook_http import post
from jobs.webhook_worker import WebhookWorker
from store.case_events import case_event, queue_case_event
from store.keys import Keys
from store.webhooks import WebhookStore
from webhooks.config import Endpoint, WebhookConfig
from webhooks.signing import sign

SECRET = "bench-secret-0123456789abcdef"


class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    ThreadingHTTPServer.request_queue_size = 128  # the default 5 drops SYNs under 8 senders
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    home = Path(tempfile.mkdtemp(prefix="tp-bench-hooks-"))
    process, redis_url = start_redis(home)
    client = redis.Redis.from_url(redis_url)
    try:
        case = {"case_id": "K", "queue": "support", "status": "open", "due_at": time.time() + 9e5}
        bodies = [orjson.dumps(case_event("case.opened", case)) for _ in range(args.events)]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            errors = list(
                pool.map(lambda b: post(url, b, sign(SECRET, b, event_id="e"), 5.0), bodies)
            )
        direct = args.events / (time.perf_counter() - started)
        assert not any(errors), errors[:3]

        keys = Keys()
        pipe = client.pipeline(transaction=False)
        for i in range(args.events):
            queue_case_event(pipe, keys, "case.opened", {**case, "case_id": f"K{i}"})
        pipe.execute()
        store = WebhookStore(client, keys)
        endpoint = Endpoint(name="bench", url=url, secret_env="S")
        worker = WebhookWorker(
            store, WebhookConfig((endpoint,)), secrets={"S": SECRET}, threads=args.threads, batch=64
        )
        delivered = 0
        started = time.perf_counter()
        while delivered < args.events:
            counts = worker.step(block=False)
            delivered += counts.delivered
            assert counts.retried == counts.dead == 0
        through_worker = args.events / (time.perf_counter() - started)
        worker.close()
    finally:
        server.shutdown()
        process.terminate()
        process.wait()
        shutil.rmtree(home, ignore_errors=True)
    print(f"{args.events} deliveries, {args.threads} threads, receiver on 127.0.0.1")
    print(f"direct signed POSTs (baseline): {direct:8.0f} /s")
    print(
        f"touchpoint worker loop:         {through_worker:8.0f} /s "
        f"({through_worker / direct:.2f} of the baseline)"
    )


if __name__ == "__main__":
    main()
