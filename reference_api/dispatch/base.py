"""What every dispatch strategy answers, and the travel-time model they share with the ETA.

The service (``service.dispatching``) is the only caller: it tells a strategy which riders are
free and which orders wait, asks it who takes an order or what a freed rider takes, and, for the
strategies that decide at chosen moments, when to ask next (``due``) and what to assign then
(``decide``). A strategy never touches the store or the clock: it is handed the order and ``now``,
so the same strategy runs in the simulation and in the server, in simulated or wall time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from reference_api.geo import Geometry
from reference_api.model import Order


class Assignment(NamedTuple):
    """A rider and the orders they take, in the sequence they deliver them (a bundle when
    there are several, all from one restaurant)."""

    rider_id: str
    order_ids: tuple[str, ...]


#: Seconds of riding between two points: the ETA's model (D10, D27) itself, so dispatch and the
#: promise a customer sees never disagree about how long a ride takes.
RideTime = Geometry


@dataclass(slots=True)
class DispatchWork:
    """How much deciding a strategy has done: rounds solved and the rider-order pairs it costed.
    Counts, not seconds, so a run's outputs stay the same bytes on every machine."""

    decisions: int = 0
    pairs_costed: int = 0


def ready_estimate(order: Order, now: float) -> float:
    """When the food should be ready: now if it is, else the restaurant's estimate at
    confirmation (``estimated_prep_time``), never earlier than now."""
    if order.ready_at is not None:
        return order.ready_at
    estimate = order.estimated_ready_time
    return now if estimate is None or estimate < now else estimate


class ShiftEnds:
    """When the riders who have one end their shift (D28: a rider picks up nothing after it), and
    the test every strategy applies before giving such a rider an order: the estimated pickup,
    ``max(now + ride there + pickup_lead_s, food ready)``, must not be later. Riders without an
    end are not held here, so while none has one a strategy's only extra work is one truth
    test of this (empty) object."""

    __slots__ = ("_ends", "_lead", "_ride")

    def __init__(self, ride: Geometry, pickup_lead_s: float) -> None:
        self._ride = ride
        self._lead = pickup_lead_s
        self._ends: dict[str, float] = {}

    def __bool__(self) -> bool:
        return bool(self._ends)

    def set(self, rider_id: str, until: float | None) -> None:
        if until is None:
            self._ends.pop(rider_id, None)
        else:
            self._ends[rider_id] = until

    def drop(self, rider_id: str) -> None:
        self._ends.pop(rider_id, None)

    def end(self, rider_id: str) -> float | None:
        return self._ends.get(rider_id)

    @property
    def lead(self) -> float:
        return self._lead

    def in_time(
        self,
        until: float | None,
        lat: float,
        lon: float,
        to_lat: float,
        to_lon: float,
        ready: float,
        now: float,
    ) -> bool:
        """Whether a rider at ``lat, lon`` whose shift ends at ``until`` (None: no end), leaving
        now, picks up food ready at ``ready`` at ``to_lat, to_lon`` by then."""
        if until is None:
            return True
        if now + self._lead > until or ready > until:
            return False  # too late however near: no ride to work out
        arrival = now + self._ride.seconds(lat, lon, to_lat, to_lon) + self._lead
        return max(arrival, ready) <= until

    def expired(self, until: float | None, now: float) -> bool:
        """Whether no order can be given any more to a rider whose shift ends at ``until``:
        even one at the restaurant with the food ready would pick up too late."""
        return until is not None and now + self._lead > until

    def accepting(
        self,
        position: Callable[[str], tuple[float, float] | None],
        to_lat: float,
        to_lon: float,
        ready: float,
        now: float,
    ) -> Callable[[str], bool]:
        """A rider filter for ``GridIndex.nearest``: riders who would pick up in time."""
        ends = self._ends

        def accept(rider_id: str) -> bool:
            until = ends.get(rider_id)
            if until is None:
                return True
            where = position(rider_id)
            assert where is not None
            return self.in_time(until, where[0], where[1], to_lat, to_lon, ready, now)

        return accept


class DispatchStrategy(Protocol):
    """Who takes which order, and when. ``name`` is what scenarios and ``serve --dispatch``
    call it."""

    name: str
    #: True when the strategy decides at moments of its own choosing (``due``/``decide``)
    decides_later: bool
    work: DispatchWork

    def rider_available(
        self, rider_id: str, lat: float, lon: float, until: float | None = None
    ) -> None:
        """The rider is free at ``lat, lon``; ``until``: when their shift ends (None: never),
        after which they pick up nothing (D28)."""
        ...

    def rider_unavailable(self, rider_id: str) -> None: ...

    def order_waiting(self, order: Order, now: float) -> str | None:
        """``order`` needs a rider (confirmed, or ready with none): the available rider to give
        it now, or None when it waits (the strategy then holds it until ``order_gone``)."""
        ...

    def order_gone(self, order_id: str) -> None:
        """The order needs no rider any more (assigned, cancelled); unknown ids are ignored."""
        ...

    def order_for(
        self, rider_id: str, lat: float, lon: float, now: float, until: float | None = None
    ) -> tuple[str, ...]:
        """A rider just became free (their shift ending at ``until``): the waiting orders to give
        them now (empty: none; the service then lists them as available). May name orders that
        ended meanwhile."""
        ...

    def due(self) -> float | None:
        """When ``decide`` should next run (None: only events drive this strategy)."""
        ...

    def decide(self, now: float) -> list[Assignment]:
        """The assignments to make now, at a moment ``due`` asked for."""
        ...

    def waiting_count(self) -> int: ...
