"""The webhook worker against a real Redis and real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator

import orjson
import pytest
import redis

from jobs.webhook_http import post
from jobs.webhook_worker import WebhookWorker
from store.case_events import CASE_EVENTS, queue_case_event
from store.keys import Keys
from store.webhooks import GROUP, WebhookStore
from tests.webhooks.receiver import HANG, TRICKLE, Receiver
from webhooks.config import Endpoint, WebhookConfig
from webhooks.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify
from webhooks.timing import Backoff

KEYS = Keys()
SECRET = "test-secret-0123456789abcdef"
QUICK = Backoff(base_seconds=0.05, max_seconds=0.2, jitter=0.5)


def hook(name: str, url: str, **kwargs: object) -> Endpoint:
    kwargs.setdefault("backoff", QUICK)
    kwargs.setdefault("timeout_seconds", 2.0)
    return Endpoint(name=name, url=url, secret_env="HOOK_SECRET", **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def make_worker(redis_client: redis.Redis) -> Iterator[Callable[..., WebhookWorker]]:
    made: list[WebhookWorker] = []

    def make(*endpoints: Endpoint, **kwargs: object) -> WebhookWorker:
        store = WebhookStore(redis_client, KEYS)
        worker = WebhookWorker(
            store,
            WebhookConfig(endpoints),
            secrets={"HOOK_SECRET": SECRET},
            rng=random.Random(7),
            block_ms=50,
            **kwargs,
        )  # type: ignore[arg-type]
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()


def opened(
    client: redis.Redis,
    case_id: str = "K1",
    queue: str = "support",
    kind: str = "case.opened",
    **case: object,
) -> dict:
    pipe = client.pipeline()
    entry = queue_case_event(
        pipe, KEYS, kind, {"case_id": case_id, "queue": queue, "status": "open", **case}
    )
    pipe.execute()
    return entry


def until(worker: WebhookWorker, done: Callable[[], bool], deadline: float = 20) -> None:
    """Step the worker until `done()` (the deadline only stops a broken test from hanging)."""
    end = time.monotonic() + deadline
    while not done() and time.monotonic() < end:
        worker.step(block=False)
        time.sleep(0.01)
    assert done()


def pending(client: redis.Redis) -> int:
    return int(client.xpending(KEYS.stream(CASE_EVENTS), GROUP)["pending"])


def test_an_event_arrives_signed_with_its_idempotency_key(redis_client, make_worker) -> None:
    with Receiver() as receiver:
        worker = make_worker(hook("desk", receiver.url))
        entry = opened(redis_client, customer_id="c1")
        until(worker, lambda: len(receiver.received) == 1)
        worker.step(block=False)
    got = receiver.received[0]
    assert orjson.loads(got.body) == entry
    assert got.headers[IDEMPOTENCY_HEADER] == entry["event_id"]
    assert verify(SECRET, got.headers[SIGNATURE_HEADER], got.body)
    assert not verify("wrong-secret-0123456789", got.headers[SIGNATURE_HEADER], got.body)
    assert pending(redis_client) == 0 and WebhookStore(redis_client, KEYS).scheduled() == 0


def test_a_receiver_that_fails_first_gets_it_later_with_the_same_key(
    redis_client, make_worker
) -> None:
    with Receiver([500, 503], then=200) as receiver:
        worker = make_worker(hook("desk", receiver.url))
        entry = opened(redis_client)
        until(worker, lambda: [r.answered for r in receiver.received] == [500, 503, 200])
    assert {r.headers[IDEMPOTENCY_HEADER] for r in receiver.received} == {entry["event_id"]}
    store = WebhookStore(redis_client, KEYS)
    assert store.scheduled() == 0 and store.dead_letters() == [] and pending(redis_client) == 0


def test_only_endpoints_that_want_the_kind_and_queue_hear_of_it(redis_client, make_worker) -> None:
    with Receiver() as support, Receiver() as overdue_only:
        worker = make_worker(
            hook("support", support.url, queues=frozenset({"support"})),
            hook("overdue", overdue_only.url, kinds=frozenset({"case.overdue"})),
        )
        opened(redis_client, "K1", queue="support")
        opened(redis_client, "K2", queue="delivery")
        until(worker, lambda: pending(redis_client) == 0 and len(support.received) == 1)
    assert [orjson.loads(r.body)["case"]["case_id"] for r in support.received] == ["K1"]
    assert overdue_only.received == []


def test_dead_after_max_attempts_then_replayed(redis_client, make_worker) -> None:
    with Receiver(then=500) as receiver:
        worker = make_worker(hook("desk", receiver.url, max_attempts=3))
        entry = opened(redis_client)
        store = WebhookStore(redis_client, KEYS)
        until(worker, lambda: len(store.dead_letters()) == 1)
        (dead,) = store.dead_letters()
        assert (dead["id"], dead["attempt"], dead["error"]) == (
            f"{entry['event_id']}:desk",
            3,
            "HTTP 500",
        )
        assert len(receiver.received) == 3 and store.scheduled() == 0
        receiver.then = 200
        assert store.replay([entry["event_id"]]) == [dead["id"]]
        until(worker, lambda: len(receiver.received) == 4)
        until(worker, lambda: store.scheduled() == 0)
    assert receiver.received[-1].answered == 200
    assert receiver.received[-1].headers[IDEMPOTENCY_HEADER] == entry["event_id"]
    assert store.dead_letters() == []


def test_a_hanging_receiver_times_out_and_blocks_nothing_else(redis_client, make_worker) -> None:
    with Receiver([HANG], then=200) as slow, Receiver() as fast:
        worker = make_worker(hook("slow", slow.url, timeout_seconds=0.3), hook("fast", fast.url))
        first = opened(redis_client, "K1")
        until(worker, lambda: len(fast.received) == 1)
        # the append that intake does is untouched by the hanging delivery
        second = opened(redis_client, "K2")
        until(worker, lambda: len(fast.received) == 2 and len(slow.received) >= 3)
        store = WebhookStore(redis_client, KEYS)
        until(worker, lambda: store.scheduled() == 0)
    assert slow.received[0].answered == HANG
    slow_keys = [r.headers[IDEMPOTENCY_HEADER] for r in slow.received if r.answered == 200]
    assert sorted(slow_keys) == sorted([first["event_id"], second["event_id"]])


def test_an_open_case_past_due_is_reported_overdue_once(redis_client, make_worker) -> None:
    with Receiver() as receiver:
        worker = make_worker(hook("desk", receiver.url, kinds=frozenset({"case.overdue"})))
        past = time.time() - 60
        opened(redis_client, "late", due_at=past)
        opened(redis_client, "later", due_at=time.time() + 3600)
        opened(redis_client, "done", due_at=past)
        opened(redis_client, "done", kind="case.resolved", status="resolved", due_at=past)
        opened(redis_client, "iso", due_at="2020-01-01T00:00:00Z")
        until(worker, lambda: len(receiver.received) == 2)
        for _ in range(5):
            worker.step(block=False)
    reported = sorted(orjson.loads(r.body)["case"]["case_id"] for r in receiver.received)
    assert reported == ["iso", "late"]
    assert {orjson.loads(r.body)["kind"] for r in receiver.received} == {"case.overdue"}


def test_intake_answers_while_a_delivery_hangs(redis_client, store_config, make_worker) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiSettings

    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with Receiver([HANG], then=200) as slow, TestClient(create_app(settings)) as api:
        worker = make_worker(hook("slow", slow.url, timeout_seconds=20))
        opened(redis_client, "K1")
        stepping = threading.Thread(target=worker.step, kwargs={"block": False})
        stepping.start()
        slow.wait_for(1)  # the worker is now waiting on the receiver
        answer = api.post(
            "/v1/feedback",
            json={"response_id": "r1", "customer_id": "c1", "survey": "nps", "score": 2},
        )
        still_waiting = stepping.is_alive()
        slow.release()
        stepping.join(30)
    assert answer.status_code == 202 and answer.json()["accepted"] == 1
    assert still_waiting  # the answer came while the delivery still hung
    assert redis_client.xlen(KEYS.stream("feedback")) == 1


def test_entries_a_dead_consumer_left_are_taken_over(redis_client, make_worker) -> None:
    store = WebhookStore(redis_client, KEYS)
    store.ensure_group()
    entry = opened(redis_client)
    taken = store.read("crashed-elsewhere", 10, pending=False)  # read, then that process died
    assert [t.entry for t in taken] == [entry]
    with Receiver() as receiver:
        worker = make_worker(hook("desk", receiver.url, timeout_seconds=0.2), claim_idle_ms=0)
        until(worker, lambda: len(receiver.received) == 1 and pending(redis_client) == 0)
    assert receiver.received[0].headers[IDEMPOTENCY_HEADER] == entry["event_id"]


def test_a_redis_that_lost_its_data_gets_the_group_again(redis_client, make_worker) -> None:
    with Receiver() as receiver:
        worker = make_worker(hook("desk", receiver.url))
        redis_client.flushall()  # e.g. restarted without its append-only file
        entry = opened(redis_client)
        worker.run(threading.Event(), once=True)
    assert [orjson.loads(r.body) for r in receiver.received] == [entry]


def test_the_timeout_bounds_the_whole_exchange_not_each_read() -> None:
    with Receiver([TRICKLE, 200]) as trickle:
        # each byte comes well within 1 s, the whole answer in about 4 s: too late
        assert post(trickle.url, b"{}", {}, timeout=1.0) == "timed out after 1 s"
        assert post(trickle.url, b"{}", {}, timeout=1.0) is None
    assert [r.answered for r in trickle.received] == [TRICKLE, 200]


def test_redirects_are_not_followed() -> None:
    with Receiver([302]) as receiver:
        assert post(receiver.url, b"{}", {}, timeout=2.0) == "HTTP 302"
