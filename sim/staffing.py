"""Riders on duty per hour: the staffing that meets the SLA in every hour with the fewest
rider-hours the search can show (``orderflow plan --staffing hourly``).

The method is the simulation-based iterative staffing algorithm (ISA) of Feldman, Mandelbaum,
Massey & Whitt, "Staffing of time-varying queues to achieve time-stable performance",
Management Science 54(2):324-338, 2008, adapted to an SLA on order times:

1. *Generous start*: every hour at the upper bound (the paper's infinite-server start). If an
   hour is not met even so, no staffing inside the bounds meets the SLA.
2. *ISA*: from the run with staffing ``s``, ``L_h`` = riders busy + orders waiting for a rider
   (the riders the hour's work would occupy), sampled over hour ``h`` and all replications;
   the next staffing is ``s_h = min{s : P(L_h >= s) <= alpha}``, repeated until it stops
   changing (the paper's fixed point, ``alpha`` its delay-probability target).
3. *SLA refinement*. An hour meets when the one-sided ``confidence`` bound of its KPI, over
   the orders *placed* in that hour, is inside the limit. Every measured hour is searched at
   once (one run judges every hour): a galloping step from the ISA's value, then bisection.
   A missed hour counts against its own staffing only when every earlier hour met in that run
   (an earlier hour short of riders leaves a backlog that can sink it). Then hours that miss
   on their own are raised one rider at a time (repair); each hour is lowered as far as every
   hour still meets (galloping, then bisecting back), in passes until a pass lowers nothing
   (descent); and an
   exchange tries one rider more in the hour before and this hour lowered as far as every
   hour still meets, kept when it lowers the rider-hours (a lean hour's backlog can cost the
   next hour more riders than it saved). Descent and exchange repeat until neither helps.
   Every run has at least as many replications as the most any run not met had, so a lucky
   first batch cannot carry a verdict.
4. *Confirmation*: the staffing is run on fresh replications (other random numbers than the
   search tuned it on); an hour that misses there on its own is raised (1, 2, 4, ... riders
   on failures in a row) and the run repeated.
   Only a confirmed staffing is recommended.

"Fewest" is therefore a local optimum that the search checked: no single hour can lose a rider
and no adjacent exchange lowers the rider-hours, every hour still meeting. Hours with no order
in the measured window (all in warm-up or cool-down) are not judged: they keep the ISA's
staffing. The scenario takes the result as ``[fleet] staffing = [n0, n1, ...]`` (riders on
duty in each whole hour from the period's start); ``staffing_shifts`` turns it into each
rider's spans on duty.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from sim.capacity import PlanError, TargetCheck, check, verdict_of
from sim.kpis import PHASE_SPANS, confidence
from sim.sla import Target

HOUR_S = 3600.0
#: The ISA's delay-probability target: P(an order finds every rider busy) in each hour. Only
#: the refinement's start; the SLA decides the answer.
ISA_ALPHA = 0.05
ISA_MAX_ITERATIONS = 5
HourVerdict = Literal["met", "failed", "undecided", "unmeasured"]
_SPANS = {name: (a, b) for name, a, b in PHASE_SPANS}


def hours_in(period_s: float) -> int:
    """Whole hours a staffing covers (a part hour at the end counts as one)."""
    return max(1, math.ceil(period_s / HOUR_S - 1e-9))


def staffing_shifts(staffing: Sequence[int], period_s: float) -> list[list[tuple[float, float]]]:
    """Each rider's spans on duty, ``(start_s, end_s)`` from the period's start: rider ``i``
    (``0 <= i < max(staffing)``) works hour ``h`` iff ``i < staffing[h]``; consecutive hours
    merge into one span. Hours are whole hours, so for a period of 1.5 h the second hour's
    riders stay until 2 h: the orders of the period's last minutes still find riders."""
    if period_s <= 0:
        raise ValueError(f"period of {period_s:g} s: must be positive")
    hours = hours_in(period_s)
    if len(staffing) != hours:
        raise ValueError(
            f"staffing has {len(staffing)} hour(s) but the period ({period_s / HOUR_S:g} h) "
            f"has {hours}"
        )
    bad = [f"hour {h}: {n}" for h, n in enumerate(staffing) if int(n) != n or n < 0]
    if bad:
        raise ValueError(f"staffing needs whole numbers of riders >= 0 ({', '.join(bad)})")
    out: list[list[tuple[float, float]]] = []
    for i in range(max(staffing, default=0)):
        spans: list[tuple[float, float]] = []
        for h, n in enumerate(staffing):
            if i >= n:
                continue
            start, end = h * HOUR_S, (h + 1) * HOUR_S
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        out.append(spans)
    return out


def rider_hours(staffing: Sequence[int]) -> int:
    """Rider-hours on duty: each hour of a staffing is a whole hour."""
    return sum(int(n) for n in staffing)


# --- measuring one replication, hour by hour ------------------------------------------------


#: Shares of an hour's orders a staffing can be held to (``delivered_share=rate > 95%``
#: keeps a lean hour from looking fast by losing its slowest orders to timeouts).
HOURLY_SHARES = ("delivered_share", "cancellation_rate")


def hourly_kpi(target: Target) -> tuple[str, str]:
    """What an hour's orders estimate for a target: a phase and its statistic (``mean`` or
    ``pNN``), or ``("share", name)`` for a share of the hour's orders; any other target is an
    error naming what can be used."""
    name = target.kpi
    if name in HOURLY_SHARES:
        return "share", name
    if name.endswith("_min"):
        stem, _, stat = name[: -len("_min")].rpartition("_")
        if stem in _SPANS and (stat == "mean" or (stat[:1] == "p" and stat[1:].isdigit())):
            return stem, stat
    raise PlanError(
        f"--sla {target.text}: --staffing hourly measures order times per hour (e.g. "
        "click_to_door=p95 < 40min, wait_for_rider=avg < 2min) and the shares "
        f"{', '.join(HOURLY_SHARES)}, not other shares or utilisation"
    )


def _hour_share(orders: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Per order: does it count towards the share (delivered; cancelled, as ``sim.kpis``)."""
    from sim.kpis import CANCEL_REASONS

    if name == "delivered_share":
        status = np.asarray(orders.column("final_status").to_pylist(), dtype=object)
        return np.asarray(status == "DELIVERED", dtype=bool)
    reason = np.asarray(orders.column("cancel_reason").to_pylist(), dtype=object)
    return np.isin(reason, CANCEL_REASONS)


def _col(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    out: np.ndarray[Any, np.dtype[np.float64]] = (
        table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
    )
    return out


@dataclass
class HourSample:
    """One replication, hour by hour: orders placed, each target KPI over the orders placed
    in the hour inside the measured window (NaN: none), and the ISA's load samples."""

    orders: list[int]
    measured: list[int]  # orders placed in the hour inside the window
    kpis: dict[str, list[float]]
    load: list[np.ndarray[Any, np.dtype[np.float64]]] = field(repr=False)


def measure_hours(
    orders: pa.Table,
    resources: pa.Table | None,
    targets: Sequence[Target],
    hours: int,
) -> HourSample:
    """Per-hour KPIs of one replication from its orders table (``placed`` and the phase
    columns in seconds from the period's start, ``in_window``) and the load
    (``riders_busy + orders_waiting_for_rider``) from its resources samples."""
    placed = _col(orders, "placed")
    hour = np.clip(np.floor(placed / HOUR_S), 0, hours - 1).astype(np.int64)
    window = orders.column("in_window").to_numpy(zero_copy_only=False).astype(bool)
    counts = np.bincount(hour, minlength=hours)[:hours]
    inside = np.bincount(hour[window], minlength=hours)[:hours]
    kpis: dict[str, list[float]] = {}
    for t in targets:
        phase, stat = hourly_kpi(t)
        if phase == "share":
            flags = _hour_share(orders, stat)
            kpis[t.kpi] = [
                float(flags[(hour == h) & window].mean()) if inside[h] else math.nan
                for h in range(hours)
            ]
            continue
        a, b = _SPANS[phase]
        span = (_col(orders, b) - _col(orders, a)) / 60.0
        values: list[float] = []
        for h in range(hours):
            x = span[(hour == h) & window]
            x = x[~np.isnan(x)]
            if not x.size:
                values.append(math.nan)
            elif stat == "mean":
                values.append(float(x.mean()))
            else:
                values.append(float(np.percentile(x, int(stat[1:]))))
        kpis[t.kpi] = values
    load: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    if resources is not None and resources.num_rows:
        ts = _col(resources, "t")
        busy = _col(resources, "riders_busy") + _col(resources, "orders_waiting_for_rider")
        at = np.floor(ts / HOUR_S)
        load = [busy[at == h] for h in range(hours)]
    return HourSample(counts.tolist(), inside.tolist(), kpis, load)


def isa_staffing(load: Sequence[np.ndarray[Any, Any]], alpha: float = ISA_ALPHA) -> list[int]:
    """The ISA step per hour: the smallest ``s`` with ``P(L_h >= s) <= alpha`` over the hour's
    samples (0 for an hour with no samples)."""
    out: list[int] = []
    for samples in load:
        xs = np.sort(np.asarray(samples, dtype=np.float64))
        if not xs.size:
            out.append(0)
            continue
        n = xs.size
        s = 0
        while (n - np.searchsorted(xs, s, side="left")) / n > alpha:
            s += 1
        out.append(s)
    return out


# --- judging a staffing over replications ---------------------------------------------------


@dataclass
class HourResult:
    """One hour under one staffing: its demand, its targets' estimates and verdict."""

    hour: int
    riders: int
    orders: float  # mean orders placed in the hour per replication
    checks: list[TargetCheck]
    verdict: HourVerdict
    riders_needed: int | None = None  # the ISA's staffing from this run's load

    @property
    def met(self) -> bool:
        return self.verdict in ("met", "unmeasured")

    def as_dict(self) -> dict[str, Any]:
        return {
            "hour": self.hour,
            "riders": self.riders,
            "orders": self.orders,
            "verdict": self.verdict,
            "riders_needed": self.riders_needed,
            "targets": [c.as_dict() for c in self.checks],
        }


@dataclass
class StaffingEvaluation:
    """A staffing run over replications, judged hour by hour."""

    staffing: tuple[int, ...]
    hours: list[HourResult]
    replications: int
    first_replication: int = 0
    stage: str = ""
    step: int = 0

    @property
    def met(self) -> bool:
        return all(h.met for h in self.hours)

    @property
    def failing(self) -> list[int]:
        return [h.hour for h in self.hours if not h.met]

    def needed(self) -> list[int] | None:
        if any(h.riders_needed is None for h in self.hours):
            return None
        return [int(h.riders_needed or 0) for h in self.hours]

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "stage": self.stage,
            "staffing": list(self.staffing),
            "replications": self.replications,
            "first_replication": self.first_replication,
            "met": self.met,
            "verdicts": [h.verdict for h in self.hours],
        }


def judge_hours(
    staffing: Sequence[int],
    samples: Sequence[HourSample],
    targets: Sequence[Target],
    level: float,
    alpha: float = ISA_ALPHA,
) -> list[HourResult]:
    """Each hour's verdict over the replications (Student t on the replications' hour KPI,
    clipped to its range, at the two-sided ``level``)."""
    hours = len(staffing)
    have_load = all(len(s.load) == hours for s in samples)
    needed = (
        isa_staffing([np.concatenate([s.load[h] for s in samples]) for h in range(hours)], alpha)
        if have_load and samples
        else None
    )
    out: list[HourResult] = []
    for h in range(hours):
        orders = float(np.mean([s.orders[h] for s in samples])) if samples else 0.0
        measured = any(s.measured[h] for s in samples)
        checks = [
            check(t, confidence([s.kpis[t.kpi][h] for s in samples], level, t.kpi)) for t in targets
        ]
        verdict: HourVerdict = verdict_of(checks) if measured else "unmeasured"
        out.append(
            HourResult(
                h, int(staffing[h]), orders, checks, verdict, None if needed is None else needed[h]
            )
        )
    return out


def sequential_hours(
    staffing: Sequence[int],
    run: Callable[[list[int]], Sequence[HourSample]],
    targets: Sequence[Target],
    *,
    first: int,
    max_replications: int,
    batch: int,
    level: float,
    offset: int = 0,
    fixed: bool = False,
    prior: Sequence[HourSample] = (),
) -> tuple[list[HourResult], list[HourSample]]:
    """Replications ``offset..`` of one staffing (after ``prior``, those it already has) in
    batches until every measured hour's verdict is clear or the cap (``fixed``: exactly
    ``max_replications``, for a confirmation); the hours' results and the samples."""
    n = max_replications if fixed else min(first, max_replications)
    samples = list(prior)
    if len(samples) < n:
        samples += run(list(range(offset + len(samples), offset + n)))
    while True:
        hours = judge_hours(staffing, samples, targets, level)
        clear = all(h.verdict != "undecided" for h in hours)
        if fixed or clear or len(samples) >= max_replications:
            return hours, samples
        more = min(batch, max_replications - len(samples))
        start = offset + len(samples)
        samples += run(list(range(start, start + more)))


# --- the search -----------------------------------------------------------------------------

#: Judges one staffing: ``(staffing, confirm, at_least)``; ``confirm`` asks for fresh
#: replications, ``at_least`` for that many replications at least (asked again with more, it
#: extends the same replications).
StaffingEvaluator = Callable[[tuple[int, ...], bool, int], StaffingEvaluation]


@dataclass
class _Bracket:
    """One hour's search: ``lo`` is the largest staffing seen not to meet (``LO - 1``: none
    below the bounds), ``hi`` the smallest seen to meet; probes gallop from the ISA's value
    (steps 1, 2, 4, ...) in the direction it pointed, then bisect."""

    lo: int
    hi: int
    mode: str = "down"  # "down", "up" or "bisect"
    step: int = 1

    @property
    def done(self) -> bool:
        return self.hi - self.lo <= 1

    def probe(self) -> int:
        if self.done:
            return self.hi
        if self.mode == "down":
            return max(self.lo + 1, self.hi - self.step)
        if self.mode == "up":
            return min(self.hi - 1, self.lo + self.step)
        return (self.lo + self.hi) // 2

    def record(self, value: int, met: bool) -> None:
        """Newest evidence wins (the other hours moved since older evidence)."""
        if met:
            self.hi = value
            self.lo = min(self.lo, value - 1)
        else:
            self.lo = value
            self.hi = max(self.hi, value + 1)

    def update(self, value: int, met: bool) -> None:
        going = self.mode
        self.record(value, met)
        if (going == "down" and met) or (going == "up" and not met):
            self.step *= 2
        else:
            self.mode = "bisect"


@dataclass
class StaffingResult:
    """The search's answer: the confirmed staffing (None: none confirmed inside the bounds),
    every evaluation in order, and per hour whether one rider fewer was seen to fail."""

    staffing: tuple[int, ...] | None
    evaluations: list[StaffingEvaluation]
    final: StaffingEvaluation  # the confirmation (or the run that showed it cannot be met)
    minimal: list[bool]
    isa: list[int] | None
    lo: int
    hi: int
    notes: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return self.staffing is not None


def search_staffing(
    evaluate: StaffingEvaluator,
    hours: int,
    lo: int,
    hi: int,
    *,
    on_evaluation: Callable[[StaffingEvaluation], None] | None = None,
    max_confirmations: int = 8,
) -> StaffingResult:
    """Generous start, ISA, SLA refinement (gallop + bisection, repair, descent, exchange),
    then a confirmation on fresh replications (module docstring). ``evaluate`` may be a fake;
    """
    if hours < 1 or lo < 0 or hi < lo:
        raise PlanError(f"staffing search over {hours} hour(s) needs 0 <= LO <= HI ({lo}:{hi})")
    seen: dict[tuple[int, ...], StaffingEvaluation] = {}
    order: list[StaffingEvaluation] = []

    def run(staffing: Sequence[int], stage: str, confirm: bool = False) -> StaffingEvaluation:
        key = tuple(int(min(hi, max(lo, s))) for s in staffing)
        # the replication floor only rises: a staffing is never judged met on fewer
        # replications than one that was not met (a lucky first batch cannot carry it)
        floor = max((e.replications for e in seen.values() if not e.met), default=0)
        old = seen.get(key)
        if not confirm and old is not None and (not old.met or old.replications >= floor):
            return old
        ev = evaluate(key, confirm, 0 if confirm else floor)
        ev.stage, ev.step = stage, len(order) + 1
        order.append(ev)
        if not confirm:
            seen[key] = ev
        if on_evaluation is not None:
            on_evaluation(ev)
        return ev

    generous = run([hi] * hours, "generous")
    if not generous.met:
        why = [
            f"hour {h} {_why(generous, h)} even with {hi} riders in every hour"
            for h in generous.failing
        ]
        return StaffingResult(None, order, generous, [False] * hours, None, lo, hi, why)
    measured = [h.verdict != "unmeasured" for h in generous.hours]
    brackets = [_Bracket(lo - 1, hi) for _ in range(hours)]
    # 2. the ISA's fixed point, from the generous run's load
    current, isa = generous, generous.needed()
    for _ in range(ISA_MAX_ITERATIONS if isa is not None else 0):
        assert isa is not None
        proposal = [min(hi, max(lo, s)) for s in isa]
        if tuple(proposal) == current.staffing:
            break
        current = run(proposal, "isa")
        _record(brackets, current, measured)
        isa = current.needed() or isa
    fixed = [min(hi, max(lo, s)) for s in (isa if isa is not None else [hi] * hours)]
    trusted = _trusted(current)
    for h, b in enumerate(brackets):
        if measured[h]:
            b.mode = "up" if trusted[h] and not current.hours[h].met else "down"
            b.step = 1
    # 3a. gallop and bisect every measured hour at once
    for _ in range(4 * max(1, math.ceil(math.log2(hi - lo + 2))) + 4):
        if all(b.done for h, b in enumerate(brackets) if measured[h]):
            break
        probe = [b.probe() if measured[h] else fixed[h] for h, b in enumerate(brackets)]
        ev = run(probe, "bisect")
        trusted = _trusted(ev)
        for h, b in enumerate(brackets):
            if not measured[h] or not trusted[h]:
                continue
            if b.done:
                b.record(probe[h], ev.hours[h].met)
            else:
                b.update(probe[h], ev.hours[h].met)
    staffing = [b.hi if measured[h] else fixed[h] for h, b in enumerate(brackets)]
    # 3b. repair: raise the failing hours that fail on their own one rider at a time
    ev = run(staffing, "repair")
    while not ev.met:
        short = _own_failures(ev)
        stuck = [h for h in short if staffing[h] >= hi]
        if stuck:
            why = [f"hour {h} {_why(ev, h)} at {hi} riders given the other hours" for h in stuck]
            return StaffingResult(None, order, ev, [False] * hours, isa, lo, hi, why)
        for h in short:
            staffing[h] += 1
        ev = run(staffing, "repair")
    # 3c. descent and exchange, until neither lowers the rider-hours
    for _ in range(hours * (hi - lo + 1)):
        staffing = _descend(staffing, measured, lo, run)
        better = _exchange(staffing, measured, lo, hi, run)
        if better is None:
            break
        staffing = better
    # 4. confirmation on fresh replications
    notes: list[str] = []
    step = [1] * hours  # per hour: 1, 2, 4, ... riders on each failed confirmation in a row
    for _ in range(max_confirmations):
        final = run(staffing, "confirm", confirm=True)
        if final.met:
            minimal = _minimal(staffing, measured, lo, seen)
            return StaffingResult(tuple(staffing), order, final, minimal, isa, lo, hi, notes)
        raise_ = [h for h in _own_failures(final) if staffing[h] < hi]
        if not raise_:
            break
        for h in range(hours):
            if h not in raise_:
                step[h] = 1
        moves = []
        for h in raise_:
            more = min(step[h], hi - staffing[h])
            staffing[h] += more
            step[h] *= 2
            moves.append(f"hour {h} +{more}")
        notes.append(
            "confirmation not met in hour(s) "
            + ", ".join(str(h) for h in final.failing)
            + f" on fresh replications; raised {', '.join(moves)}"
        )
    notes.append("no staffing was confirmed on fresh replications; none is recommended")
    return StaffingResult(None, order, final, [False] * hours, isa, lo, hi, notes)


Run = Callable[[Sequence[int], str], StaffingEvaluation]


def _descend(staffing: list[int], measured: Sequence[bool], lo: int, run: Run) -> list[int]:
    """Lower each hour as far as every hour still meets, in passes until one lowers nothing
    (so each hour's one-fewer is tried against the others' final values). Each hour gallops
    down 1, 2, 4, ... riders and bisects back, so a city of thousands of riders an hour takes
    a few runs an hour, not one per rider."""
    lowered = True
    while lowered:
        lowered = False
        for h in range(len(staffing)):
            if not measured[h]:
                continue
            k = _lowest(staffing, h, lo, run, "descent")
            if k:
                staffing, lowered = _minus(staffing, h, k), True
    return staffing


def _minus(staffing: Sequence[int], h: int, k: int) -> list[int]:
    return [*staffing[:h], staffing[h] - k, *staffing[h + 1 :]]


def _lowest(base: Sequence[int], h: int, lo: int, run: Run, label: str) -> int:
    """How many riders hour ``h`` of ``base`` can lose with every hour still meeting: gallop
    1, 2, 4, ... then bisect, so ``k + 1`` fewer was run and missed (or hits ``lo``)."""
    good, bad, k = 0, None, 1
    while base[h] - k >= lo:
        if not run(_minus(base, h, k), label).met:
            bad = k
            break
        good, k = k, 2 * k
    if good == 0:
        return 0
    bad = bad if bad is not None else base[h] - lo + 1
    while bad - good > 1:
        mid = (good + bad) // 2
        if run(_minus(base, h, mid), label).met:
            good = mid
        else:
            bad = mid
    return good


def _exchange(
    staffing: list[int],
    measured: Sequence[bool],
    lo: int,
    hi: int,
    run: Run,
) -> list[int] | None:
    """The first adjacent exchange that lowers the rider-hours: one rider more in hour h-1
    (less backlog left for hour h), then hour h lowered as far as every hour still meets
    (``_lowest``); None when no exchange helps."""
    for h in range(1, len(staffing)):
        if not measured[h] or staffing[h - 1] >= hi or staffing[h] <= lo:
            continue
        base = [*staffing[: h - 1], staffing[h - 1] + 1, *staffing[h:]]
        trial = _minus(base, h, _lowest(base, h, lo, run, "exchange"))
        if rider_hours(trial) < rider_hours(staffing):
            return trial
    return None


def _trusted(ev: StaffingEvaluation) -> list[bool]:
    """Which hours' verdicts speak for their own staffing: a met one always (under
    monotonicity a backlog only makes it harder); a missed one only when every earlier hour
    met, since an earlier hour short of riders leaves a backlog that can sink the next."""
    out, clean = [], True
    for h in ev.hours:
        out.append(h.met or clean)
        clean = clean and h.met
    return out


def _why(ev: StaffingEvaluation, hour: int) -> str:
    if ev.hours[hour].verdict == "failed":
        return "misses the SLA"
    return f"is not shown to meet the SLA (undecided after {ev.replications} replications)"


def _own_failures(ev: StaffingEvaluation) -> list[int]:
    """Failing hours whose failure is their own (``_trusted``): raise these first."""
    return [
        h for h, ok in zip(ev.failing, [_trusted(ev)[h] for h in ev.failing], strict=True) if ok
    ]


def _record(brackets: list[_Bracket], ev: StaffingEvaluation, measured: list[bool]) -> None:
    trusted = _trusted(ev)
    for h, b in enumerate(brackets):
        if measured[h] and trusted[h]:
            b.record(ev.staffing[h], ev.hours[h].met)


def _minimal(
    staffing: Sequence[int],
    measured: Sequence[bool],
    lo: int,
    seen: dict[tuple[int, ...], StaffingEvaluation],
) -> list[bool]:
    """Per hour: at the lower bound, or one rider fewer (the others as they are) was run and
    some hour failed. Unmeasured hours keep the ISA's value and are not claimed minimal."""
    out = []
    for h, n in enumerate(staffing):
        if not measured[h]:
            out.append(False)
            continue
        fewer = (*staffing[:h], n - 1, *staffing[h + 1 :])
        out.append(n <= lo or (fewer in seen and not seen[fewer].met))
    return out
