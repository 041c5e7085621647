"""Benchmark of the stock sync at 4,200 and 100,000 SKUs on the local stack.

Moto's server and the Ozon sandbox run as separate processes. The planner runs in a
child process of its own, so its CPU time and peak memory are the planner's alone; the
workers then run in this process under the event pump. Figures:

- requests sent to `/v2/products/stocks` against the minimum ceil(pairs / 100);
- HTTP 429 answers from the sandbox (target 0);
- makespan, from the planner queuing the wave to the last item Ozon applied, on the
  sandbox's virtual clock, against the lower bound requests / 80 per minute;
- planner CPU time and peak RSS.

    python -m bench.stock_sync [--skus 4200 100000] [--clock-speed 8]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

OZON_RATE_PER_MINUTE = 80


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not respond within {timeout:.0f} s; check that the server process started")


def start_services(clock_speed: float, origin: float, api_key: str) -> tuple[list[subprocess.Popen], str, str]:
    moto_port, sandbox_port = free_port(), free_port()
    env = {**os.environ, "BENCH_OZON_KEY": api_key}
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "local.sandbox", "--port", str(sandbox_port), "--client-id", "bench-seller",
         "--api-key-env", "BENCH_OZON_KEY", "--clock-speed", repr(clock_speed), "--clock-origin", repr(origin),
         "--log-level", "WARNING"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint, ozon = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{sandbox_port}"
    wait_for(f"{endpoint}/moto-api/")
    wait_for(f"{ozon}/_sandbox/stats")
    return [moto, sandbox], endpoint, ozon


def plan_in_child(prefix: str) -> None:
    """Child process: plan the exchange under `prefix`; print the figures as JSON."""
    from chalicelib.stock import wiring
    from chalicelib.stock.handlers import plan_uploaded_exchange

    wall, cpu = time.perf_counter(), time.process_time()
    result = plan_uploaded_exchange(prefix, full=False)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({
        "cpu_seconds": cpu, "wall_seconds": wall, "planned_at": wiring.clock().now(),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pairs_changed": result.pairs_changed, "requests_planned": result.requests_planned,
        "requests_deferred": result.requests_deferred, "run_id": result.run_id}))


def run_case(skus: int, clock_speed: float, work: Path) -> dict:
    from chalicelib.clock import ScaledClock

    folder = work / f"catalog-{skus}"
    subprocess.run([sys.executable, "-m", "local.catalog", "--skus", str(skus), "--out", str(folder)], check=True,
                   stdout=subprocess.DEVNULL)
    files = sorted(folder.glob("*.xml"))
    clock = ScaledClock(clock_speed)
    api_key = str(uuid.uuid4())
    processes, endpoint, ozon = start_services(clock_speed, clock.origin, api_key)
    try:
        return measure(skus, clock, files, endpoint, ozon, api_key)
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def measure(skus: int, clock, files: list[Path], endpoint: str, ozon: str, api_key: str) -> dict:
    from local.stack import FAKE_CREDENTIALS, REGION, create_local_stack

    os.environ.update({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
                       "AWS_ENDPOINT_URL": endpoint, "OZON_BASE_URL": ozon, "OZON_CLIENT_ID": "bench-seller",
                       "OZON_API_KEY": api_key, "CLOCK_SPEED": repr(clock.speed), "CLOCK_ORIGIN": repr(clock.origin),
                       "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
    resources = create_local_stack(endpoint)
    os.environ.update({"BUCKET": resources.bucket, "ALERTS_TOPIC_ARN": resources.topic_arn})

    from chalicelib.stock import wiring

    wiring.reset()  # adapters built for the previous case point at its servers

    import boto3

    from chalicelib.onec.reader import read_stock_exchange

    offer_ids = [offer.article for offer in read_stock_exchange(files).offers()]
    requests.post(f"{ozon}/_sandbox/seed", json={"offer_ids": offer_ids}, timeout=60).raise_for_status()

    # Outside inbox/1c/, so S3 sends no notification: the child plans it instead.
    prefix = f"bench/1c/{uuid.uuid4().hex[:8]}/"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    for path in files:
        s3.upload_file(str(path), resources.bucket, prefix + path.name)
    s3.put_object(Bucket=resources.bucket, Key=prefix + "manifest.json",
                  Body=json.dumps({"files": [p.name for p in files]}).encode())

    child = subprocess.run([sys.executable, "-m", "bench.stock_sync", "--plan-child", prefix],
                           capture_output=True, text=True, check=True)
    plan = json.loads(child.stdout.strip().splitlines()[-1])

    from local.pump import EventPump

    app = __import__("app").app
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    pump = EventPump(app, sqs, queue_urls=resources.queue_urls, clock=clock, poll_wait_seconds=0.1)
    started = time.monotonic()
    finished = pump.run_until_idle(timeout=3600, idle_for=2.0)
    drain_wall = time.monotonic() - started

    stats = requests.get(f"{ozon}/_sandbox/stats", timeout=30).json()
    history = requests.get(f"{ozon}/_sandbox/history", timeout=120).json()
    last_applied = max(_applied_times(history))
    sent = stats["requests"].get("/v2/products/stocks", 0)
    minimum = math.ceil(plan["pairs_changed"] / 100)
    makespan = last_applied - plan["planned_at"]
    bound = minimum * 60.0 / OZON_RATE_PER_MINUTE
    return {
        "skus": skus, "clock_speed": clock.speed, "finished": finished, "pairs_changed": plan["pairs_changed"],
        "requests_sent": sent, "requests_minimum": minimum, "http_429": stats["statuses"].get("429", 0),
        "items_applied": stats["items_applied"], "makespan_s": makespan, "lower_bound_s": bound,
        "makespan_ratio": makespan / bound if bound else float("nan"), "drain_wall_s": drain_wall,
        "planner_cpu_s": plan["cpu_seconds"], "planner_wall_s": plan["wall_seconds"],
        "planner_max_rss_mb": plan["max_rss_mb"]}


def _applied_times(history: dict) -> list[float]:
    return [value["time"] for pair in history["history"] for value in pair["values"]]


def print_table(results: list[dict]) -> None:
    print("| SKUs | pairs changed | requests sent / minimum | HTTP 429 | makespan (virtual s) | lower bound (s) | "
          "ratio | planner CPU (s) | planner peak RSS (MB) | clock speed | wall to drain (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['skus']:,} | {r['pairs_changed']:,} | {r['requests_sent']} / {r['requests_minimum']} | "
              f"{r['http_429']} | {r['makespan_s']:.0f} | {r['lower_bound_s']:.0f} | {r['makespan_ratio']:.3f} | "
              f"{r['planner_cpu_s']:.2f} | {r['planner_max_rss_mb']:.0f} | {r['clock_speed']:g} | "
              f"{r['drain_wall_s']:.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stock_sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, nargs="+", default=[4200, 100_000], help="catalog sizes to run")
    parser.add_argument("--clock-speed", type=float, default=8.0,
                        help="virtual seconds per real second for the sandbox and the limiter (default 8)")
    parser.add_argument("--plan-child", metavar="PREFIX", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plan_child:
        plan_in_child(args.plan_child)
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-stock-") as work:
        for skus in args.skus:
            results.append(run_case(skus, args.clock_speed, Path(work)))
            print(json.dumps(results[-1]), file=sys.stderr)
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
