"""Impression windows and redemption counts on a real Redis."""

from __future__ import annotations

import random

import pytest

from store.answers import Answer, record_answers
from store.counters import (
    DAY,
    FOLD,
    decode_redeemed,
    log_key,
    record_redemptions,
    redeemed_key,
    window_key,
)
from store.keys import Keys
from tests.windows import read_windows

KEYS = Keys("tp")
NOW = 1_700_000_000.0


def write(redis_client, answers):
    pipe = redis_client.pipeline(transaction=False)
    record_answers(pipe, KEYS, answers)
    pipe.execute()


def test_impressions_count_per_item_and_per_channel_kind_in_every_window(redis_client, redis_url):
    shown = [("o1", "offer"), ("p1", "product")]
    channels = ("email", "email", "web")
    write(
        redis_client,
        [Answer("c1", ch, shown, f"r{n}", NOW, [7, 1]) for n, ch in enumerate(channels)],
    )
    windows = read_windows(redis_url, KEYS, "c1", [1, 7], NOW)
    for days in (1, 7):
        assert windows[days].item("o1") == 3 and windows[days].item("nope") == 0
        assert windows[days].channel_kind("email", "offer") == 2
        assert windows[days].channel_kind("web", "product") == 1
    ttl = redis_client.ttl(log_key(window_key(KEYS, "c1", 7, NOW)))
    assert 7 * DAY < ttl <= 8 * DAY


@pytest.mark.parametrize("least_shown", [1, 3])
def test_counts_add_up_across_the_fold_of_the_log_into_the_hash(
    redis_client, redis_url, least_shown
):
    """Answer after answer (one, or several in one call), the counts read back are the
    shown counts kept here, whether they sit in the log, in the hash, or in both; the log
    never holds `FOLD` records, and the hash keeps the counts with a TTL."""
    rng = random.Random(11)
    items = [("p1", "product"), ("p2", "product"), ("o1", "offer")]
    expected_items: dict[str, int] = {}
    expected_kinds: dict[tuple[str, str], int] = {}
    window = window_key(KEYS, "c1", 7, NOW)
    n = 0
    while n < 3 * FOLD + 2:
        batch = []
        for _ in range(rng.choice([1, 1, 2, 5])):
            channel = rng.choice(["web", "email"])
            shown = rng.sample(items, rng.randint(1, 3))
            batch.append(Answer("c1", channel, shown, f"r{n}", NOW, [7]))
            n += 1
            for item_id, kind in shown:
                expected_items[item_id] = expected_items.get(item_id, 0) + 1
                expected_kinds[(channel, kind)] = expected_kinds.get((channel, kind), 0) + 1
        write(redis_client, batch)
        counts = read_windows(redis_url, KEYS, "c1", [7], NOW, least_shown=least_shown)[7]
        assert counts.items == {i: c for i, c in expected_items.items() if c >= least_shown}
        assert counts.channel_kinds == expected_kinds
        assert redis_client.llen(log_key(window)) < FOLD
    assert redis_client.exists(window)
    assert 7 * DAY < redis_client.ttl(window) <= 8 * DAY


def test_a_new_window_starts_from_zero(redis_client, redis_url):
    write(redis_client, [Answer("c1", "web", [("x", "product")], "r1", NOW, [7])])
    later = NOW + 7 * DAY
    assert read_windows(redis_url, KEYS, "c1", [7], later)[7].item("x") == 0
    assert read_windows(redis_url, KEYS, "c2", [7], NOW)[7].items == {}


def test_redemptions_accumulate_per_offer(redis_client):
    pipe = redis_client.pipeline(transaction=False)
    record_redemptions(pipe, KEYS, ["o1", "o1", "o2"])
    pipe.hgetall(redeemed_key(KEYS))
    *_, raw = pipe.execute()
    assert decode_redeemed(raw) == {"o1": 2, "o2": 1}
