"""Publishing for serving from Spark executors beside the pandas engine's publish, same run,
same model, same Redis: customers written per second to one redis-server and to a local
3-primary Redis Cluster (`tests.cluster.local.LocalCluster`, as `bench/cluster_speed.py`).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/spark_publish.py [--customers 30000]
        [--spark-master local[2]] [--data DIR]

Data comes from `touchpoint generate` (bench/.cache/, never committed; 2,000 items, 20 events
per customer), segmented by the pandas engine; one ALS (implicit, 32 factors, 5 iterations)
is fitted on the driver and published by each engine in turn (`jobs.pipeline.
publish_trained`, with and without `spark`), each timed end to end: the driver's shared part
(popular lists, similar items, what each customer has) plus every per-customer key. The
Spark session is started (and timed) before, so the JVM start is not in the publish figure.
The single server listens on 127.0.0.1 TCP like the cluster's primaries. `--rounds`
repeats the four publishes in the same order: the session's first Spark job also pays for
starting its Python workers. On one 2-core
machine the executors and Redis share the same cores: the figure says what the Spark path
costs here, not what a cluster of executors would write.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.spark_speed import ensure_data  # noqa: E402
from contracts.tables import load_tables  # noqa: E402
from jobs.common import business_rules  # noqa: E402
from jobs.pipeline import publish_trained  # noqa: E402
from jobs.publish import Trained  # noqa: E402
from jobs.segmentation import run_segmentation  # noqa: E402
from jobs.spark_engine import SparkRun  # noqa: E402
from recsys.matrix import build_interactions  # noqa: E402
from recsys.models import create_model  # noqa: E402
from spark.session import SparkSettings, parse_conf, spark_session  # noqa: E402
from store.embedded import redis_server_binary  # noqa: E402
from tests.cluster.local import LocalCluster, _free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=2, help="each store × engine, in turn")
    args = parser.parse_args()
    data = args.data or ROOT / "bench" / ".cache" / f"spark-publish-{args.customers}"
    ensure_data(data, args.customers, 20.0)
    tables = load_tables(data)
    segments = run_segmentation(tables=tables, publish=False)[0].table
    t0 = time.perf_counter()
    inter = build_interactions(tables["events"])
    model = create_model("als", factors=32, iterations=5).fit(inter.matrix)
    trained = Trained(model, inter, "als", "bench-als")
    print(f"ALS on the driver: {time.perf_counter() - t0:.1f} s; {inter.matrix.shape[0]:,} "
          f"customers in the model, {len(tables['customers']):,} in the table")  # fmt: skip
    run = SparkRun(args.spark_master, ("spark.driver.memory=2g",))
    t0 = time.perf_counter()
    spark_session(SparkSettings(master=run.master, conf=parse_conf(run.conf)))
    print(f"Spark session start ({run.master}): {time.perf_counter() - t0:.1f} s")
    book = business_rules()
    work = Path(tempfile.mkdtemp(prefix="tp-spark-publish-"))
    port = _free_port()
    single = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    (work / "cluster").mkdir()
    cluster = LocalCluster(work / "cluster")
    rows = []
    try:
        cluster.start(shutil.which("redis-cli") or "redis-cli")
        stores = {"single Redis (TCP)": f"redis://127.0.0.1:{port}/0",
                  "Redis Cluster, 3 primaries": cluster.url}  # fmt: skip
        for round_ in range(1, args.rounds + 1):
            for store, url in stores.items():
                os.environ["TOUCHPOINT_REDIS_URL"] = url
                for engine, spark in (("pandas", None), ("spark", run)):
                    t0 = time.perf_counter()
                    publish_trained(data, tables, trained, segments, book, spark=spark)
                    rows.append((round_, store, engine, time.perf_counter() - t0))
    finally:
        cluster.stop()
        single.terminate()
        single.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    written = len(set(tables["customers"]["customer_id"].astype(str))
                  | set(inter.customers.to_array().astype(str)))  # fmt: skip
    print(f"\npublish for serving, {written:,} customers (recs, why, hist, consumed, profile), "
          f"{len(tables['items']):,} items; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'round':<6} {'store':<28} {'engine':<7} {'seconds':>8} {'customers/s':>12}")
    for round_, store, engine, seconds in rows:
        print(f"{round_:<6} {store:<28} {engine:<7} {seconds:>8.1f} {written / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
