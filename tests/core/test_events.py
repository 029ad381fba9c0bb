"""Domain events: the spec's names and payload fields, in the order things happened, built
only when a sink listens."""

from __future__ import annotations

from reference_api import bootstrap
from reference_api.clock import ManualClock
from reference_api.events import EVENT_TYPES, DomainEvent
from reference_api.fixtures import build_fixtures, seed
from reference_api.model import Order, Rider
from reference_api.roles import SYSTEM_ACTOR
from reference_api.statuses import OrderStatus
from tests.core.conftest import make_world

S = OrderStatus
SPEC_PAYLOAD = {
    "event_type",
    "order_id",
    "order_number",
    "previous_status",
    "new_status",
    "status_name",
    "timestamp",
    "updated_by",
}


def test_event_names_are_the_specs() -> None:
    assert set(EVENT_TYPES) == {
        "order.status_changed",
        "order.assigned",
        "order.ready_for_pickup",
        "order.picked_up",
        "order.out_for_delivery",
        "order.delivered",
        "order.cancelled",
    }


def test_full_journey_emits_events_in_order() -> None:
    w = make_world()
    oid = w.at(S.DELIVERED)
    seq = [(e.event_type, e.previous_status, e.new_status) for e in w.events]
    assert seq == [
        ("order.status_changed", "ORDER_PLACED", "ORDER_CONFIRMED"),
        ("order.assigned", "ORDER_CONFIRMED", "ORDER_CONFIRMED"),
        ("order.status_changed", "ORDER_CONFIRMED", "PREPARING"),
        ("order.status_changed", "PREPARING", "READY_FOR_PICKUP"),
        ("order.ready_for_pickup", "PREPARING", "READY_FOR_PICKUP"),
        ("order.status_changed", "READY_FOR_PICKUP", "ORDER_PICKED_UP"),
        ("order.picked_up", "READY_FOR_PICKUP", "ORDER_PICKED_UP"),
        ("order.status_changed", "ORDER_PICKED_UP", "OUT_FOR_DELIVERY"),
        ("order.out_for_delivery", "ORDER_PICKED_UP", "OUT_FOR_DELIVERY"),
        ("order.status_changed", "OUT_FOR_DELIVERY", "DELIVERED"),
        ("order.delivered", "OUT_FOR_DELIVERY", "DELIVERED"),
    ]
    assert all(e.order_id == oid for e in w.events)


class _Watcher:
    """An ``events.Observer`` that keeps what it is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    def moved(self, order: Order, previous: OrderStatus, now: float) -> None:
        self.seen.append(("moved", previous.value, order.status.value))

    def assigned(self, order: Order, rider: Rider, now: float) -> None:
        assert order.rider_id == rider.id
        self.seen.append(("assigned", order.status.value, rider.id))


def test_observers_see_the_same_changes_as_sinks_with_the_aggregate() -> None:
    w = make_world()
    watcher = _Watcher()
    w.svc.observers.append(watcher)
    oid = w.at(S.DELIVERED)
    rider = w.order(oid).rider_id
    assert rider is not None
    expected = [
        ("assigned", e.new_status, rider)
        if e.event_type == "order.assigned"
        else ("moved", e.previous_status, e.new_status)
        for e in w.events
        if e.event_type in ("order.status_changed", "order.assigned")
    ]
    assert watcher.seen == expected
    assert watcher.seen[:2] == [
        ("moved", "ORDER_PLACED", "ORDER_CONFIRMED"),
        ("assigned", "ORDER_CONFIRMED", rider),
    ]


def test_payload_carries_the_spec_fields() -> None:
    w = make_world()
    oid = w.place()
    w.clock.advance(300)
    w.svc.confirm(w.restaurant(0), oid)
    payload = w.events[0].to_payload()
    assert set(payload) == SPEC_PAYLOAD
    assert payload == {
        "event_type": "order.status_changed",
        "order_id": oid,
        "order_number": w.order(oid).order_number,
        "previous_status": "ORDER_PLACED",
        "new_status": "ORDER_CONFIRMED",
        "status_name": "Order Confirmed",
        "timestamp": "2024-01-15T10:05:00Z",
        "updated_by": "Pizza Palace",
    }
    assigned = w.events[1].to_payload()
    assert set(assigned) > SPEC_PAYLOAD
    assert assigned["delivery_person"] == w.order(oid).rider_id


def test_cancel_and_rider_location_events() -> None:
    w = make_world()
    oid = w.at(S.OUT_FOR_DELIVERY)
    w.events.clear()
    w.svc.update_rider_location(w.rider_of(oid), latitude=19.08, longitude=72.88)
    (moved,) = w.events
    assert moved.event_type == "order.location_updated"
    assert moved.to_payload()["delivery_person_location"] == {
        "latitude": "19.080000",
        "longitude": "72.880000",
    }
    w.events.clear()
    w.svc.cancel(SYSTEM_ACTOR, oid, reason="Accident")
    assert [e.event_type for e in w.events] == ["order.status_changed", "order.cancelled"]
    assert w.events[1].updated_by == "System"


def test_no_sink_no_events_but_same_outcome() -> None:
    def run(sinks: list[object]) -> list[str]:
        clock = ManualClock()
        svc = bootstrap(clock=clock, seed=5, sinks=sinks)  # type: ignore[arg-type]
        fx = build_fixtures(vendors=1, customers=1, riders=1)
        seed(svc, fx)
        oid = svc.place_order(
            fx.customers[0],
            vendor_id=fx.vendors[0].id,
            items=[{"name": "x", "quantity": 1, "unit_price": "5.00"}],
            delivery_address={"latitude": 19.07, "longitude": 72.87},
        )["id"]
        svc.confirm(fx.restaurants[0], oid)
        return [str(e) for e in svc.history(SYSTEM_ACTOR, oid)["history"]]

    got: list[DomainEvent] = []
    assert run([]) == run([got.append])
    assert len(got) == 2
