"""How much load one Locust process generates with our journeys, against a baseline measured in
the same run, and how punctual the open-model schedule is.

1. Throughput (the headline ratio): requests/s of a plain FastHttpUser loop (one GET in a tight
   loop, 50 users, so 50 connections) vs the journey replay (open-model schedule, identities,
   per-response checks, one row per request, Locust statistics; its users share 50 connections,
   ``--connections 50``), each in one Locust process against the same constant-response server
   (its own process), both saturated: the journey schedule asks for 1.2 times what the plain
   loop achieved, so the replay sends as fast as it can (the table says whether it fell behind
   the schedule, i.e. was saturated). Target ratio >= 0.8. Requests/s are counted over the
   middle half of each run (ramp-up and drain left out): for the loop from Locust's
   ``--csv`` history, for the replay from ``requests.parquet``'s ``end_ts``.
   Context line, not part of the ratio: the same tight loop with a journey step's request shape
   (POST, JSON body, bearer token, ``catch_response``, reply parsed and checked).
2. Punctuality: the journey replay at a fixed schedule of a third of its saturated rate; p99
   start lateness (start - intended, requests.parquet) with the generator's CPU share. Target
   < 50 ms below 70 % CPU.
3. Distributed: the saturated journey replay by a Locust master with 2 workers over the same
   with 1 worker, against the same server (requests/s over the middle half, as above); the
   workers send every row to the master in messages (no shared disk), so the master's CPU is
   printed beside. Target >= 1.7x. On this 2-core machine two saturated workers, the master and
   the server share two cores: the ratio's ceiling is set by what the server and master take.

CPU is the Locust process's user + system time (``psutil``, children included; there are none)
over the same window as the rate, in % of one core; the server's likewise. On a shared machine
the load average (printed) skews both rates alike; requests per generator CPU-second is printed
beside the ratio as the contention-free view.

Usage: ``python benchmarks/bench_loadgen.py [--seconds S] [--only distributed]`` (about two
minutes). Everything runs on
127.0.0.1 and stops by itself; run directories go to a temporary folder that is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

REPO = Path(__file__).resolve().parents[1]
RIDER = "aa0e8400-e29b-41d4-a716-446655440000"
ORDER = "880e8400-e29b-41d4-a716-446655440000"
OTP = "123456"

# ---------------------------------------------------------------------- constant-response server
#: One fixed answer per route: enough for every journey step to pass its checks, no state.
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/confirm/", {"success": True, "order_id": ORDER, "status": "RESTAURANT_CONFIRMED"}),
    ("POST", "/start-preparing/", {"success": True, "order_id": ORDER, "status": "PREPARING"}),
    ("POST", "/mark-ready/", {"success": True, "order_id": ORDER, "status": "READY_FOR_PICKUP"}),
    ("POST", "/pickup/", {"success": True, "order_id": ORDER, "status": "ORDER_PICKED_UP"}),
    (
        "POST",
        "/start-delivery/",
        {"success": True, "order_id": ORDER, "status": "OUT_FOR_DELIVERY"},
    ),
    ("POST", "/complete-delivery/", {"success": True, "order_id": ORDER, "status": "DELIVERED"}),
    ("POST", "/cancel/", {"success": True, "order_id": ORDER, "status": "CANCELLED"}),
    ("POST", "/reject/", {"success": True, "order_id": ORDER, "status": "RESTAURANT_REJECTED"}),
    ("POST", "/resend/", {"success": True, "type": "delivery"}),
]
DETAIL = {"id": ORDER, "order_status": "PREPARING", "delivery_person": RIDER}


def _response(status: int, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )


#: Every answer is built once; serving is a lookup, so the server stays cheaper than its client.
PLACED = {
    m: _response(201, {**DETAIL, "order_status": m}) for m in ("ORDER_PLACED", "PAYMENT_PENDING")
}
PAID = {
    s: _response(200, {"order_id": ORDER, "status": s})
    for s in ("PAYMENT_SUCCESS", "PAYMENT_FAILED")
}
OTPS = {
    k: _response(200, {"otp": OTP, "type": k, "order_id": ORDER}) for k in ("pickup", "delivery")
}
WRONG_OTP = _response(400, {"detail": "OTP does not match", "code": "otp_invalid"})
ROUTED = [(m.encode(), suffix.encode(), _response(200, body)) for m, suffix, body in ROUTES]
DEFAULT = _response(200, DETAIL)


def _answer(method: bytes, target: bytes, body: bytes) -> bytes:
    path, _, query = target.partition(b"?")
    if method == b"GET" and path.endswith(b"/otp/"):
        return OTPS["pickup" if b"type=pickup" in query else "delivery"]
    if method == b"POST" and path == b"/api/orders/":
        return PLACED["PAYMENT_PENDING" if b'"online"' in body else "ORDER_PLACED"]
    if path.endswith(b"/payment/"):
        return PAID["PAYMENT_FAILED" if b'"failed"' in body else "PAYMENT_SUCCESS"]
    if path.endswith((b"/pickup/", b"/complete-delivery/")) and OTP.encode() not in body:
        return WRONG_OTP
    for m, suffix, answer in ROUTED:
        if method == m and path.endswith(suffix):
            return answer
    return DEFAULT


class ConstantHttp(asyncio.Protocol):
    """HTTP/1.1 keep-alive, just enough for the clients here."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end]
            at = head.lower().find(b"content-length:")
            length = 0
            if at >= 0:
                eol = head.find(b"\r\n", at)
                length = int(head[at + 15 : eol if eol >= 0 else len(head)])
            if len(self.buf) < head_end + 4 + length:
                return
            body = self.buf[head_end + 4 : head_end + 4 + length]
            self.buf = self.buf[head_end + 4 + length :]
            method, target = head.split(b" ", 2)[:2]
            self.transport.write(_answer(method, target, body))


def serve() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(ConstantHttp, "127.0.0.1", 0)
        print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()

    asyncio.run(main())


# ---------------------------------------------------------------------- generators
PLAIN_LOCUSTFILE = """
from locust import FastHttpUser, constant, task

class Plain(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/api/orders/880e8400-e29b-41d4-a716-446655440000/",
                        name="GET /api/orders/[id]/")
"""

#: Not a baseline of the issue: the request shape of a journey step (POST, JSON body, bearer
#: token, reply parsed and checked) in the same tight loop, to show what the shape itself costs.
SHAPED_LOCUSTFILE = """
from locust import FastHttpUser, constant, task

class Shaped(FastHttpUser):
    wait_time = constant(0)

    @task
    def confirm(self):
        with self.client.request(
            "POST", "/api/restaurants/orders/880e8400-e29b-41d4-a716-446655440000/confirm/",
            name="POST /api/restaurants/orders/[id]/confirm/", json={"estimated_prep_time": 20},
            headers={"Authorization": "Bearer bench"}, catch_response=True,
        ) as resp:
            if resp.json().get("status") == "RESTAURANT_CONFIRMED":
                resp.success()
            else:
                resp.failure("unexpected status")
"""

SCENARIO = """
name = "bench"
seed = 3
[period]
start = "00:00"
duration_h = 24
[demand]
curve = [{{ at = "00:00", orders_per_hour = {rate} }}]
[vendors]
count = 1
confirm_delay = {{ dist = "constant", value_min = 0.5 }}
prep_time = {{ dist = "constant", value_min = 3 }}
reject_probability = 0.03
cancel_probability = 0.02
[payment]
online_share = 0.5
delay = {{ dist = "constant", value_min = 0.2 }}
failure_rate = 0.03
[customers]
count = 50
cancel_probability = 0.03
cancel_after = {{ dist = "constant", value_min = 0.3 }}
[fleet]
riders = 50
pickup_service = {{ dist = "constant", value_min = 1 }}
dropoff_service = {{ dist = "constant", value_min = 1 }}
otp_error_probability = 0.05
otp_resend_probability = 0.5
"""


def tokens() -> dict[str, Any]:
    ident = {"token": "bench", "user_id": "u"}
    return {
        "customers": [ident],
        "restaurants": [{**ident, "vendor_id": "v"}],
        "riders": [{"token": "bench", "user_id": RIDER}],
        "system": [ident],
        "vendors": [
            {"id": "v", "name": "V", "latitude": 19.07, "longitude": 72.87,
             "menu": [{"name": "Dosa", "unit_price": "120.00"}]}
        ],
        "addresses": [
            {"title": "Home", "address_line_1": "1 Road", "latitude": 19.09, "longitude": 72.89}
        ],
    }  # fmt: skip


def cpu_seconds(pid: int) -> float:
    total = 0.0
    try:
        proc = psutil.Process(pid)
        for p in [proc, *proc.children(recursive=True)]:
            t = p.cpu_times()
            total += t.user + t.system
    except psutil.NoSuchProcess:
        pass
    return total


Samples = list[tuple[float, float, float]]  # (wall time, generator CPU s, server CPU s)


def run_locust(args: list[str], seconds: float, log: Path, server_pid: int) -> Samples:
    """Run one Locust process to its end, sampling its CPU time and the server's."""
    cmd = [sys.executable, "-m", "locust", "--headless", "--only-summary", *args]
    samples: Samples = []
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        start = time.time()
        try:
            while proc.poll() is None:
                samples.append((time.time(), cpu_seconds(proc.pid), cpu_seconds(server_pid)))
                time.sleep(0.2)
                if time.time() - start > seconds + 120:
                    proc.send_signal(signal.SIGINT)
                    proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return samples


def cpu_share(samples: Samples, start: float, end: float) -> tuple[float, float]:
    """Generator and server CPU, in % of one core, between two instants."""
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) < 2:
        return 0.0, 0.0
    (t0, g0, s0), (t1, g1, s1) = inside[0], inside[-1]
    return (g1 - g0) / (t1 - t0) * 100, (s1 - s0) / (t1 - t0) * 100


def steady(requests: pd.DataFrame, trim: float = 0.25) -> tuple[float, float, float]:
    """Requests/s over the middle of the run (ramp-up and drain cut off), and that window."""
    t = requests["end_ts"].sort_values().to_numpy()
    lo, hi = t[int(len(t) * trim)], t[int(len(t) * (1 - trim)) - 1]
    n = ((t >= lo) & (t <= hi)).sum()
    return (float(n / (hi - lo)) if hi > lo else 0.0), float(lo), float(hi)


def plain_rate(
    host: str,
    work: Path,
    seconds: float,
    server_pid: int,
    source: str = PLAIN_LOCUSTFILE,
    name: str = "plain",
) -> tuple[float, float, float]:
    f = work / f"{name}_locustfile.py"
    f.write_text(source)
    csv = work / name
    samples = run_locust(
        ["-f", str(f), "--host", host, "-u", "50", "-r", "50", "-t", f"{seconds:g}s",
         "--csv", str(csv)], seconds, work / f"{name}.log", server_pid,
    )  # fmt: skip
    hist = pd.read_csv(f"{csv}_stats_history.csv")
    hist = hist[(hist["Name"] == "Aggregated") & (hist["Total Request Count"] > 0)]
    # the middle half of the run: after ramp-up, before shutdown
    ts = hist["Timestamp"].to_numpy().astype(float)
    counts = hist["Total Request Count"].to_numpy().astype(float)
    lo, hi = len(ts) // 4, max(len(ts) // 4 + 1, 3 * len(ts) // 4)
    rate = (counts[hi] - counts[lo]) / (ts[hi] - ts[lo]) if ts[hi] > ts[lo] else 0.0
    gen, srv = cpu_share(samples, ts[lo], ts[hi])
    return float(rate), gen, srv


SPEEDUP = 300.0  # a journey of ~6 scenario minutes takes ~1.2 s


def requests_per_order(work: Path) -> float:
    """Of this scenario's mix, counted on a plan drawn the way the runs draw theirs."""
    from loadtest.identities import parse_identities
    from loadtest.sources import plan_from_scenario

    scenario = work / "mix.toml"
    scenario.write_text(SCENARIO.format(rate=3600.0))
    ids = parse_identities(tokens(), "bench tokens")
    plan = plan_from_scenario(
        str(scenario), ids, speedup=SPEEDUP, duration_s=20, background=0, seed=None, ws_share=0
    )
    return sum(len(o.calls) for o in plan.orders) / max(1, len(plan.orders))


def journey_run(host: str, work: Path, name: str, orders_per_s: float, seconds: float,
                server_pid: int) -> tuple[pd.DataFrame, Samples]:  # fmt: skip
    scenario = work / f"{name}.toml"
    scenario.write_text(SCENARIO.format(rate=orders_per_s * 3600.0 / SPEEDUP))
    speedup = SPEEDUP
    tok = work / "tokens.json"
    tok.write_text(json.dumps(tokens()))
    out = work / name
    samples = run_locust(
        ["-f", str(REPO / "loadtest" / "locustfile.py"), "--host", host,
         "--scenario", str(scenario), "--tokens", str(tok), "--speedup", f"{speedup:g}",
         "--duration", f"{seconds:g}", "--background", "0", "--ws-share", "0",
         "--connections", "50", "--max-requests", "2000000", "--out", str(out)],
        seconds, work / f"{name}.log", server_pid,
    )  # fmt: skip
    return pd.read_parquet(out / "requests.parquet"), samples


def distributed_run(host: str, work: Path, name: str, workers: int, orders_per_s: float,
                    seconds: float, server_pid: int
                    ) -> tuple[pd.DataFrame, Samples, Samples]:  # fmt: skip
    """A master and ``workers`` workers on 127.0.0.1; samples are the master's and the server's
    CPU, then the workers' together (in the server's slot)."""
    scenario = work / f"{name}.toml"
    scenario.write_text(SCENARIO.format(rate=orders_per_s * 3600.0 / SPEEDUP))
    tok = work / "tokens.json"
    tok.write_text(json.dumps(tokens()))
    from loadtest.launcher import free_port

    out = work / name
    port = free_port()
    locustfile = str(REPO / "loadtest" / "locustfile.py")
    worker = [sys.executable, "-m", "locust", "-f", locustfile, "--worker",
              "--master-host", "127.0.0.1", "--master-port", str(port)]  # fmt: skip
    procs = []
    for i in range(workers):
        log = (work / f"{name}-w{i}.log").open("wb")
        procs.append(subprocess.Popen(worker, cwd=work, stdout=log, stderr=subprocess.STDOUT))
    worker_samples: Samples = []
    stop = threading.Event()

    def sample_workers() -> None:
        while not stop.is_set():
            total = sum(cpu_seconds(p.pid) for p in procs)
            worker_samples.append((time.time(), 0.0, total))
            stop.wait(0.2)

    sampler = threading.Thread(target=sample_workers, daemon=True)
    sampler.start()
    try:
        samples = run_locust(
            ["-f", locustfile, "--host", host, "--master", "--expect-workers", str(workers),
             "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
             "--scenario", str(scenario), "--tokens", str(tok), "--speedup", f"{SPEEDUP:g}",
             "--duration", f"{seconds:g}", "--background", "0", "--ws-share", "0",
             "--connections", "50", "--max-requests", "4000000", "--out", str(out)],
            seconds, work / f"{name}.log", server_pid,
        )  # fmt: skip
    finally:
        stop.set()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    return pd.read_parquet(out / "requests.parquet"), samples, worker_samples


def distributed(host: str, work: Path, secs: float, pid: int, single_rate: float,
                per_order: float) -> None:  # fmt: skip
    """Section 3: 2 workers over 1, both saturated."""
    print("5/6 distributed replay, master + 1 worker, saturated ...", flush=True)
    asked1 = 1.5 * single_rate  # ahead of one worker, so it sends as fast as it can
    one, one_samples, one_workers = distributed_run(
        host, work, "dist1", 1, asked1 / per_order, secs, pid
    )
    rate1, lo, hi = steady(one)
    m1, _ = cpu_share(one_samples, lo, hi)
    w1 = cpu_share(one_workers, lo, hi)[1]
    print("6/6 distributed replay, master + 2 workers, saturated ...", flush=True)
    asked2 = 3.0 * rate1  # ahead of two workers likewise
    two, two_samples, two_workers = distributed_run(
        host, work, "dist2", 2, asked2 / per_order, secs, pid
    )
    rate2, lo, hi = steady(two)
    m2, srv2 = cpu_share(two_samples, lo, hi)
    w2 = cpu_share(two_workers, lo, hi)[1]
    print()
    print(f"{'':44}requests/s  master CPU  workers CPU  schedule asked")
    for label, rate, cpu, wcpu, asked in (
        ("distributed replay, 1 worker", rate1, m1, w1, asked1),
        ("distributed replay, 2 workers", rate2, m2, w2, asked2),
    ):
        state = "saturated" if rate < 0.95 * asked else "NOT saturated"
        print(f"{label:44}{rate:10.0f}  {cpu:9.0f}%  {wcpu:10.0f}%  {asked:8.0f}/s ({state})")
    ratio = rate2 / rate1 if rate1 else 0.0
    per_cpu = (rate2 / w2) / (rate1 / w1) if w1 and w2 else 0.0
    print(f"ratio 2 workers / 1 worker          {ratio:.2f}   (target >= 1.7; server CPU "
          f"{srv2:.0f}% with 2 workers, on {os.cpu_count()} cores)")  # fmt: skip
    print(f"  per worker CPU-second             {per_cpu:.2f}   (1.0: the second worker costs "
          "nothing extra per request; cores left over bound the wall ratio)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each run")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["distributed"], help="run only the distributed section")
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-loadgen-"))
    load_before = os.getloadavg()[0]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[-1])
        host = f"http://127.0.0.1:{port}"
        secs = args.seconds
        print(f"constant-response server on {host}; runs of {secs:g} s; files in {work}/")

        pid = server.pid
        if args.only == "distributed":
            per_order = requests_per_order(work)
            print("measuring one process's saturated rate first (as 1/4 and 3/4) ...", flush=True)
            plain, _, _ = plain_rate(host, work, secs, pid)
            sat, _ = journey_run(host, work, "saturated", 1.2 * plain / per_order, secs, pid)
            distributed(host, work, secs, pid, steady(sat)[0], per_order)
            return 0
        print("1/4 plain FastHttpUser loop (50 users, no wait) ...", flush=True)
        plain, plain_gen, plain_srv = plain_rate(host, work, secs, pid)
        print("2/4 the same loop with a journey step's request shape ...", flush=True)
        shaped, shaped_gen, shaped_srv = plain_rate(
            host, work, secs, pid, SHAPED_LOCUSTFILE, "shaped"
        )

        per_order = requests_per_order(work)
        print("3/4 journey replay, saturated (orders arrive faster than one process sends) ...",
              flush=True)  # fmt: skip
        # a schedule 1.2 times what the plain loop managed: a replay as fast as the baseline
        # still falls behind, without so deep a backlog that the run measures queueing inside
        # the generator
        scheduled = 1.2 * plain
        sat, sat_samples = journey_run(host, work, "saturated", scheduled / per_order, secs, pid)
        journeys, lo, hi = steady(sat)
        sat_gen, sat_srv = cpu_share(sat_samples, lo, hi)

        # a fixed schedule at a third of the saturated rate: what the generator keeps up with
        fixed_rps = journeys / 3
        print(f"4/4 journey replay at a fixed schedule (~{fixed_rps:.0f} requests/s) ...",
              flush=True)  # fmt: skip
        fixed, samples = journey_run(host, work, "fixed", fixed_rps / per_order, secs, pid)
        late = pd.Series((fixed["start_ts"] - fixed["intended_ts"]).clip(lower=0) * 1000)
        rate, lo, hi = steady(fixed, trim=0.05)
        gen, srv = cpu_share(samples, lo, hi)

        ratio = journeys / plain if plain else 0.0
        per_cpu = (journeys / sat_gen) / (plain / plain_gen) if sat_gen and plain_gen else 0.0
        behind = (
            "fell behind: saturated" if journeys < 0.95 * scheduled else "kept up: NOT saturated"
        )
        rows = [
            ("plain FastHttpUser GET loop, 50 users", plain, plain_gen, plain_srv),
            ("  context: POST+JSON+token loop, 50 users", shaped, shaped_gen, shaped_srv),
            ("journey replay, saturated, 50 connections", journeys, sat_gen, sat_srv),
            ("journey replay, fixed schedule", rate, gen, srv),
        ]
        print()
        print(f"{'':44}requests/s  generator CPU  server CPU")
        for label, rps, g, sv in rows:
            print(f"{label:44}{rps:10.0f}  {g:12.0f}%  {sv:9.0f}%")
        print(f"(saturated replay: schedule asked {scheduled:.0f}/s, it sent {journeys:.0f}/s, "
              f"{behind}; fixed schedule asked {fixed_rps:.0f}/s)")  # fmt: skip
        print()
        print(f"ratio journey replay / plain loop   {ratio:.2f}   (target >= 0.8)")
        print(f"  per generator CPU-second          {per_cpu:.2f}   (the same ratio with CPU "
              "contention taken out: requests per CPU-second of the Locust process)")  # fmt: skip
        if shaped_gen and plain_gen:
            shape_cost = (shaped / shaped_gen) / (plain / plain_gen)
            print(f"  context: the request shape alone  {shape_cost:.2f}   (POST+JSON+token loop / "
                  "plain loop, per CPU-second)")  # fmt: skip
        print(
            f"start lateness at the fixed schedule: p50 {late.quantile(0.5):.1f} ms, "
            f"p99 {late.quantile(0.99):.1f} ms, max {late.max():.1f} ms with the generator at "
            f"{gen:.0f}% CPU   (target p99 < 50 ms below 70% CPU)"
        )
        distributed(host, work, secs, pid, journeys, per_order)
        load = os.getloadavg()[0]
        print(
            f"(CPU in % of one core; load average {load_before:.1f} before, {load:.1f} now, "
            f"on {os.cpu_count()} cores: other work on the machine skews these figures)"
        )
        return 0
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
