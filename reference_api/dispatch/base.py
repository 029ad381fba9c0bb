"""What every dispatch strategy answers, and the travel-time model they share with the ETA.

The service (``service.dispatching``) is the only caller: it tells a strategy which riders are
free and which orders wait, asks it who takes an order or what a freed rider takes, and, for the
strategies that decide at chosen moments, when to ask next (``due``) and what to assign then
(``decide``). A strategy never touches the store or the clock: it is handed the order and ``now``,
so the same strategy runs in the simulation and in the server, in simulated or wall time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol

from reference_api.geo import haversine_km, travel_seconds
from reference_api.model import Order


class Assignment(NamedTuple):
    """A rider and the orders they take, in the sequence they deliver them (a bundle when
    there are several, all from one restaurant)."""

    rider_id: str
    order_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RideTime:
    """Seconds of riding between two points: the ETA's model (D10), so dispatch and the promise
    a customer sees never disagree about how long a ride takes."""

    speed_kmh: float = 20.0
    detour_factor: float = 1.3

    def seconds(self, lat1: float, lon1: float, lat2: float, lon2: float) -> float:
        km = haversine_km(lat1, lon1, lat2, lon2)
        return travel_seconds(km, self.speed_kmh, self.detour_factor)


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


class DispatchStrategy(Protocol):
    """Who takes which order, and when. ``name`` is what scenarios and ``serve --dispatch``
    call it."""

    name: str
    #: True when the strategy decides at moments of its own choosing (``due``/``decide``)
    decides_later: bool
    work: DispatchWork

    def rider_available(self, rider_id: str, lat: float, lon: float) -> None: ...
    def rider_unavailable(self, rider_id: str) -> None: ...

    def order_waiting(self, order: Order, now: float) -> str | None:
        """``order`` needs a rider (confirmed, or ready with none): the available rider to give
        it now, or None when it waits (the strategy then holds it until ``order_gone``)."""
        ...

    def order_gone(self, order_id: str) -> None:
        """The order needs no rider any more (assigned, cancelled); unknown ids are ignored."""
        ...

    def order_for(self, rider_id: str, lat: float, lon: float, now: float) -> tuple[str, ...]:
        """A rider just became free: the waiting orders to give them now (empty: none; the
        service then lists them as available). May name orders that ended meanwhile."""
        ...

    def due(self) -> float | None:
        """When ``decide`` should next run (None: only events drive this strategy)."""
        ...

    def decide(self, now: float) -> list[Assignment]:
        """The assignments to make now, at a moment ``due`` asked for."""
        ...

    def waiting_count(self) -> int: ...
