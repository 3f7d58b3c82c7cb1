"""`--engine spark` for the batch commands: a session from the command's options, and the
Spark steps in the shape the pandas pipeline calls. Imported only when asked for, so the
single-machine engine never needs pyspark or Java."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from contracts.errors import InvalidInput
from jobs.modelops import TrainResult, registry_for
from jobs.profiles import customer_profiles
from jobs.publish import Trained, prepare
from jobs.segmentation import Engine
from jobs.spark_publish import publish_from_spark
from recsys.business_rules import RuleBook
from recsys.matrix import product_weights
from recsys.registry import ModelBundle, fingerprint
from recsys.selection import Selection, Trial
from segments.build import SegmentBuild
from segments.definitions import RuleSegment
from spark.location import data_uri
from spark.recommend import recommend_on_spark
from spark.segment import build_segments
from spark.session import SparkSettings, parse_conf, spark_session
from spark.sources import read_table, spark_tables
from spark.train import METRIC, train_als
from store.client import RedisEndpoint, sync_client
from store.config import StoreConfig


@dataclass(frozen=True)
class SparkRun:
    """`--engine spark`'s options, as a command received them."""

    master: str
    conf: Sequence[str] = ()


def spark_segmenter(data: str, *, master: str, conf: Sequence[str]) -> Engine:
    """`touchpoint segment --engine spark`: the data directory (a path or URI) read and
    validated by Spark's readers, segmented on Spark."""
    session = spark_session(SparkSettings(master=master, conf=parse_conf(conf)))

    def run(as_of: str | None, rules: list[RuleSegment] | None) -> SegmentBuild:
        tables = spark_tables(session, data_uri(data))
        return build_segments(tables=tables, as_of=as_of, rules=rules)

    return run


def spark_train(
    data: str,
    state: Path,
    *,
    master: str,
    conf: Sequence[str],
    split: str,
    test_fraction: float,
    ratings: str,
    book: RuleBook,
) -> tuple[TrainResult, pd.Series]:
    """`touchpoint train --engine spark`: MLlib ALS validated against popularity on Spark,
    saved in the registry under `state` (a local directory) as the pandas engine saves its
    models (and activated). Also returns how many events of each type were read."""
    if split != "random":
        raise InvalidInput(f"--engine spark validates on --split random only, not {split!r}")
    started = time.perf_counter()
    session = spark_session(SparkSettings(master=master, conf=parse_conf(conf)))
    root = data_uri(data)
    events = read_table(session, root, "events", required=True)
    items = read_table(session, root, "items", required=True)
    done = train_als(events, items, weights=product_weights(ratings),
                     test_fraction=test_fraction)  # fmt: skip
    seconds = time.perf_counter() - started
    p = done.params
    label = f"spark als rank={p.rank} regParam={p.reg_param:g} alpha={p.alpha:g}"
    trials = [Trial("popularity", {"measure": "count"}, done.popularity),
              Trial("spark_als", dict(vars(p)), done.validation)]  # fmt: skip
    inter = done.interactions
    version = registry_for(state).save(
        ModelBundle(done.model, inter.customers, inter.items),
        metrics={"validation": done.validation, "popularity": done.popularity},
        data_fingerprint=fingerprint(inter), training_seconds=seconds,
        extra={"selection": [{"model": t.model, "metrics": t.metrics, "skipped": ""}
                             for t in trials],
               "split": split, "label": label, "ratings": ratings, "engine": "spark",
               "spark_params": dict(vars(p)), "consumption": book.consumption.describe()},
        activate=True,
    )  # fmt: skip
    selection = Selection(done.model, "als", dict(done.model.params), METRIC, done.validation,
                          done.popularity, trials, done.timings["refit"])  # fmt: skip
    bundle = registry_for(state).load(version)
    counts = {str(r["type"]): int(r["count"]) for r in events.groupBy("type").count().collect()}
    return TrainResult(done.model, inter, "als", version, selection, seconds, bundle,
                       done.timings, ratings, book.consumption), pd.Series(counts)  # fmt: skip


def spark_publish(
    data: Path,
    tables: dict[str, pd.DataFrame],
    trained: Trained,
    segments: pd.DataFrame | None,
    book: RuleBook,
    *,
    run: SparkRun,
    fail_partition: int | None = None,
) -> str:
    """Publish for serving with the executors writing the per-customer keys
    (`jobs.spark_publish`); the shared part is computed and written on the driver as the
    pandas engine does. `fail_partition`: the test seam of `publish_from_spark`."""
    session = spark_session(SparkSettings(master=run.master, conf=parse_conf(run.conf)))
    prepared = prepare(tables=tables, trained=trained, segments=segments,
                       rules=book.resolve(None))  # fmt: skip
    people = customer_profiles(tables["customers"], segments, tables["feedback"])
    profiles = {cid: orjson.dumps(profile) for cid, profile in people}
    config = StoreConfig(data_dir=data)
    endpoint = RedisEndpoint(config)
    url = endpoint.open()  # executors get it as a plain string (the embedded one: local only)
    client = sync_client(url)
    try:
        return publish_from_spark(
            session, client, url, config, trained=trained, prepared=prepared, profiles=profiles,
            meta={"model": trained.name, "model_version": trained.version},
            fail_partition=fail_partition,
        )  # fmt: skip
    finally:
        client.close()
        endpoint.close()


def spark_recommend(
    data: str,
    state: Path,
    ids: list[str],
    output: str,
    *,
    book: RuleBook,
    options: dict[str, Any],
    version: str | None,
    master: str,
    conf: Sequence[str],
) -> dict[str, Any]:
    """`touchpoint recommend --engine spark`: the pandas engine's served path run per block
    of customers on the executors, one output file (`spark.recommend`)."""
    session = spark_session(SparkSettings(master=master, conf=parse_conf(conf)))
    return recommend_on_spark(session, data=data, state=state, customer_ids=ids, output=output,
                              book=book, options=options, version=version)  # fmt: skip
