"""Soak: mixed traffic against `touchpoint serve` (2 workers, embedded Redis with AOF) for
`--duration` seconds while faults are injected at announced times; then every event and
survey response that got 202 is counted back through `touchpoint ingest`.

    PYTHONPATH=$PWD .venv/bin/python bench/soak.py --generate 5000 --duration 600

Before the soak: an unloaded baseline (one client, back to back) and, without `--rate`, a
short ramp (8, 16, 32 clients back to back) whose best answers/s sets the rate at 70%. The
load generator shares the machine with the server, so that maximum is the pair's.
Faults, as fractions of the duration: `touchpoint run` publishing a new version (0.10),
one API worker SIGKILLed (0.30), a rules file broken (0.40) and mended (0.45), Redis
SIGKILLed (0.60, after the publish ended) and started again `--outage` s later, a burst of
10x the rate for 5 s (0.80). The load runs until the duration is over and every fault has
ended. The run: `bench/soak_run.py`; figures: `bench/soak_report.py`; goals: `bench/soak_goals.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.soak_faults import TOUCHPOINT  # noqa: E402
from bench.soak_report import print_tables  # noqa: E402
from bench.soak_run import SoakOptions, run_soak  # noqa: E402


def prepare_data(out: Path, *, customers: int, items: int, budget: int = 20) -> Path:
    """`touchpoint generate` + `touchpoint run` into `out` (its embedded Redis)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    env.pop("TOUCHPOINT_REDIS_URL", None)
    generate = ["generate", "--customers", str(customers), "--items", str(items),
                "--seed", "7", "--out", str(out)]  # fmt: skip
    for args in (generate, ["run", "--data", str(out), "--budget-seconds", str(budget)]):
        subprocess.run([*TOUCHPOINT, *args], env=env, check=True, capture_output=True, cwd=ROOT)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a data dir published by `touchpoint run`")
    parser.add_argument(
        "--generate",
        type=int,
        metavar="CUSTOMERS",
        help="generate and publish this many customers first (into --work)",
    )
    parser.add_argument("--items", type=int, default=800, help="items, with --generate")
    parser.add_argument("--work", type=Path, help="work dir (default: a new temporary one)")
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--rate", type=float, help="requests/s (default: 70%% of the ramp's max)")
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8951)
    parser.add_argument(
        "--appendfsync",
        choices=("always", "everysec", "no"),
        default="everysec",
        help="the embedded Redis's AOF fsync policy",
    )
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="no per-address limit (default: 2x the rate, so the burst gets 429)",
    )
    parser.add_argument("--sample-every", type=float, default=10.0, help="memory sample, s")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds Redis stays down")
    parser.add_argument("--json-out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()  # fmt: skip
    work = args.work or Path(tempfile.mkdtemp(prefix="tp-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    data = args.data
    if args.generate:
        data = prepare_data(work / "data", customers=args.generate, items=args.items)
    if data is None:
        parser.error("give --data or --generate")
    options = SoakOptions(
        data=data, work=work, duration=args.duration, rate=args.rate, server=args.server,
        workers=args.workers, port=args.port, appendfsync=args.appendfsync,
        rate_limits=not args.no_rate_limits, sample_every=args.sample_every,
        outage=args.outage,
    )  # fmt: skip
    result = run_soak(options)
    print_tables(result)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=1, default=str))
    sys.exit(0 if all(ok for ok, _ in result["goals"].values()) else 1)


if __name__ == "__main__":
    main()
