"""How fast is the simulation, what does the model add to the API's own cost, and how does it
scale?

Each measurement is printed beside a baseline measured in the same run:

1. The model's overhead (``--overhead-policies``, default ``at_confirm`` and ``rolling_horizon``),
   on one day of ``--pair-orders`` orders: a bare SimPy skeleton of the same pipeline and draws
   (arrival -> confirm delay -> kitchen slot -> prep -> rider -> two travel legs; no API, no
   logging), the full model (every step through OrderService, columnar logging), and the
   **replay** of the exact sequence of service calls that full run made (``sim.replay``: from
   its own API-call log, on a ``ManualClock``, against a fresh service, with no SimPy and no
   model; the API's own cost for this day). ``overhead = full / (skeleton + replay)``: what the
   model costs beyond a pipeline and the calls it makes. Target: at most 1.3. The replay runs in
   the same process right after its full run, under the same garbage-collector settings, and
   must reproduce every logged outcome (the line says how many differed: 0).
2. Cost per order at 10k, 100k and 1M orders (a day whose demand, kitchens, customers, riders
   and area all scale together). Target: flat within 1.2x. Each size runs in a fresh process so
   its peak memory (max RSS) is its own; the tables of a run directory are built as
   ``orderflow simulate`` builds them, all alive at once.
3. The 1M-order day with 5,000 riders: time, and peak memory (target at most 2 GB).
4. With ``--dispatch NAME[,NAME...]``: the same day (``--dispatch-size`` orders, 1M by default)
   under ``at_confirm`` and each named strategy, each in a fresh process one after the other:
   cost per order, its ratio to ``at_confirm``'s, and the seconds the strategy spent deciding
   (its ``decide``, ``order_waiting`` and ``order_for``, timed here, not in the model). Target
   for ``rolling_horizon``: at most 1.3x.

    .venv/bin/python benchmarks/bench_sim.py                 # all three (the 1M day takes minutes)
    .venv/bin/python benchmarks/bench_sim.py --sizes 10000,100000   # skip the 1M day
    .venv/bin/python benchmarks/bench_sim.py --sizes 10000 --overhead-policies at_confirm
    .venv/bin/python benchmarks/bench_sim.py --day dinner    # the overloaded day of earlier runs
    .venv/bin/python benchmarks/bench_sim.py --sizes 10000 --dispatch rolling_horizon

The bench day (``--day dense``, the default) is a city that 5,000 riders can serve at 1M orders a
day: 200 orders per rider-day leave 7.2 minutes per order, so trips are short (100 km2 per 1M
orders, customers order from their 3 nearest kitchens), food takes about 3 minutes and each
handover half a minute; riders are busy but not saturated and nearly every order is delivered,
by the full path (payment, confirmation, kitchen, assignment, both OTPs). The earlier
bench day (``--day dinner``: dinner_peak's Mumbai spread over 24 h at the same counts) cannot be
served by 5,000 riders, since D2 assigns a rider at confirmation and holds them through a
16-minute preparation: most of its orders wait out the pickup timeout and are refunded, so it
measures that overload rather than the model. Each run prints the outcome mix it measured
(tests/sim/test_bench_day.py holds both days to this; recorded figures: docs/performance.md).

Timings on a shared virtual machine drift by 10-40 % from one minute to the next; the
skeleton / full + replay runs of section 1 therefore alternate ``--repeats`` times, and the
overhead reported is the median of the repeats' overheads (each repeat's three runs see about the
same machine), beside the best time of each. Do not run this in a loop on a shared machine.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa
import pyarrow.compute as pc
import simpy
from tqdm import tqdm

from reference_api.geo import haversine_km
from scenarios.loader import load_scenario
from scenarios.schema import CITY_LAT, CITY_LON, Scenario
from sim.city import build_city
from sim.model import Model, fewer_collections
from sim.plan import BLOCK, OrderPlan
from sim.replay import Replay
from sim.runner import tables_of
from sim.streams import streams

RIDERS_PER_ORDER = 5000 / 1_000_000
#: The dense day's area: 100 km2 per 1M orders, so rider and kitchen densities do not change
#: with its size.
KM2_PER_ORDER = 100.0 / 1_000_000
#: What a SimPy process function returns.
Process = Generator[simpy.Event, Any, None]


def _day_sets(orders: int) -> list[str]:
    """``--set`` values: the day's demand and world, scaled with its size (1M -> 5,000 riders)."""
    return [
        'period.start="00:00"',
        "period.duration_h=24",
        "period.warmup_min=60",
        "period.cooldown_min=60",
        "period.drain_h=2",
        f'demand.curve=[{{ at = "00:00", orders_per_hour = {orders / 24} }}]',
        f"vendors.count={max(20, orders // 400)}",
        f"customers.count={max(500, orders // 10)}",
        f"fleet.riders={max(10, round(orders * RIDERS_PER_ORDER))}",
        'fleet.shifts=[{ start = "00:00", end = "26:00" }]',
        "output.resource_sample_min=5",
    ]


def dense_day(orders: int) -> Scenario:
    """A 24-hour day of about ``orders`` orders in a city its riders can serve (module doc)."""
    radius = math.sqrt(KM2_PER_ORDER * orders / math.pi)
    spot = f"[{{ lat = {CITY_LAT}, lon = {CITY_LON}, radius_km = {radius:.4f} }}]"
    sets = [
        *_day_sets(orders),
        f"city.restaurant_hotspots={spot}",
        f"city.customer_hotspots={spot}",
        "city.vendor_choice=3",
        'vendors.prep_time={ dist = "gamma", mean_min = 3, sd_min = 1 }',
        'fleet.pickup_service={ dist = "constant", value_min = 0.5 }',
        'fleet.dropoff_service={ dist = "constant", value_min = 0.5 }',
    ]
    return load_scenario("dinner_peak", sets).scenario


def dinner_day(orders: int) -> Scenario:
    """dinner_peak's city and timings over 24 hours: overloaded at these sizes (module doc)."""
    return load_scenario("dinner_peak", _day_sets(orders)).scenario


DAYS: dict[str, Callable[[int], Scenario]] = {"dense": dense_day, "dinner": dinner_day}


def skeleton(s: Scenario, seed: int) -> tuple[int, float]:
    """The same pipeline and the same draws in bare SimPy: no API, no logging."""
    rngs = streams(seed, 0)
    city = build_city(s, rngs["city"], rngs["riders"])
    plan = OrderPlan(s, rngs)
    env = simpy.Environment()
    kitchens = [simpy.Resource(env, capacity=s.vendors.kitchen_slots) for _ in city.vendor_lat]
    riders = simpy.Resource(env, capacity=s.rider_count)
    factor = s.fleet.detour_factor / s.fleet.speed_kmh * 3600.0
    done = [0]

    def order(v: int, c: int, confirm: float, prep: float, handover: float) -> Process:
        yield env.timeout(confirm)
        with kitchens[v].request() as slot:
            yield slot
            yield env.timeout(prep)
        leg = (
            haversine_km(
                city.vendor_lat[v], city.vendor_lon[v], city.customer_lat[c], city.customer_lon[c]
            )
            * factor
        )
        with riders.request() as rider:
            yield rider
            yield env.timeout(leg)  # to the restaurant
            yield env.timeout(handover)
            yield env.timeout(leg)  # to the customer
        done[0] += 1

    def arrivals() -> Process:
        for i, t in enumerate(plan.times.tolist()):
            yield env.timeout(t - env.now)
            blk = plan.block(i // BLOCK)
            j = i % BLOCK
            c = blk.customer[j]
            v = int(city.choices[c, blk.vendor_slot[j]])
            env.process(order(v, c, blk.confirm_delay[j], blk.prep[j], blk.pickup_service[j]))

    start = time.perf_counter()
    env.process(arrivals())
    env.run()
    return len(plan), time.perf_counter() - start


#: The strategy methods whose time section 4 reports.
DECIDING = ("decide", "order_waiting", "order_for")


def _timed(method: Callable[..., Any], spent: list[float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    return timed


def with_policy(s: Scenario, policy: str) -> Scenario:
    return s.model_copy(update={"dispatch": s.dispatch.model_copy(update={"policy": policy})})


@dataclass
class FullRun:
    placed: int
    run_s: float
    tables_s: float
    mix: str
    #: the replay of its calls (``replay=True``): seconds, calls, outcomes that differed
    replay_s: float = math.nan
    replay_calls: int = 0
    replay_mismatches: int = 0


def full(
    s: Scenario,
    seed: int,
    show: bool = False,
    deciding: list[float] | None = None,
    *,
    replay: bool = False,
) -> FullRun:
    """The full model on ``s`` and its run-directory tables; with ``deciding``, the strategy's
    deciding time is added to its first item; with ``replay``, its calls are then replayed
    against a fresh service (``sim.replay``) and timed."""
    model = Model(s, seed, 0)
    if deciding is not None:  # patch this process's strategy class: its instances use slots
        cls = type(model.svc.dispatch)
        for name in DECIDING:
            setattr(cls, name, _timed(getattr(cls, name), deciding))
    span = round(s.period.duration_s / 60)
    bar = tqdm(total=span, unit="sim-min", disable=not show, leave=False, mininterval=2.0)

    def tick(now: float) -> None:
        target = min(span, round(now / 60))
        if target > bar.n:
            bar.update(target - bar.n)

    model.progress = tick
    start = time.perf_counter()
    result = model.run()
    bar.close()
    mid = time.perf_counter()
    rec = result.recorder
    tables = tables_of(rec, rec.orders())  # all five alive at once, as a simulate run keeps them
    tables_s = time.perf_counter() - mid
    out = FullRun(
        result.placed, mid - start, tables_s, outcome_mix(tables["orders"]["final_status"])
    )
    if replay:
        del tables
        steps = Replay.of(model, result.end_time)
        start = time.perf_counter()
        with fewer_collections():  # as ``Model.run`` runs, its first collection included
            done = steps.run()
        out.replay_s = time.perf_counter() - start
        out.replay_calls, out.replay_mismatches = done.calls, done.mismatch_count
    return out


def outcome_mix(final_status: pa.ChunkedArray) -> str:
    """The share of each final status, largest first: which path through the API was measured."""
    counts = pc.value_counts(final_status).to_pylist()
    total = sum(c["counts"] for c in counts) or 1
    counts.sort(key=lambda c: -c["counts"])
    return ", ".join(f"{c['values'].lower()} {100 * c['counts'] / total:.1f} %" for c in counts)


def _size_job(day: str, orders: int) -> tuple[int, float, float, float, str]:
    # tqdm's default lock is a multiprocessing semaphore, which a pool worker leaves behind
    # ("leaked semaphore" warnings at exit); one process needs only a thread lock.
    tqdm.set_lock(threading.RLock())
    run = full(DAYS[day](orders), seed=1, show=True)
    return run.placed, run.run_s, run.tables_s, peak_rss_mb(), run.mix


def peak_rss_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` where Linux has it: ``ru_maxrss`` keeps
    the high-water mark of the parent this worker was forked from across the ``exec`` of a
    spawned process, so a small size run after section 1 reported section 1's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _policy_job(day: str, orders: int, policy: str) -> tuple[int, float, float, str]:
    tqdm.set_lock(threading.RLock())
    deciding = [0.0]
    run = full(with_policy(DAYS[day](orders), policy), 1, True, deciding)
    return run.placed, run.run_s, deciding[0], run.mix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--pair-orders", type=int, default=20000)
    parser.add_argument(
        "--repeats", type=int, default=3, help="alternating skeleton/full runs; the best counts"
    )
    parser.add_argument(
        "--day", choices=sorted(DAYS), default="dense", help="the bench day (module doc)"
    )
    parser.add_argument(
        "--dispatch",
        default="",
        metavar="NAME[,NAME...]",
        help="also compare these dispatch strategies with at_confirm (section 4)",
    )
    parser.add_argument("--dispatch-size", type=int, default=1_000_000, metavar="ORDERS")
    parser.add_argument(
        "--overhead-policies",
        default="at_confirm,rolling_horizon",
        metavar="NAME[,NAME...]",
        help="section 1's dispatch strategies (empty: skip section 1)",
    )
    args = parser.parse_args()
    from reference_api.dispatch import POLICIES

    policies = [p.strip() for p in args.dispatch.split(",") if p.strip()]
    overhead_policies = [p.strip() for p in args.overhead_policies.split(",") if p.strip()]
    unknown = [p for p in policies + overhead_policies if p not in POLICIES]
    if unknown:
        parser.error(
            f"unknown dispatch strategy {', '.join(unknown)}; known: {', '.join(POLICIES)}"
        )
    try:
        sizes = [int(x) for x in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes: expected comma-separated whole numbers, got {args.sizes!r}")
    if args.repeats < 1 or args.pair_orders < 1 or min(sizes) < 1:
        parser.error("--repeats, --pair-orders and --sizes must be at least 1")

    for policy in overhead_policies:
        overhead(with_policy(DAYS[args.day](args.pair_orders), policy), policy, args)

    print(
        f"\n2) cost per order by size (each in a fresh process; {args.day} 24 h day, "
        "riders = orders/200)"
    )
    ctx = mp.get_context("spawn")
    rows = []
    for size in sizes:
        with ctx.Pool(1) as pool:
            placed, run_s, table_s, peak, mix = pool.apply(_size_job, (args.day, size))
        per = run_s / placed * 1e6
        rows.append((size, placed, run_s, table_s, peak, per))
        print(
            f"   {size:>9,}: {placed:>9,} orders  run {run_s:7.1f}s  tables {table_s:5.1f}s  "
            f"{per:6.1f} us/order  peak RSS {peak:,.0f} MB\n{'':14}outcomes: {mix}",
            flush=True,
        )
    base = rows[0][5]
    worst = max(r[5] for r in rows) / min(r[5] for r in rows)
    print("   cost ratio vs smallest: " + ", ".join(f"{r[0]:,}: {r[5] / base:.2f}x" for r in rows))
    print(f"   spread max/min = {worst:.2f}x   (target <= 1.2x)")

    big = [r for r in rows if r[0] >= 1_000_000]
    if big:
        size, placed, run_s, table_s, peak, _ = big[0]
        total = run_s + table_s
        print(
            f"\n3) 1M-order day, {round(size * RIDERS_PER_ORDER):,} riders: {total:.1f}s "
            f"(run {run_s:.1f}s + tables {table_s:.1f}s), peak {peak / 1024:.2f} GB "
            "(target <= 2 GB)"
        )
    if policies:
        compare_policies(ctx, args.day, args.dispatch_size, policies)
    return 0


def overhead(s: Scenario, policy: str, args: argparse.Namespace) -> None:
    """Section 1 for one strategy: skeleton, full model and the replay of its calls, alternating
    ``args.repeats`` times; each repeat's overhead from its own three runs."""
    print(
        f"1) the model's overhead, {policy}: one {args.day} day of ~{args.pair_orders:,} orders, "
        f"{args.repeats} alternating repeats of skeleton, full model and replay"
    )
    sk: list[float] = []
    rp: list[float] = []
    fl: list[float] = []
    for _ in range(args.repeats):
        n_sk, t_sk = skeleton(s, seed=1)
        run = full(s, seed=1, replay=True)
        sk.append(t_sk / n_sk * 1e6)
        fl.append(run.run_s / run.placed * 1e6)
        rp.append(run.replay_s / run.placed * 1e6)
    ratios = sorted(f / (k + r) for k, r, f in zip(sk, rp, fl, strict=True))

    def line(name: str, us: list[float], what: str) -> None:
        runs = ", ".join(f"{u:.1f}" for u in us)
        print(f"   {name:<9} {min(us):7.1f} us/order best   (runs {runs})   {what}")

    line("skeleton", sk, "bare SimPy pipeline, same draws")
    line("replay", rp, f"the API alone: {run.replay_calls:,} calls, "
         f"{run.replay_mismatches} outcomes differed")  # fmt: skip
    line("full", fl, f"{run.placed:,} orders")
    print(
        f"   overhead = full / (skeleton + replay) = {statistics.median(ratios):.3f}, median of "
        f"the repeats ({', '.join(f'{r:.3f}' for r in ratios)}; best times give "
        f"{min(fl) / (min(sk) + min(rp)):.3f})   (target <= 1.3)"
    )
    print(f"   outcomes: {run.mix}\n", flush=True)


def compare_policies(ctx: Any, day: str, size: int, policies: list[str]) -> None:
    print(
        f"\n4) dispatch strategies on the {day} day of ~{size:,} orders (fresh process each, "
        "one after the other)"
    )
    base: float | None = None
    for policy in dict.fromkeys(["at_confirm", *policies]):
        with ctx.Pool(1) as pool:
            placed, run_s, deciding_s, mix = pool.apply(_policy_job, (day, size, policy))
        per = run_s / placed * 1e6
        base = per if base is None else base
        print(
            f"   {policy:>16}: {placed:>9,} orders  run {run_s:7.1f}s  {per:6.1f} us/order  "
            f"{per / base:.2f}x at_confirm  deciding {deciding_s:6.1f}s "
            f"({100 * deciding_s / run_s:.1f} %)\n{'':20}outcomes: {mix}",
            flush=True,
        )
    print("   target: rolling_horizon <= 1.3x at_confirm")


if __name__ == "__main__":
    raise SystemExit(main())
