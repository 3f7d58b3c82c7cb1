"""The synthetic data generator: deterministic, on contract, and realistic where it matters.

Realism is checked two ways: against the hidden truth the simulator planted (tastes,
lifecycles) and, like a user would, from the written files alone.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

import jobs.generate as gen
from contracts.schema import TABLES
from contracts.tables import load_tables
from jobs.cli import build_app
from jobs.generate_events import POINTS_PER_UNIT
from jobs.generate_people import LIFECYCLE_SHARE, LIFECYCLES, TOUCHPOINTS

SEED = 11
END = pd.Timestamp(gen.window(SEED)[0] + gen.WINDOW_DAYS * 86_400, unit="s", tz="UTC")
ON_DISK = {  # the contract's logical types as Parquet stores them
    "id": pa.string(),
    "str": pa.string(),
    "list": pa.string(),
    "category": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}


def _generate(out: Path, *, seed: int = SEED, fmt: str = "parquet", customers: int = 3000) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gen, "CHUNK", 1000)  # several chunks even at test size
        return gen.generate(customers=customers, items=300, seed=seed, out=out, fmt=fmt)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    _generate(out)
    return out


@pytest.fixture(scope="module")
def tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    return load_tables(data_dir)


@pytest.fixture(scope="module")
def truth() -> Iterator[gen.Chunk]:
    world = gen.make_world(items=300, seed=SEED)
    yield gen.simulate_chunk(world, seed=SEED, index=0, n=4000, events_per_customer=50)


def _bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def test_same_seed_writes_byte_identical_files_and_another_seed_does_not(
    data_dir: Path, tmp_path: Path
) -> None:
    _generate(tmp_path / "again")
    _generate(tmp_path / "other", seed=SEED + 1)
    first = _bytes(data_dir)
    assert sorted(first) == [f"{t}.parquet" for t in ("customers", "events", "feedback", "items")]
    assert _bytes(tmp_path / "again") == first
    other = _bytes(tmp_path / "other")
    assert all(other[name] != first[name] for name in first)


def test_parquet_columns_and_types_follow_the_contract(data_dir: Path) -> None:
    for name, table in TABLES.items():
        schema = pq.read_schema(data_dir / f"{name}.parquet")
        assert tuple(schema.names) == table.names
        for col in table.columns:
            found = schema.field(col.name).type
            if col.type == "timestamp":
                assert pa.types.is_timestamp(found) and found.tz == "UTC", col.name
            else:
                assert found == ON_DISK[col.type], col.name


def test_csv_holds_the_same_data_as_parquet(
    tables: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    _generate(tmp_path, fmt="csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{t}.csv" for t in ("customers", "events", "feedback", "items")
    ]
    for name, frame in load_tables(tmp_path).items():
        pd.testing.assert_frame_equal(frame, tables[name], obj=name)


def test_a_failed_run_leaves_the_previous_data_set_untouched(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "data"
    shutil.copytree(data_dir, out)
    before = _bytes(out)

    def interrupt(done: int, total: int) -> None:
        if done >= 2000:
            raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp, pytest.raises(KeyboardInterrupt):
        mp.setattr(gen, "CHUNK", 1000)
        gen.generate(customers=3000, items=300, seed=5, out=out, progress=interrupt)
    assert _bytes(out) == before  # no half-written table, no temporary file left behind


def test_switching_format_replaces_the_other_format(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    shutil.copytree(data_dir, out)
    gen.generate(customers=20, items=30, seed=5, out=out, fmt="csv")
    assert sorted(p.suffix for p in out.iterdir()) == [".csv"] * 4
    assert len(load_tables(out)["customers"]) == 20


def test_every_reference_resolves_and_ids_are_unique(tables: dict[str, pd.DataFrame]) -> None:
    c, i, e, f = (tables[t] for t in ("customers", "items", "events", "feedback"))
    assert len(c) == 3000 and len(i) == 300
    for frame, key in ((c, "customer_id"), (i, "item_id"), (e, "event_id"), (f, "response_id")):
        assert frame[key].is_unique, key
    assert e["customer_id"].isin(c["customer_id"]).all()
    assert e["item_id"].isin(i["item_id"]).all()
    assert f["customer_id"].isin(c["customer_id"]).all()
    assert 40 <= len(e) / len(c) <= 60  # default 50 events per customer
    assert e["timestamp"].max() < END
    assert e["timestamp"].min() >= END - pd.Timedelta(days=gen.WINDOW_DAYS)


def test_purchases_form_orders_with_value_price_times_quantity(
    tables: dict[str, pd.DataFrame],
) -> None:
    e, items = tables["events"], tables["items"].set_index("item_id")
    buy = e[e["type"] == "purchase"]
    assert (buy["order_id"] != "").all()
    assert (e.loc[e["type"] != "purchase", "order_id"] == "").all()
    assert (buy.groupby("order_id")["customer_id"].nunique() == 1).all()
    assert (items.loc[buy["item_id"], "kind"] == "product").all()
    price = items.loc[buy["item_id"], "price"].to_numpy()
    assert np.allclose(buy["value"], np.round(price * buy["quantity"], 2))
    assert (buy["quantity"] >= 1).all() and (buy["quantity"] > 1).any()
    # online purchases come after an add_to_cart of the same item by the same customer
    online = buy[buy["channel"] != "store"]
    carts = e[e["type"] == "add_to_cart"]
    first_cart = carts.groupby(["customer_id", "item_id"])["timestamp"].min()
    when = first_cart.reindex(pd.MultiIndex.from_frame(online[["customer_id", "item_id"]]))
    assert (when.to_numpy() <= online["timestamp"].to_numpy()).all()
    counts = e["type"].value_counts()
    assert counts["view"] > counts["click"] > counts["add_to_cart"]
    assert {"impression", "dismiss", "redeem", "rate"} <= set(counts[counts > 0].index)
    rates = e.loc[e["type"] == "rate", "value"]
    assert rates.between(1, 5).all() and rates.nunique() >= 4


def test_items_are_shown_only_on_their_channels_and_offers_in_their_window(
    tables: dict[str, pd.DataFrame],
) -> None:
    e, items = tables["events"], tables["items"].set_index("item_id")
    meta = items.loc[e["item_id"]]
    allowed = [
        chans == "" or ch in chans.split(";")
        for ch, chans in zip(e["channel"].astype(str), meta["channels"], strict=True)
    ]
    assert all(allowed)
    offer = (meta["kind"] == "offer").to_numpy()
    ts = e["timestamp"][offer].reset_index(drop=True)
    run = meta[offer].reset_index(drop=True)
    assert offer.any()
    # some offers are always on (no end); the others run for weeks
    assert 0 < run["active_to"].isna().mean() < 1
    # offer events sit inside the offer's run (a redeem may trail an impression by minutes)
    assert (ts >= run["active_from"]).all()
    ends = run["active_to"].notna()
    assert (ts[ends] <= run["active_to"][ends] + pd.Timedelta(days=1)).all()


def test_catalogue_is_readable_varied_and_popularity_is_skewed(
    tables: dict[str, pd.DataFrame],
) -> None:
    items, e = tables["items"], tables["events"]
    assert set(items["kind"]) == {"product", "content", "offer", "reward"}
    assert items["category"].nunique() >= 10
    assert items["title"].str.split().str.len().ge(3).all()
    products = items[items["kind"] == "product"]
    assert (products["price"] > 0).all() and products["price"].max() > 10 * products["price"].min()
    assert ((products["margin"] > 0) & (products["margin"] < 1)).all()
    assert (items["channels"] != "").any() and (items["channels"] == "").any()
    rewards = items[items["kind"] == "reward"]
    assert (rewards["points_cost"] > 0).all() and (rewards["min_tier"] != "none").any()
    offers = items[items["kind"] == "offer"]
    assert (offers["budget"] > 0).any() and (offers["target_segments"] != "").any()
    assert (offers["margin"] > 0).all() and offers["margin"].nunique() > len(offers) // 2
    views = e.loc[e["type"] == "view", "item_id"].value_counts()
    top = views.iloc[: max(1, len(products) // 10)].sum()
    assert top / views.sum() > 0.3  # Zipf-like: the top tenth takes far more than a tenth


def test_purchases_concentrate_in_each_customers_hidden_favourite_category(
    truth: gen.Chunk,
) -> None:
    world = gen.make_world(items=300, seed=SEED)
    ev = truth.outcome.events
    buy = ev["type"] == 3
    customer, category = ev["customer"][buy], world.catalogue.category[ev["item"][buy]]
    favourite = np.argmax(truth.people.taste, axis=1)[customer]
    observed = np.mean(category == favourite)
    chance = np.mean(world.category_share[favourite])  # if everyone bought like the crowd
    assert observed > 2 * chance
    assert observed < 0.9  # real but noisy


def test_budget_and_premium_customers_buy_at_their_price_level(truth: gen.Chunk) -> None:
    world = gen.make_world(items=300, seed=SEED)
    ev = truth.outcome.events
    buy = ev["type"] == 3
    level = pd.Series(world.price_level[ev["item"][buy]]).groupby(ev["customer"][buy]).mean()
    taste = truth.people.price_taste[level.index.to_numpy()]
    assert np.corrcoef(taste, level.to_numpy())[0, 1] > 0.2


def test_favourite_category_seen_early_predicts_later_purchases(
    tables: dict[str, pd.DataFrame],
) -> None:
    """What the end-to-end test relies on, from the files only."""
    e, items = tables["events"], tables["items"].set_index("item_id")
    buy = e[e["type"] == "purchase"].assign(
        cat=lambda d: items.loc[d["item_id"], "category"].to_numpy()
    )
    cut = END - pd.Timedelta(days=180)
    early, late = buy[buy["timestamp"] < cut], buy[buy["timestamp"] >= cut]
    favourite = early.groupby("customer_id")["cat"].agg(lambda s: s.value_counts().index[0])
    late = late[late["customer_id"].isin(favourite.index)]
    hit = (late["cat"].to_numpy() == favourite.loc[late["customer_id"]].to_numpy()).mean()
    share = buy["cat"].value_counts(normalize=True)
    chance = share.loc[favourite.loc[late["customer_id"]]].mean()
    assert hit > 1.5 * chance


def test_lifecycle_mix_is_planted_and_visible_in_activity(truth: gen.Chunk) -> None:
    people, ev = truth.people, truth.outcome.events
    shares = np.bincount(people.lifecycle, minlength=len(LIFECYCLES)) / people.n
    assert np.allclose(shares, LIFECYCLE_SHARE, atol=0.03)
    end = gen.window(SEED)[0] + gen.WINDOW_DAYS * 86_400
    last = np.full(people.n, -1)
    last[ev["customer"]] = ev["timestamp"]  # sorted by customer then time: last one wins
    first = np.full(people.n, -1)
    first[ev["customer"][::-1]] = ev["timestamp"][::-1]
    active = last >= 0
    churned, lapsing, new = (
        people.lifecycle == LIFECYCLES.index(x) for x in ("churned", "lapsing", "new")
    )
    assert (end - last[churned & active] > 150 * 86_400).all()
    assert (end - last[lapsing & active] > 30 * 86_400).all()
    assert (first[new & active] >= people.created[new & active]).all()
    assert (end - people.created[new] <= 91 * 86_400).all()
    loyal = people.lifecycle == LIFECYCLES.index("loyal")
    per_customer = np.bincount(ev["customer"], minlength=people.n)
    assert per_customer[loyal].mean() > 1.5 * per_customer[~loyal].mean()


def test_lifecycle_mix_shows_in_the_files(tables: dict[str, pd.DataFrame]) -> None:
    c, e = tables["customers"], tables["events"]
    last = e.groupby("customer_id")["timestamp"].max().reindex(c["customer_id"])
    silent = (last.isna() | (last < END - pd.Timedelta(days=180))).mean()
    recent = (c["created_at"] >= END - pd.Timedelta(days=90)).mean()
    assert 0.1 < silent < 0.45  # churned, lapsing and rarely active customers
    assert 0.05 < recent < 0.2  # new customers


def test_tiers_and_points_follow_spend_and_redemptions(tables: dict[str, pd.DataFrame]) -> None:
    c, e = tables["customers"].set_index("customer_id"), tables["events"]
    items = tables["items"].set_index("item_id")
    buy = e[e["type"] == "purchase"]
    spend = buy.groupby("customer_id")["value"].sum().reindex(c.index, fill_value=0.0)
    recent = buy[buy["timestamp"] >= END - pd.Timedelta(days=365)]
    spend12 = recent.groupby("customer_id")["value"].sum().reindex(c.index, fill_value=0.0)
    rewards = e[(e["type"] == "redeem") & e["item_id"].str.startswith("R")]
    spent = (
        items.loc[rewards["item_id"], "points_cost"]
        .groupby(rewards["customer_id"].to_numpy())
        .sum()
        .reindex(c.index, fill_value=0)
    )
    member = (c["loyalty_tier"] != "none") | (c["points_balance"] > 0) | (spent > 0)
    expected = np.floor(np.round(spend[member] * POINTS_PER_UNIT, 6)) - spent[member]
    assert (c.loc[member, "points_balance"] == expected).all()
    assert (c["points_balance"] >= 0).all()
    order = ["none", "bronze", "silver", "gold", "platinum"]
    rank = c["loyalty_tier"].map(order.index).astype(int)
    for lower, upper in itertools.pairwise(order[1:]):
        assert (
            spend12[c["loyalty_tier"] == upper].min() >= spend12[c["loyalty_tier"] == lower].max()
        )
    assert set(c["loyalty_tier"]) == set(order)
    who = rewards["customer_id"].to_numpy()
    need = items.loc[rewards["item_id"], "min_tier"].map(order.index).to_numpy()
    assert (rank.loc[who].to_numpy() >= need).all()


def test_feedback_scores_rise_with_purchases_and_fall_with_dismissals(
    tables: dict[str, pd.DataFrame],
) -> None:
    e, f = tables["events"], tables["feedback"]
    counts = e.pivot_table(
        index="customer_id", columns="type", values="event_id", aggfunc="count", observed=False
    )
    counts = counts.reindex(f["customer_id"]).fillna(0)
    low = f["survey"].map({"nps": 0, "csat": 1, "ces": 1}).astype(float)
    high = f["survey"].map({"nps": 10, "csat": 5, "ces": 7}).astype(float)
    assert ((f["score"] >= low) & (f["score"] <= high)).all()
    y = ((f["score"].astype(float) - low) / (high - low)).to_numpy()
    x = np.column_stack(
        [
            np.ones(len(f)),
            np.log1p(counts["purchase"].to_numpy()),
            (counts["dismiss"] / (counts["impression"] + 1)).to_numpy(),
        ]
    )
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    se = np.sqrt(np.diag(np.linalg.inv(x.T @ x)) * resid.var(ddof=3))
    t = beta / se
    assert t[1] > 4  # more purchases, happier
    assert t[2] < -2  # more dismissals, less happy
    by_touchpoint = f.assign(y=y).groupby("touchpoint")["y"].mean()
    assert by_touchpoint["support"] < by_touchpoint["checkout"]
    assert set(by_touchpoint.index) == set(TOUCHPOINTS)  # each one a touchpoint of the map


def test_seasonality_peaks_in_december_and_at_weekends(tables: dict[str, pd.DataFrame]) -> None:
    ts = tables["events"]["timestamp"]
    daily = ts.dt.floor("D").value_counts()
    december = daily[daily.index.month == 12].mean()
    spring = daily[daily.index.month.isin([3, 4, 5])].mean()
    assert december > 1.3 * spring
    weekday = ts.dt.day_of_week
    assert (weekday >= 5).mean() > 2 / 7


def _cli() -> typer.Typer:
    return build_app()  # the real app: its group maps errors to exit codes


def test_cli_writes_tables_and_reports_json(tmp_path: Path) -> None:
    args = ["generate", "--customers", "50", "--items", "40", "--seed", "3"]
    result = CliRunner().invoke(
        _cli(), [*args, "--out", str(tmp_path), "--format", "csv", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["rows"]["customers"] == 50 and report["rows"]["items"] == 40
    lines = (tmp_path / "events.csv").read_text().count("\n")
    assert report["rows"]["events"] == lines - 1  # header


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--customers", "0", "--customers must be a positive number"),
        ("--items", "-5", "--items must be a positive number"),
        ("--format", "xlsx", "--format must be one of parquet, csv"),
        ("--events-per-customer", "0", "--events-per-customer must be positive"),
    ],
)
def test_cli_rejects_bad_arguments_with_exit_code_2(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    result = CliRunner().invoke(_cli(), ["generate", "--out", str(tmp_path), option, value])
    assert result.exit_code == 2
    assert message in result.output
    assert not list(tmp_path.iterdir())  # nothing written
