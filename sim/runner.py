"""Running replications (in parallel processes when asked) and combining them.

Replication ``r`` always uses random child ``r`` of the seed, whichever process runs it and in
whatever order they finish, and results are combined in replication order: ``--jobs`` changes
only how long a run takes, never its output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
from tqdm import tqdm

from scenarios.schema import Scenario
from sim.executors import usable_cpus
from sim.kpis import replication_kpis
from sim.mdrp import Solution, solution
from sim.model import Model
from sim.recorder import Recorder
from sim.timeline import timeline

T = TypeVar("T")

TABLES = ("orders", "events", "api_calls", "resources", "timeline")


@dataclass
class ReplicationOutput:
    replication: int
    kpis: dict[str, float]
    placed: int
    end_time: float
    tables: dict[str, pa.Table] = field(default_factory=dict)
    #: the replication as an MDRP solution (scenarios with an ``[mdrp]`` table)
    mdrp: Solution | None = None
    #: the denominator of each share KPI (orders it is a share of), for pooled intervals
    trials: dict[str, float] = field(default_factory=dict)


def simulate_replication(
    scenario: Scenario,
    seed: int,
    replication: int,
    with_tables: bool = True,
    progress: Callable[[float], None] | None = None,
) -> ReplicationOutput:
    """One replication. Top-level so a process pool can pickle it."""
    model = Model(scenario, seed, replication)
    model.progress = progress
    result = model.run()
    rec = result.recorder
    orders = rec.orders()
    trials: dict[str, float] = {}
    out = ReplicationOutput(
        replication,
        replication_kpis(orders, result.utilisation, scenario, trials),
        result.placed,
        result.end_time,
        trials=trials,
    )
    if scenario.mdrp is not None:
        assert model.plan.rows is not None  # an MDRP scenario replays its order log
        out.mdrp = solution(scenario, model.plan.rows, orders, rec.moves())
        out.kpis.update(out.mdrp.kpis)
        out.trials["mdrp_undelivered_share"] = out.mdrp.kpis["mdrp_orders"]
    if with_tables:
        out.tables = tables_of(rec, orders)
    return out


def tables_of(rec: Recorder, orders: pa.Table) -> dict[str, pa.Table]:
    """A replication's run-directory tables (``TABLES``). The timeline is built from the calls
    table the run keeps anyway, so a city-scale day never holds two copies of its largest table."""
    calls = rec.api_calls()
    return {
        "orders": orders,
        "events": rec.events(),
        "api_calls": calls,
        "resources": rec.resources(),
        "timeline": timeline(calls, rec.call_params_column(), orders),
    }


def default_jobs(tasks: int) -> int:
    return max(1, min(tasks, usable_cpus()))


def run_many(
    tasks: Sequence[tuple[Scenario, int, int]],
    *,
    jobs: int = 1,
    with_tables: bool,
    desc: str,
    show_progress: bool = True,
    executor: Executor | None = None,
) -> list[ReplicationOutput]:
    """Run ``(scenario, seed, replication)`` tasks; results come back in task order. With an
    ``executor`` (a process pool, a Dask cluster's) the tasks go there; without one, ``jobs``
    above 1 starts a process pool for this call, and 1 runs them here with progress in
    simulated minutes."""
    if executor is None and jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            return run_many(
                tasks,
                with_tables=with_tables,
                desc=desc,
                show_progress=show_progress,
                executor=pool,
            )
    results: list[ReplicationOutput | None] = [None] * len(tasks)
    if executor is None:
        span = max(s.period.duration_s for s, _, _ in tasks) / 60.0 if tasks else 0.0
        with tqdm(
            total=round(span * len(tasks)),
            desc=desc,
            unit="sim-min",
            disable=not show_progress,
            leave=False,
        ) as bar:
            for i, (scenario, seed, rep) in enumerate(tasks):
                base = i * span

                def tick(now: float, base: float = base) -> None:
                    target = round(base + min(now / 60.0, span))
                    if target > bar.n:
                        bar.update(target - bar.n)  # tqdm itself limits redraws

                results[i] = simulate_replication(scenario, seed, rep, with_tables, tick)
                tick(span * 60.0)
    else:
        results = submit_all(
            executor,
            simulate_replication,
            [(s, seed, rep, with_tables) for s, seed, rep in tasks],
            desc=desc,
            show_progress=show_progress,
        )
    done = [r for r in results if r is not None]
    assert len(done) == len(tasks)
    return done


def submit_all(
    executor: Executor,
    fn: Callable[..., T],
    arguments: Sequence[tuple[Any, ...]],
    *,
    desc: str,
    show_progress: bool = True,
) -> list[T]:
    """``fn(*args)`` for each of ``arguments`` on ``executor``, with progress as they finish;
    the results in the order given, so where a task ran never changes what comes back."""
    results: list[T | None] = [None] * len(arguments)
    with tqdm(total=len(arguments), desc=desc, unit="rep", disable=not show_progress) as bar:
        futures = {executor.submit(fn, *args): i for i, args in enumerate(arguments)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            bar.update(1)
    return [r for r in results if r is not None]


def combine(outputs: Sequence[ReplicationOutput]) -> dict[str, pa.Table]:
    """Each table of every replication, stacked in replication order."""
    return {name: pa.concat_tables([o.tables[name] for o in outputs]) for name in TABLES}
