"""Serving throughput: GET recommendations?k=10 and POST /v1/personalize vs a bare endpoint.

One worker per server (uvicorn; granian with `--server granian`), `wrk` on 127.0.0.1 with
`bench/wrk_customers.lua` choosing a random customer per request; the bare FastAPI endpoint
(`bench/bare_app.py`, pre-serialised 10-item orjson body) on the same server is measured
in the same run with the same load. Targets (issue 5): recommendations >= 50% of bare RPS
with p99 <= 15 ms; personalize (3 slots) within 2x.
Beside each figure: the server's CPU time per request (user + system, from /proc), its busy
share of one core (below ~95%, it waits on Redis), and Redis's CPU time per request.

Data: `--data DIR` serves what `touchpoint generate` + `touchpoint run` published for DIR
(its embedded Redis); without it a synthetic serving version of the same size (100k
customers, 20k items, 64 factors) is published into a private redis-server.

    .venv/bin/python bench/api_load.py --data /tmp/tpbench/data

The servers are measured in interleaved rounds (`--rounds`, default 5, of `--duration`
seconds each, default 5: bare, recommendations, personalize in turn); each ratio is taken
within a round, then the median over rounds, because a shared machine's speed drifts by
10-20% within minutes, more than two long runs minutes apart can tell apart.

Data: generated with `touchpoint generate --customers 100000 --items 20000 --seed 7`, then
`touchpoint run`. Impression counts accumulate in that data's Redis across runs (caps then
block more items and ranking reads further down each list), so repeated runs on the same
directory get slower: compare figures taken on the same state.

Measured on 2-core development machines: `bench/HISTORY.md` has the current figures
(GET 0.33-0.39 of bare, p99 6.5-8.9 ms, personalize 0.59-0.67 of the GET) and what each
lever still in the code measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._redis import start_redis  # noqa: E402
from bench.api_synthetic import publish_synthetic  # noqa: E402

LUA = ROOT / "bench" / "wrk_customers.lua"


def start_server(
    target: str, port: int, env: dict[str, str], server: str = "uvicorn"
) -> subprocess.Popen[bytes]:
    """One worker of `target` under uvicorn or granian (as `touchpoint serve --server`)."""
    if server == "granian":
        args = [
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host",
            "127.0.0.1", "--port", str(port), "--workers", "1", "--loop", "uvloop",
            "--no-access-log", "--log-level", "warning", target,
        ]  # fmt: skip
    else:
        args = [
            sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    return subprocess.Popen(args, cwd=ROOT, env=env)


def serving_pid(proc: subprocess.Popen[bytes]) -> int:
    """The process that runs the app: uvicorn's own with one worker, granian's one child
    (granian always serves from worker processes, its master only supervises)."""
    from bench.soak_faults import worker_pids

    workers = worker_pids(proc.pid)
    return workers[0] if workers else proc.pid


def wait_http(url: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} never answered 200")


def wrk(
    port: int, mode: str, ids: Path, *, duration: int, connections: int, watch: dict[str, int]
) -> dict[str, float]:
    """One wrk run; with each watched process's CPU time per request (`<name>_us`, from
    /proc: user + system) and the server's busy share (`server_busy`, of one core)."""
    env = {**os.environ, "TP_IDS": str(ids), "TP_MODE": mode, "TP_K": "10"}
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(LUA),
            f"http://127.0.0.1:{port}"]  # fmt: skip
    before = {name: cpu_seconds(pid) for name, pid in watch.items()}
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    used = {name: cpu_seconds(pid) - before[name] for name, pid in watch.items()}
    line = next(row for row in out.splitlines() if row.startswith("TPJSON "))
    stats = json.loads(line.removeprefix("TPJSON "))
    seconds = stats["duration_us"] / 1e6
    stats["rps"] = stats["requests"] / seconds
    for name, cpu in used.items():
        stats[f"{name}_us"] = 1e6 * cpu / max(stats["requests"], 1)
    if "server" in used:
        stats["server_busy"] = used["server"] / seconds
    return stats


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system, from /proc; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_pid(data: Path | None, proc: subprocess.Popen[bytes] | None) -> int | None:
    """The Redis the API reads: the private one, or the data directory's embedded server."""
    if proc is not None:
        return proc.pid
    pidfile = data / ".redis" / "redis.pid" if data is not None else None
    if pidfile is not None and pidfile.exists():
        return int(pidfile.read_text().strip())
    return None


def customer_ids(data: Path | None, out: Path, synthetic_ids: list[str]) -> Path:
    if data is not None:
        import pandas as pd

        frame = pd.read_parquet(data / "customers.parquet", columns=["customer_id"])
        ids = frame["customer_id"].astype(str).tolist()
    else:
        ids = synthetic_ids
    out.write_text("\n".join(ids) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="data dir published by `touchpoint run`")
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument(
        "--rounds", type=int, default=5,
        help="rounds of bare, recommendations, personalize in turn (figures: their medians)",
    )  # fmt: skip
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8911)
    parser.add_argument(
        "--server", choices=("uvicorn", "granian"), default="uvicorn",
        help="HTTP server for both the API and the bare endpoint",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the API during the recommendations run"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    work = Path(tempfile.mkdtemp(prefix="tp-bench-"))
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "TOUCHPOINT_BUSINESS_RULES_DIR": str(ROOT / "rules"),
    }
    servers: list[subprocess.Popen[bytes]] = []
    redis_proc = None
    try:
        synthetic_ids: list[str] = []
        if args.data is not None:
            env["TOUCHPOINT_DATA_DIR"] = str(args.data)
            env.pop("TOUCHPOINT_REDIS_URL", None)
            source = f"touchpoint run output in {args.data}"
        else:
            redis_proc, url = start_redis(work)
            env["TOUCHPOINT_REDIS_URL"] = url
            t0 = time.perf_counter()
            synthetic_ids = publish_synthetic(url)
            source = f"synthetic bundle, published in {time.perf_counter() - t0:.0f} s"
        ids = customer_ids(args.data, work / "ids.txt", synthetic_ids)
        app_port, bare_port = args.port, args.port + 1
        servers.append(start_server("api.app:create_app", app_port, env, args.server))
        servers.append(start_server("bench.bare_app:create_bare_app", bare_port, env, args.server))
        wait_http(f"http://127.0.0.1:{app_port}/readyz")
        wait_http(f"http://127.0.0.1:{bare_port}/v1/customers/x/recommendations")
        load = {"duration": args.duration, "connections": args.connections}
        for port, mode in ((bare_port, "get"), (app_port, "get"), (app_port, "post")):
            wrk(port, mode, ids, duration=3, connections=args.connections, watch={})  # warm-up
        app_pid, bare_pid = (serving_pid(proc) for proc in servers)
        app_watch = {"server": app_pid}
        found = redis_pid(args.data, redis_proc)
        if found is not None:
            app_watch["redis"] = found
        runs: dict[str, list[dict[str, float]]] = {"bare": [], "recommendations": [],
                                                   "personalize": []}  # fmt: skip
        for round_ in range(args.rounds):
            runs["bare"].append(wrk(bare_port, "get", ids, **load,
                                    watch={"server": bare_pid}))  # fmt: skip
            profiling = args.profile and round_ == 0
            spy = profile_start(app_pid, args.duration) if profiling else None
            runs["recommendations"].append(wrk(app_port, "get", ids, **load, watch=app_watch))
            if spy is not None:
                profile_report(*spy)
            runs["personalize"].append(wrk(app_port, "post", ids, **load, watch=app_watch))
        report(f"{source}; server {args.server}", load, args.rounds, runs)
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=20)
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def profile_start(pid: int, seconds: int) -> tuple[subprocess.Popen[bytes], Path]:
    out = Path(tempfile.mkdtemp(prefix="tp-spy-")) / "stacks.txt"
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args = [spy, "record", "--format", "raw", "-d", str(max(1, seconds - 2)), "-o", str(out),
            "--pid", str(pid), "--nonblocking"]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def profile_report(proc: subprocess.Popen[bytes], out: Path, top: int = 25) -> None:
    """Self time and inclusive time per function from py-spy's collapsed stacks."""
    proc.wait(timeout=120)
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        samples += n
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + n
    print(f"\npy-spy: {samples} samples of the API process during GET recommendations")
    for title, table in (("self", own), ("inclusive", total)):
        print(f"-- top {top} by {title} time")
        for frame, n in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{100 * n / max(samples, 1):6.1f}%  {frame[:150]}")


def combined(rows: list[dict[str, float]]) -> dict[str, float]:
    """One endpoint's rounds as one row: the median round's req/s, p50 and p99, CPU per
    request over all rounds."""
    out = {key: statistics.median(r[key] for r in rows) for key in ("rps", "p50_us", "p99_us")}
    requests = sum(r["requests"] for r in rows)
    out["errors"] = sum(r["non_2xx"] + r["socket_errors"] for r in rows)
    for key in ("server_us", "redis_us"):
        if key in rows[0]:
            out[key] = sum(r[key] * r["requests"] for r in rows) / max(requests, 1)
    seconds = sum(r["duration_us"] for r in rows) / 1e6
    out["server_busy"] = sum(r["server_busy"] * r["duration_us"] / 1e6 for r in rows) / seconds
    return out


def per_round(top: list[dict[str, float]], bottom: list[dict[str, float]]) -> list[float]:
    return [t["rps"] / b["rps"] for t, b in zip(top, bottom, strict=True)]


def report(source: str, load: dict[str, int], rounds: int, runs: dict[str, list[dict]]) -> None:
    def row(name: str, s: dict) -> str:
        redis = f"{s['redis_us']:>9.0f}" if "redis_us" in s else f"{'-':>9}"
        return (f"{name:<34} {s['rps']:>9.0f} {s['p50_us'] / 1000:>8.2f} {s['p99_us'] / 1000:>8.2f}"
                f" {s['errors']:>7.0f} {s['server_us']:>10.0f} {100 * s['server_busy']:>7.0f}%"
                f" {redis}")  # fmt: skip

    bare, recs, pers = (combined(runs[name]) for name in ("bare", "recommendations", "personalize"))
    # Each ratio is taken within one round (the servers measured a few seconds apart, under
    # the same conditions), then the median over rounds: steadier than a ratio of two long
    # runs on a machine whose speed drifts by 10-20% within minutes.
    ratios = per_round(runs["recommendations"], runs["bare"])
    pers_ratios = per_round(runs["personalize"], runs["recommendations"])
    ratio, pers_ratio = statistics.median(ratios), statistics.median(pers_ratios)
    print(
        f"\ndata: {source}; wrk -t1 -c{load['connections']} -d{load['duration']}s, 1 worker,"
        f" {rounds} rounds of bare / recommendations / personalize in turn (medians)"
    )
    print(f"{'endpoint':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
          f" {'server us':>10} {'busy':>8} {'redis us':>9}")  # fmt: skip
    print(row("bare FastAPI (pre-serialised 10)", bare))
    print(row("GET recommendations?k=10", recs))
    print(row("POST personalize (3 slots)", pers))
    print("recommendations / bare per round: " + " ".join(f"{x:.2f}" for x in ratios))
    ok1 = ratio >= 0.5 and recs["p99_us"] <= 15_000
    ok2 = pers_ratio >= 0.5
    print(f"recommendations / bare = {ratio:.2f} (target >= 0.50), p99 {recs['p99_us'] / 1000:.2f}"
          f" ms (target <= 15): {'MET' if ok1 else 'NOT MET'}")  # fmt: skip
    print(f"personalize / recommendations = {pers_ratio:.2f} (target >= 0.50, i.e. within 2x):"
          f" {'MET' if ok2 else 'NOT MET'}")  # fmt: skip
    summary = {"runs": runs, "ratio": ratio, "personalize_ratio": pers_ratio}
    print("JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
