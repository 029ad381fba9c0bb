"""Reference server throughput, as ratios against a baseline measured in the same run.

1. ``GET /api/orders/{id}/`` on `orderflow serve` against a minimal FastAPI app answering the
   same path with a constant body of the same bytes. Both run as one uvicorn process with the
   same settings (one worker, httptools + uvloop where installed, no access log). The reference
   checks the JWT and the caller's right to the order and answers the order's detail. The
   headline (target: ratio >= 0.6) is the realistic case: reads spread over thousands of orders
   (``--orders``), each read once by its customer, its restaurant and the operator in shuffled
   order, so nearly every read touches a row that no recent read touched (the server keeps no
   response cache; each read is one indexed SQLite lookup of the order's owners and stored
   detail document). The repeated read of one order by one caller (a poll of an unchanged
   order: the same lookup on a row in SQLite's page cache) is printed beside it.
2. Complete journeys per second (checkout, confirm, prepare, ready, pickup OTP read + pickup,
   start, delivery OTP read + complete, and one detail read to learn the rider: 10 requests)
   on the same server.

Load generation, kept fair on a 2-core machine: the server under test is one process (one
core); the load comes from this one process, with gevent greenlets over geventhttpclient (a C
HTTP parser; the client behind Locust's FastHttpUser), keep-alive connections, closed loop
(each greenlet sends its next request when the previous answer arrives). Other work on a shared
machine swings requests per second by a factor of two within seconds, so each round measures
the baseline and both reference cases back to back (short, in alternating order), a ratio is
taken within each round, and the median ratio over the rounds is the figure. Each round reads
its own share of the spread reads and ends early if that share runs out.

The script also prints the server's CPU time per request (from /proc; medians), which is
steadier: its ratio is what the throughput ratio tends to when the server is the bottleneck.
Even so, a slower server makes the client wait more, and waking a waiting client is charged to
the server's socket writes, so the CPU ratio errs on the low side. The load average is printed
at the end: quote it with the figures.

    .venv/bin/python benchmarks/bench_server.py [--seconds 1.5] [--rounds 6] [--concurrency 32]
        [--orders 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orderflow.served import stop_process

REPO = Path(__file__).resolve().parents[1]

LISTEN = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
SECRET = "orderflow-benchmark-secret-0123456789abcdef"


# --------------------------------------------------------------------------- the baseline app
def serve_baseline(port: int, body: bytes) -> None:
    """A minimal FastAPI app: the same route answered with constant bytes, same uvicorn config
    as `orderflow serve` (see reference_api.http.server.serve)."""
    import uvicorn
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.get("/api/orders/{order_id}/")
    async def get_order(order_id: str) -> Response:
        return Response(body, media_type="application/json")

    from reference_api.http.server import bind

    sock = bind("127.0.0.1", port)
    print(f"baseline listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    uvicorn.Server(config).run(sockets=[sock])


# --------------------------------------------------------------------------- processes
def start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = LISTEN.search(line)
        if match:
            return proc, int(match.group(1))
    proc.kill()
    raise RuntimeError(f"{args} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``): the cost per request, which the
    other work on a shared machine disturbs far less than requests per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- load
def closed_loop(
    work: Callable[[], int], concurrency: int, seconds: float
) -> tuple[float, int, int]:
    """Run ``work`` (returns requests made; 0 when there is no more) in ``concurrency``
    greenlets for ``seconds``. Returns (elapsed, units completed, requests)."""
    import gevent

    done = [0, 0]
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        while time.perf_counter() < deadline:
            requests = work()  # yields to other greenlets: add only after it returns
            if not requests:
                return  # the work ran out
            done[0] += 1
            done[1] += requests

    started = time.perf_counter()
    gevent.joinall([gevent.spawn(loop) for _ in range(concurrency)], raise_error=True)
    return time.perf_counter() - started, done[0], done[1]


class Client:
    def __init__(self, port: int, concurrency: int) -> None:
        from geventhttpclient import HTTPClient

        self.http = HTTPClient(
            "127.0.0.1", port, concurrency=concurrency, network_timeout=30, connection_timeout=30
        )

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body)
        response = self.http.request(method, path, body=payload, headers=headers)
        data = response.read()
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status_code} {data[:300]!r}")
        return json.loads(data)

    def get_raw(self, path: str, headers: dict[str, str]) -> int:
        response = self.http.get(path, headers=headers)
        response.read()
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code}")
        return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per measurement")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--orders",
        type=int,
        default=10000,
        help="orders placed for the spread reads (each read once by 3 callers; a round ends "
        "early if its share runs out)",
    )
    parser.add_argument("--journeys", type=int, default=16, help="concurrent journeys")
    parser.add_argument("--serve-baseline", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--body", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline is not None:
        serve_baseline(args.serve_baseline, Path(args.body).read_bytes())
        return 0

    from reference_api.fixtures import build_fixtures
    from reference_api.http.auth import issue_token
    from reference_api.roles import SYSTEM_ACTOR

    fx = build_fixtures(5, 200, 100)
    now = time.time()

    def tok(actor: Any) -> str:
        return issue_token(actor, SECRET.encode(), now=now, ttl_s=3600)

    env = {**os.environ, "ORDERFLOW_JWT_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    ref, ref_port = start(
        [sys.executable, "-m", "orderflow", "serve", "--port", "0", "--fresh",
         "--db", str(work / "bench.db"), "--vendors", "5", "--customers", "200",
         "--riders", "100"],
        env,
    )  # fmt: skip
    base = None
    try:
        client = Client(ref_port, max(args.concurrency, args.journeys))
        customer = fx.customers[0]
        order = client.call(
            "POST",
            "/api/orders/",
            tok(customer),
            {
                "vendor": fx.vendors[0].id,
                "items": [{"name": "Margherita", "quantity": 2, "unit_price": "374.00"}],
                "delivery_address": {"latitude": 19.07, "longitude": 72.87},
            },
        )
        path = f"/api/orders/{order['id']}/"
        headers = {"Authorization": f"Bearer {tok(customer)}"}
        body_file = work / "body.json"
        body_file.write_bytes(client.http.get(path, headers=headers).read())

        # orders for the spread reads, each to be read once by its customer, its restaurant
        # and the operator, in shuffled order ---------------------------------------------
        customer_tokens = [tok(c) for c in fx.customers]
        customer_headers = [{"Authorization": f"Bearer {t}"} for t in customer_tokens]
        restaurant_headers = [{"Authorization": f"Bearer {tok(r)}"} for r in fx.restaurants]
        system_headers = {"Authorization": f"Bearer {tok(SYSTEM_ACTOR)}"}
        reads: list[tuple[str, dict[str, str]]] = []
        placing = time.perf_counter()

        def place() -> int:
            i = len(reads) // 3
            if i >= args.orders:
                return 0
            c, v = i % len(fx.customers), i % len(fx.vendors)
            reads.extend([("", {})] * 3)  # claim the slots before yielding
            placed = client.call(
                "POST",
                "/api/orders/",
                customer_tokens[c],
                {
                    "vendor": fx.vendors[v].id,
                    "items": [{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
                    "delivery_address": {"latitude": 19.07, "longitude": 72.87},
                },
            )
            url = f"/api/orders/{placed['id']}/"
            reads[3 * i : 3 * i + 3] = [
                (url, customer_headers[c]),
                (url, restaurant_headers[v]),
                (url, system_headers),
            ]
            return 1

        closed_loop(place, args.concurrency, 120.0)
        random.Random(7).shuffle(reads)
        print(
            f"placed {len(reads) // 3} orders in {time.perf_counter() - placing:.1f} s "
            f"for {len(reads)} spread reads"
        )

        base, base_port = start(
            [sys.executable, __file__, "--serve-baseline", "0", "--body", str(body_file)], env
        )
        base_client = Client(base_port, args.concurrency)

        def measure(
            c: Client, pid: int, work: Callable[[], int], warm: Callable[[], int] | None = None
        ) -> tuple[float, float]:
            """Requests per second, and server CPU microseconds per request."""
            closed_loop(warm or work, args.concurrency, 0.3)
            cpu = cpu_seconds(pid)
            elapsed, _, requests = closed_loop(work, args.concurrency, args.seconds)
            return requests / elapsed, (cpu_seconds(pid) - cpu) / max(requests, 1) * 1e6

        def repeated(c: Client) -> Callable[[], int]:
            return lambda: c.get_raw(path, headers)

        share = len(reads) // args.rounds

        def spread(r: int) -> Callable[[], int]:
            pending = iter(reads[r * share : (r + 1) * share])

            def read() -> int:
                item = next(pending, None)
                return 0 if item is None else client.get_raw(*item)

            return read

        names = {"base": "baseline", "spread": "spread", "repeated": "repeated"}
        rates: dict[str, list[float]] = {key: [] for key in names}
        cpus: dict[str, list[float]] = {key: [] for key in names}
        for r in range(args.rounds):
            plan: dict[str, tuple[Client, int, Callable[[], int], Callable[[], int] | None]] = {
                "base": (base_client, base.pid, repeated(base_client), None),
                "spread": (client, ref.pid, spread(r), repeated(client)),
                "repeated": (client, ref.pid, repeated(client), None),
            }
            order = list(plan) if r % 2 == 0 else list(reversed(plan))  # drift hits both ends
            figures = {key: measure(*plan[key]) for key in order}
            for key, (rate, us) in figures.items():
                rates[key].append(rate)
                cpus[key].append(us)
            print(
                f"round {r + 1}: "
                + "   ".join(
                    f"{names[key]} {figures[key][0]:5.0f} req/s ({figures[key][1]:3.0f} us CPU)"
                    for key in names
                )
                + f"   ratios {figures['spread'][0] / figures['base'][0]:.2f}"
                f" / {figures['repeated'][0] / figures['base'][0]:.2f}"
            )

        def ratio(key: str) -> float:
            return statistics.median(a / b for a, b in zip(rates[key], rates["base"], strict=True))

        cpu = {key: statistics.median(values) for key, values in cpus.items()}
        print(
            f"GET /api/orders/{{id}}/ spread over {len(reads) // 3} orders (each read once per "
            f"caller): ratio {ratio('spread'):.2f} (target >= 0.6); "
            f"median {statistics.median(rates['spread']):.0f} req/s against the baseline's "
            f"{statistics.median(rates['base']):.0f}"
        )
        print(
            f"GET /api/orders/{{id}}/ repeated (one order, one caller): ratio "
            f"{ratio('repeated'):.2f}; median {statistics.median(rates['repeated']):.0f} req/s"
        )
        print(
            f"server CPU per request (median)  baseline {cpu['base']:.0f} us, spread "
            f"{cpu['spread']:.0f} us (efficiency ratio {cpu['base'] / cpu['spread']:.2f}), "
            f"repeated {cpu['repeated']:.0f} us ({cpu['base'] / cpu['repeated']:.2f})"
        )
        print(f"load average {Path('/proc/loadavg').read_text().split(' ', 3)[:3]}")
        stop_process(base)
        base = None

        # complete journeys ---------------------------------------------------------------
        rest = {v.id: tok(r) for v, r in zip(fx.vendors, fx.restaurants, strict=True)}
        riders = {a.user_id: tok(a) for a in fx.riders}
        system = tok(SYSTEM_ACTOR)
        customers = [(c, tok(c)) for c in fx.customers]
        counter = [0]

        def journey() -> int:
            counter[0] += 1
            i = counter[0]
            _, ctok = customers[i % len(customers)]
            vendor = fx.vendors[i % len(fx.vendors)]
            lat, lon = fx.customer_homes[i % len(customers)]
            placed = client.call(
                "POST",
                "/api/orders/",
                ctok,
                {
                    "vendor": vendor.id,
                    "items": [{"name": "Margherita", "quantity": 1, "unit_price": "374.00"}],
                    "delivery_address": {"latitude": lat, "longitude": lon},
                },
            )
            oid = placed["id"]
            r = rest[vendor.id]
            client.call("POST", f"/api/restaurants/orders/{oid}/confirm/", r, {})
            client.call("POST", f"/api/restaurants/orders/{oid}/start-preparing/", r)
            client.call("POST", f"/api/restaurants/orders/{oid}/mark-ready/", r)
            rider = riders[client.call("GET", f"/api/orders/{oid}/", system)["delivery_person"]]
            otp = client.call("GET", f"/api/orders/{oid}/otp/?type=pickup", r)["otp"]
            client.call("POST", f"/api/orders/{oid}/pickup/", rider, {"otp": otp})
            client.call("POST", f"/api/orders/{oid}/start-delivery/", rider)
            otp = client.call("GET", f"/api/orders/{oid}/otp/?type=delivery", ctok)["otp"]
            client.call("POST", f"/api/orders/{oid}/complete-delivery/", rider, {"otp": otp})
            return 10

        closed_loop(journey, args.journeys, 0.5)
        elapsed, journeys, requests = closed_loop(journey, args.journeys, max(args.seconds, 4))
        print(
            f"complete journeys: {journeys / elapsed:.1f}/s ({requests / elapsed:.0f} req/s, "
            f"{args.journeys} concurrent, {journeys} journeys in {elapsed:.1f} s)"
        )
        return 0
    finally:
        if base is not None:
            stop_process(base)
        stop_process(ref)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
