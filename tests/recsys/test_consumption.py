"""What "already has it" means (`recsys.consumption`), declared in the business rules, and
the served path that applies it offline (`recsys.served`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.business_rules import Rules, load_rulebook
from recsys.business_rules_schema import BusinessRulesError
from recsys.consumption import Consumption, blocking, consumed_matrix
from recsys.matrix import IdMap, build_interactions, product_weights
from recsys.models import create_model
from recsys.served import Storefront, published, published_block, serve
from recsys.split import first_seen, recent_split
from tests.recsys.factories import make_events, planted

ITEMS = ["film", "book", "article", "milk"]
KINDS = np.array(["product", "product", "content", "product"], dtype=object)


def test_purchases_redemptions_ratings_and_reading_content_consume_an_item() -> None:
    events = make_events(
        [
            ("a", "film", "rate", "2024-01-01", 2.0),  # a poor rating still means seen
            ("a", "book", "view", "2024-01-01", 0.0),  # viewing a product is not having it
            ("a", "article", "view", "2024-01-01", 0.0),  # reading content is
            ("b", "milk", "purchase", "2024-01-01", 0.0),
            ("b", "book", "click", "2024-01-01", 0.0),
        ]
    )
    m = consumed_matrix(
        events, Consumption(), customers=IdMap(["a", "b"]), items=IdMap(ITEMS), item_kinds=KINDS
    )
    assert m.toarray().tolist() == [[1, 0, 1, 0], [0, 0, 0, 1]]
    narrow = Consumption(events=frozenset({"purchase"}), by_kind={})
    m = consumed_matrix(
        events, narrow, customers=IdMap(["a", "b"]), items=IdMap(ITEMS), item_kinds=KINDS
    )
    assert m.toarray().tolist() == [[0, 0, 0, 0], [0, 0, 0, 1]]


def test_repeatable_categories_and_kinds_are_left_out_of_what_blocks() -> None:
    items = [
        {"item_id": "film", "kind": "product", "category": "Films"},
        {"item_id": "milk", "kind": "product", "category": "Grocery"},
        {"item_id": "ad", "kind": "offer", "category": ""},
    ]
    rules = Consumption(
        repeatable_categories=frozenset({"Grocery"}), repeatable_kinds=frozenset({"offer"})
    )
    mask = rules.repeatable_mask(items)
    assert mask.tolist() == [False, True, True]
    had = sp.csr_matrix(np.ones((2, 3), np.float32))
    assert blocking(had, mask).toarray().tolist() == [[1, 0, 0], [1, 0, 0]]
    assert Consumption().repeatable_mask(items).tolist() == [False, False, False]


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text)


def test_rules_declare_consumption_once_and_placements_override_what_they_may(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "default.yaml",
        "consumption:\n  events: [purchase]\n  kinds: {content: [view, click]}\n"
        "  repeatable: {categories: [Grocery]}\n",
    )
    write(tmp_path, "web.again.yaml", "exclusions: {consumed: false}\n")
    write(tmp_path, "app.yaml", "consumption:\n  repeatable: {kinds: [product]}\n")
    book = load_rulebook(tmp_path)
    assert book.consumption.events == {"purchase"}
    assert book.consumption.by_kind["content"] == {"view", "click"}
    assert book.resolve("web").exclude_consumed
    assert not book.resolve("web", "again").exclude_consumed
    app = book.resolve("app").consumption
    assert app.repeatable_kinds == {"product"} and app.repeatable_categories == {"Grocery"}
    assert app.events == {"purchase"}  # the event types stay the default file's


def test_built_in_consumption_without_a_rules_directory(tmp_path: Path) -> None:
    book = load_rulebook(tmp_path / "missing")
    assert book.consumption.events == {"purchase", "redeem", "rate"}
    assert book.consumption.by_kind["content"] == {"view"}
    assert book.resolve(None).exclude_consumed


def test_the_old_exclusions_purchased_key_still_reads(tmp_path: Path) -> None:
    write(tmp_path, "default.yaml", "exclusions: {purchased: false}\n")
    assert not load_rulebook(tmp_path).resolve(None).exclude_consumed


@pytest.mark.parametrize(
    ("name", "text", "path", "reason"),
    [
        ("web.yaml", "consumption: {events: [purchase]}\n", "consumption.events", "default.yaml"),
        ("default.yaml", "consumption: {events: [buy]}\n", "consumption.events[0]", "one of"),
        ("default.yaml", "consumption: {kinds: {film: [view]}}\n", "consumption.kinds.film",
         "unknown item kind"),
        ("default.yaml", "consumption:\n  repeatable: {kinds: [toy]}\n",
         "consumption.repeatable.kinds[0]", "one of"),
        ("default.yaml", "exclusions: {consumed: sometimes}\n", "exclusions.consumed", "true"),
    ],
)  # fmt: skip
def test_bad_consumption_rules_name_the_file_key_and_reason(
    tmp_path: Path, name: str, text: str, path: str, reason: str
) -> None:
    write(tmp_path, name, text)
    with pytest.raises(BusinessRulesError) as caught:
        load_rulebook(tmp_path)
    assert caught.value.path == path and reason in caught.value.reason
    assert caught.value.file.endswith(name)


def _front(rules: Rules, categories: list[str]) -> Storefront:
    items = [
        {"item_id": f"i{i}", "kind": "product", "category": c, "in_stock": True}
        for i, c in enumerate(categories)
    ]
    popular = (np.arange(len(items), dtype=np.uint32), np.linspace(1, 0.1, len(items)))
    return Storefront(items, {"global": popular}, rules)


def test_served_lists_never_hold_what_the_customer_has_unless_it_is_repeatable() -> None:
    x, _, _ = planted(n_users=30, n_items=20, per_user=6, seed=3)
    model = create_model("ease", lambda_=5.0).fit(x)
    had = sp.csr_matrix(x, copy=True)
    had.data[:] = 1.0
    front = _front(Rules(), ["a"] * 20)
    recs = published(model, x, published_block(had, front.rules, front.items),
                     user_indices=np.arange(30))  # fmt: skip
    served, _ = serve(front, recs, had, 5)
    for r in range(30):
        assert (served[r] >= 0).all()
        assert not set(served[r].tolist()) & set(had[r].indices.tolist())
    staple = Consumption(repeatable_categories=frozenset({"staple"}))
    cats = ["staple" if i < 10 else "other" for i in range(20)]
    front = _front(Rules(consumption=staple, max_per_category=None), cats)
    recs = published(model, x, published_block(had, front.rules, front.items),
                     user_indices=np.arange(30))  # fmt: skip
    served, _ = serve(front, recs, had, 5)
    back = [set(served[r].tolist()) & set(had[r].indices.tolist()) for r in range(30)]
    assert any(back) and all(i < 10 for items in back for i in items)
    front = _front(Rules(exclude_consumed=False, max_per_category=None), ["a"] * 20)
    served_all, _ = serve(front, published(model, x, None, user_indices=np.arange(30)), had, 5)
    unblocked, _ = model.recommend(x, 5, exclude_seen=False)
    assert (served_all == unblocked).all()  # nothing excluded: the model's own order


def test_a_customer_with_nothing_published_gets_the_popular_list_minus_what_they_have() -> None:
    front = _front(Rules(), ["a", "b", "c", "d", "e"])
    recs = (np.full((1, 3), -1, np.int64), np.zeros((1, 3), np.float32))
    had = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 5))
    served, _ = serve(front, recs, had, 3)
    assert served[0].tolist() == [1, 2, 3]


def test_recent_split_holds_out_each_customers_latest_items() -> None:
    rows = [
        ("a", "i1", "click", "2024-01-01"),
        ("a", "i2", "click", "2024-01-05"),
        ("a", "i3", "click", "2024-01-03"),
        ("a", "i4", "click", "2024-01-09"),
        ("a", "i5", "click", "2024-01-07"),
        ("b", "i1", "click", "2024-01-02"),  # a single item stays in training
        ("a", "i4", "click", "2023-12-31"),  # the first time counts: i4 is a's oldest
    ]
    inter = build_interactions(make_events(rows))
    split = recent_split(inter.matrix, first_seen(make_events(rows), inter), test_fraction=0.4)
    held = inter.items.ids(split.test[inter.customers.index(["a"])[0]].indices)
    assert sorted(held) == ["i2", "i5"]
    assert split.test[inter.customers.index(["b"])[0]].nnz == 0
    assert split.train.nnz + split.test.nnz == inter.matrix.nnz


@pytest.mark.parametrize(
    ("reading", "expected"), [("interaction", [8.0, 8.0]), ("value", [5.0, 1.0]),
                              ("liked", [8.0, 0.0])],
)  # fmt: skip
def test_each_ratings_reading_turns_stars_into_confidence(reading, expected) -> None:
    events = make_events([("a", "i1", "rate", "2024-01-01", 5.0), ("a", "i2", "rate",
                          "2024-01-01", 1.0)])  # fmt: skip
    config = product_weights(reading)
    x = build_interactions(events, config=config)
    weights = dict(zip(x.items.ids(x.matrix.indices), np.expm1(x.matrix.data), strict=True))
    assert [weights.get("i1", 0.0), weights.get("i2", 0.0)] == pytest.approx(expected)
