"""API latency of `newsreel serve` under 20 concurrent clients: job creation (POST /api/jobs), job status
(GET /api/jobs/{id}) and the job list (GET /api/jobs), over loopback HTTP with keep-alive connections.

    .venv/bin/python benchmarks/service.py [--clients 20] [--creates 10] [--reads 50]

The server runs in a child process with the test plugin's fast providers (tests/plugins, installed through a
dist-info in a temp folder, as the tests do), one job at a time: while the clients hammer the API, the executor
keeps starting worker processes for the jobs they queue, so the numbers include that background load. Every request
goes to 127.0.0.1; the request count is bounded (clients x (creates + 2 x reads)). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLUGINS = REPO / "tests" / "plugins"
PROVIDERS = {"script": "echo", "image": "flat", "voice": "beep", "captions": "plain", "compose": "listing"}
ENTRY_POINTS = """\
[newsreel.providers]
script.echo = newsreel_testplugin:EchoScript
image.flat = newsreel_testplugin:FlatImage
voice.beep = newsreel_testplugin:BeepVoice
captions.plain = newsreel_testplugin:PlainCaptions
compose.listing = newsreel_testplugin:ListingCompose
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, max_running: int) -> tuple[subprocess.Popen, int]:
    dist = root / "site" / "newsreel_testplugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: newsreel-testplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    (root / "cwd").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSREEL_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(root / "site"), str(PLUGINS), str(REPO)]),
        XDG_CONFIG_HOME=str(root / "config"),
        NEWSREEL_CACHE_DIR=str(root / "cache"),
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--port", str(port), "--data-dir", str(root / "data"),
         "--max-queued", "100000", "--max-running", str(max_running)],
        env=env, cwd=root / "cwd", stdout=open(root / "server.log", "w"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start: " + (root / "server.log").read_text()[-2000:])


def run_clients(port: int, clients: int, make_request, count: int) -> tuple[list[float], int, float]:
    """`clients` threads, each with its own keep-alive connection, each making `count` requests at once."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        for n in range(count):
            method, path, body = make_request(i, n)
            headers = {"Content-Type": "application/json"} if body is not None else {}
            t0 = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response_body = response.read()
            latencies[i].append(time.perf_counter() - t0)
            if response.status >= 300 or not response_body:
                errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return [x for per in latencies for x in per], sum(errors), wall


def row(name: str, lat: list[float], errors: int, wall: float) -> str:
    ms = sorted(x * 1000 for x in lat)
    pct = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    return (f"| {name} | {len(ms)} | {errors} | {statistics.median(ms):.1f} | {pct(0.95):.1f} | {pct(0.99):.1f} | "
            f"{ms[-1]:.1f} | {len(ms) / wall:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--creates", type=int, default=10, help="jobs each client creates")
    parser.add_argument("--reads", type=int, default=50, help="status reads (and list reads) each client makes")
    parser.add_argument("--max-running", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp), args.max_running)
        try:
            ids: list[list[str]] = [[] for _ in range(args.clients)]

            def create(i: int, n: int):
                return "POST", "/api/jobs", json.dumps({"headline": f"Benchmark client {i} job {n}", "providers": PROVIDERS})

            # warm-up: first plan() imports the provider modules
            run_clients(port, 1, create, 2)
            create_lat, create_err, create_wall = run_clients(port, args.clients, create, args.creates)

            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.request("GET", "/api/jobs?limit=100")
            all_ids = [j["id"] for j in json.loads(conn.getresponse().read())["jobs"]]
            for i in range(args.clients):
                ids[i] = all_ids[i::args.clients] or all_ids

            def status(i: int, n: int):
                return "GET", f"/api/jobs/{ids[i][n % len(ids[i])]}", None

            def listing(i: int, n: int):
                return "GET", f"/api/jobs?limit=20&offset={(n * 7) % 100}", None

            status_lat, status_err, status_wall = run_clients(port, args.clients, status, args.reads)
            list_lat, list_err, list_wall = run_clients(port, args.clients, listing, args.reads)
            conn = http.client.HTTPConnection("127.0.0.1", port)  # a fresh one: the server closes idle keep-alives
            conn.request("GET", "/api/health")
            health = json.loads(conn.getresponse().read())
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}; "
          f"{args.clients} concurrent clients, keep-alive, loopback; server: 1 uvicorn process, max-running {args.max_running}")
    print(f"jobs still queued / running after the run: {health['queued']} / {health['running']} "
          "(the executor ran jobs in worker processes throughout)\n")
    print("| request | count | errors | p50 ms | p95 ms | p99 ms | max ms | req/s |")
    print("|---|---|---|---|---|---|---|---|")
    print(row("POST /api/jobs (create)", create_lat, create_err, create_wall))
    print(row("GET /api/jobs/{id} (status)", status_lat, status_err, status_wall))
    print(row("GET /api/jobs?limit=20 (list)", list_lat, list_err, list_wall))


if __name__ == "__main__":
    main()
