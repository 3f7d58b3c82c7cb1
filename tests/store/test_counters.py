"""Impression windows and redemption counts on a real Redis."""

from __future__ import annotations

from store.answers import Answer, record_answers
from store.counters import (
    DAY,
    decode_redeemed,
    decode_window,
    queue_read_redeemed,
    queue_read_windows,
    record_redemptions,
    window_key,
)
from store.keys import Keys

KEYS = Keys("tp")
NOW = 1_700_000_000.0


def read_windows(client, customer_id, windows, now=NOW):
    pipe = client.pipeline(transaction=False)
    queued = queue_read_windows(pipe, KEYS, customer_id, windows, now)
    return {d: decode_window(d, raw) for d, raw in zip(queued, pipe.execute(), strict=True)}


def test_impressions_count_per_item_and_per_channel_kind_in_every_window(redis_client):
    shown = [("o1", "offer"), ("p1", "product")]
    pipe = redis_client.pipeline(transaction=False)
    channels = ("email", "email", "web")
    answers = [Answer("c1", ch, shown, f"r{n}", NOW, [7, 1]) for n, ch in enumerate(channels)]
    record_answers(pipe, KEYS, answers)
    pipe.execute()
    windows = read_windows(redis_client, "c1", [1, 7])
    for days in (1, 7):
        assert windows[days].item("o1") == 3 and windows[days].item("nope") == 0
        assert windows[days].channel_kind("email", "offer") == 2
        assert windows[days].channel_kind("web", "product") == 1
    ttl = redis_client.ttl(window_key(KEYS, "c1", 7, NOW))
    assert 7 * DAY < ttl <= 8 * DAY


def test_a_new_window_starts_from_zero(redis_client):
    pipe = redis_client.pipeline(transaction=False)
    record_answers(pipe, KEYS, [Answer("c1", "web", [("x", "product")], "r1", NOW, [7])])
    pipe.execute()
    later = NOW + 7 * DAY
    assert read_windows(redis_client, "c1", [7], later)[7].item("x") == 0
    assert read_windows(redis_client, "c2", [7])[7].items == {}


def test_redemptions_accumulate_per_offer(redis_client):
    pipe = redis_client.pipeline(transaction=False)
    record_redemptions(pipe, KEYS, ["o1", "o1", "o2"])
    queue_read_redeemed(pipe, KEYS)
    *_, raw = pipe.execute()
    assert decode_redeemed(raw) == {"o1": 2, "o2": 1}
