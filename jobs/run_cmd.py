"""`touchpoint run`: every batch step in order — segment → train → publish — and `demo-curl`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from contracts.tables import load_table, load_tables
from jobs.audit_cmd import audited
from jobs.common import (
    AsOfOpt,
    DataDir,
    EngineOpt,
    JsonFlag,
    OldSegmentDefinitionsOpt,
    RatingsOpt,
    SegmentDefinitionsOpt,
    SparkConfOpt,
    SparkMasterOpt,
    business_rules,
    console,
    engine_choice,
    ratings_reading,
    report,
    segment_definitions,
    setup_logging,
)
from jobs.pipeline import run_pipeline
from recsys.matrix import PRODUCT_RATINGS


def run(
    data: DataDir = Path("data"),
    as_of: AsOfOpt = None,
    budget_seconds: Annotated[
        float, typer.Option(min=1.0, help="Time budget for model selection.")
    ] = 120.0,
    definitions: SegmentDefinitionsOpt = None,
    rules: OldSegmentDefinitionsOpt = None,
    ratings: RatingsOpt = PRODUCT_RATINGS,
    as_json: JsonFlag = False,
    engine: EngineOpt = "pandas",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
) -> None:
    """Run every batch job: segment, train with model selection, publish for serving
    (`--engine spark`: all three on Spark, MLlib ALS, executors publishing; insights stay
    on pandas)."""
    setup_logging()
    started = time.monotonic()
    reading = ratings_reading(ratings)
    book = business_rules()
    spark = None
    if engine_choice(engine) == "spark":
        from jobs.spark_engine import SparkRun  # pyspark only when asked for

        spark = SparkRun(spark_master, tuple(spark_conf or ()))
    tables = load_tables(data)
    with audited(data, "run.publish", str(data)) as detail:
        summary = run_pipeline(
            data, tables, as_of=as_of, budget_seconds=budget_seconds, book=book,
            rules_file=segment_definitions(definitions, rules), ratings=reading, spark=spark,
        )  # fmt: skip
        detail.update({k: v for k, v in summary.items() if "version" in k})
    summary["seconds"] = round(time.monotonic() - started, 1)
    report("touchpoint run", summary, as_json=as_json)


def demo_curl(
    data: DataDir = Path("data"),
    port: Annotated[int, typer.Option(envvar="TOUCHPOINT_PORT")] = 8000,
    host: Annotated[str, typer.Option(envvar="TOUCHPOINT_HOST")] = "127.0.0.1",
    as_json: JsonFlag = False,
) -> None:
    """Print ready-to-paste curl commands with real customer ids from the data."""
    events = load_table(data, "events")
    items = load_table(data, "items")
    buyers = events[events["type"] == "purchase"]["customer_id"].value_counts()
    customer = str(buyers.index[0]) if len(buyers) else "c-unknown"
    second = str(buyers.index[len(buyers) // 2]) if len(buyers) else customer
    products = items[items["kind"] == "product"]["item_id"]
    item = str(products.iloc[0]) if len(products) else "i-unknown"
    base = f"http://{host}:{port}"
    lines = _curl_lines(base, customer, second, item)
    if as_json:
        rows = [{"what": comment, "command": command} for comment, command in lines]
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        return
    console.print("\n[bold]Touchpoint is starting. Try, in another terminal:[/]\n")
    for comment, command in lines:
        print(f"# {comment}\n{command}\n", flush=True)
    print(f"# the dashboard, in a browser\n{base}/ui/customers?customer_id={customer}\n",
          flush=True)  # fmt: skip


def _curl_lines(base: str, customer: str, second: str, item: str) -> list[tuple[str, str]]:
    body: dict[str, Any] = {
        "customer_id": second,
        "channel": "app",
        "slots": [
            {"name": "hero", "kind": "product", "k": 4},
            {"name": "offers", "kind": "offer", "k": 2},
            {"name": "reading", "kind": "content", "k": 3},
        ],
    }
    return [
        ("products for a known customer on the web",
         f"curl -s '{base}/v1/customers/{customer}/recommendations?channel=web&k=10'"),
        ("an unknown customer still gets popular items",
         f"curl -s '{base}/v1/customers/new-visitor-1/recommendations?channel=app&k=5'"),
        ("items similar to one product", f"curl -s '{base}/v1/items/{item}/similar?k=5'"),
        ("a whole app page in one call",
         f"curl -s -X POST {base}/v1/personalize -H 'content-type: application/json' "
         f"-d '{orjson.dumps(body).decode()}'"),
        ("the customer's profile and segments",
         f"curl -s '{base}/v1/customers/{customer}/profile'"),
        ("segments for marketing automation", f"curl -s '{base}/v1/segments'"),
        ("CX: NPS by touchpoint with 95% intervals",
         f"curl -s '{base}/v1/insights/scores?metric=nps&by=touchpoint'"),
        ("CX: the journey, stage by stage", f"curl -s '{base}/v1/insights/journey'"),
        ("CX: what the comments say, Korean and English",
         f"curl -s '{base}/v1/insights/themes'"),
        ("CX: sentiment of any text",
         f"curl -s -X POST {base}/v1/insights/sentiment -H 'content-type: application/json' "
         f"""-d '{{"texts": ["배송이 정말 빨라요", "Parcel arrived late"]}}'"""),
        ("an unhappy answer opens a follow-up case at once",
         f"curl -s -X POST {base}/v1/feedback -H 'content-type: application/json' "
         f"""-d '{{"response_id": "demo-r1", "customer_id": "{customer}", "survey": "nps", """
         f""""score": 3, "touchpoint": "delivery", "comment": "택배가 너무 늦게 왔어요"}}'"""),
        ("the case queue, most urgent first", f"curl -s '{base}/v1/cases?order=urgent&limit=5'"),
        ("now the customer sees recovery offers first, and is not surveyed again",
         f"curl -s '{base}/v1/customers/{customer}/offers?channel=email&k=3'; "
         f"curl -s '{base}/v1/customers/{customer}/survey?channel=app'"),
        ("readiness", f"curl -s '{base}/readyz'"),
    ]  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("demo-curl")(demo_curl)
