"""The in-process API: one method per endpoint of the spec, plus checkout, payment and rider
updates, which the spec implies but does not define. Each takes the acting user and returns the
spec's response shape as plain data; errors are typed (``reference_api.errors``).

The simulation calls this directly at SimPy time; the HTTP app is a thin adapter over it.
Clock, randomness, store, dispatch policy and event sinks are injected (see ``bootstrap``).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from reference_api import events as ev
from reference_api import otp as otp_rules
from reference_api.clock import Clock, iso
from reference_api.dispatch import DispatchPolicy, NearestRiderDispatch
from reference_api.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    OtpNotIssued,
    Throttled,
    ValidationFailed,
)
from reference_api.geo import haversine_km, travel_seconds
from reference_api.model import (
    Address,
    Order,
    OrderItem,
    OtpRecord,
    Refund,
    Rider,
    Timer,
    TrackingEntry,
    User,
    Vendor,
    uuid4_text,
)
from reference_api.money import order_totals, to_money
from reference_api.permissions import (
    ACTION_ROLES,
    CANCEL_FROM,
    OTP_READERS,
    OTP_RESENDERS,
    REASON_REQUIRED,
    TARGET_ACTION,
    can_see,
)
from reference_api.policy import Policy
from reference_api.presenters import coord, order_detail, order_summary, tracking_entry
from reference_api.roles import SYSTEM_ACTOR, Actor, Role
from reference_api.statuses import (
    ACTIVE,
    AWAITING_CONFIRMATION,
    CANCELLED_LINEAGE,
    DELIVERY_PARTNER_ASSIGNED,
    DISPATCHABLE,
    DISPLAY_NAMES,
    TRANSITIONS,
    OrderStatus,
    parse_status,
)
from reference_api.store.base import OrderQuery, Store

S = OrderStatus
MAX_PAGE_SIZE = 100
PAYMENT_METHODS = ("cod", "online")

# Timer kinds
CONFIRM_TIMEOUT = "confirm_timeout"
PAYMENT_TIMEOUT = "payment_timeout"
PICKUP_TIMEOUT = "pickup_timeout"
REFUND_STEP = "refund_step"

TimerListener = Callable[[float], None]

#: The rule timer armed while an order sits in a status; leaving the status disarms it (the rule
#: can no longer apply, so the store drops it rather than keep it until it would fire for nothing).
TIMER_WHILE: dict[OrderStatus, str] = {
    OrderStatus.PAYMENT_PENDING: PAYMENT_TIMEOUT,
    OrderStatus.ORDER_PLACED: CONFIRM_TIMEOUT,
    OrderStatus.PAYMENT_SUCCESS: CONFIRM_TIMEOUT,
    OrderStatus.READY_FOR_PICKUP: PICKUP_TIMEOUT,
}
_R = TypeVar("_R")

#: RFC 4122 version-4 bits: clear version nibble and variant bits, then set 4 and 0b10.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)


class OrderService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        rng: random.Random,
        *,
        policy: Policy | None = None,
        otp_secret: bytes,
        dispatch: DispatchPolicy | None = None,
        sinks: Iterable[ev.EventSink] = (),
    ) -> None:
        self.store = store
        self.clock = clock
        self.rng = rng
        self.policy = policy or Policy()
        self.codec = otp_rules.OtpCodec(otp_secret)
        self.dispatch: DispatchPolicy = dispatch or NearestRiderDispatch()
        self.sinks: list[ev.EventSink] = list(sinks)
        self.timer_listeners: list[TimerListener] = []
        #: in-process watchers handed the aggregate itself (see ``events.Observer``)
        self.observers: list[ev.Observer] = []
        self._rebuild_dispatch()

    # ------------------------------------------------------------------ fixtures (admin)
    def add_vendor(self, vendor: Vendor) -> None:
        with self.store.transaction():
            self.store.add_vendor(vendor)
            if self.store.get_user(vendor.owner_user_id) is None:
                self.store.add_user(User(vendor.owner_user_id, vendor.name, Role.RESTAURANT.value))

    def add_user(self, user: User) -> None:
        with self.store.transaction():
            self.store.add_user(user)
            if user.role == Role.RIDER.value and self.store.get_rider(user.id) is None:
                self.store.save_rider(Rider(user.id, user.name))

    def _rebuild_dispatch(self) -> None:
        """Dispatch state is derived: rebuild it from the store (e.g. after a server restart)."""
        for rider in self.store.riders():
            if rider.dispatchable:
                assert rider.latitude is not None and rider.longitude is not None
                self.dispatch.rider_available(rider.id, rider.latitude, rider.longitude)
        for order in self.store.orders_waiting_for_rider():
            self.dispatch.order_waiting(order.id, order.restaurant_lat, order.restaurant_lon)

    # ------------------------------------------------------------------ helpers
    def _uuid(self) -> str:
        """``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, formatted by hand: the same
        string from the same draw, about four times cheaper (a journey draws nine)."""
        return uuid4_text((self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_V4)

    @staticmethod
    def _authorize(actor: Actor, action: str) -> None:
        if actor.role not in ACTION_ROLES[action]:
            allowed = ", ".join(sorted(r.value for r in ACTION_ROLES[action]))
            raise Forbidden(f"role {actor.role.value!r} may not {action}; allowed: {allowed}")

    def _visible(self, actor: Actor, order_id: str) -> Order:
        order = self.store.get_order(order_id)
        if order is None or not can_see(actor, order):
            raise NotFound(f"order {order_id} not found")
        return order

    def _add_timer(self, due: float, kind: str, order_id: str) -> None:
        self.store.add_timer(Timer(due, kind, order_id))
        for listener in self.timer_listeners:
            listener(due)

    def _emit(self, event: ev.DomainEvent) -> None:
        for sink in self.sinks:
            sink(event)

    def _track(
        self,
        order: Order,
        status: str,
        description: str,
        actor: Actor,
        metadata: dict[str, Any] | None,
    ) -> TrackingEntry:
        return self._track_at(order, status, description, actor, metadata, self.clock.now())

    def _track_at(
        self,
        order: Order,
        status: str,
        description: str,
        actor: Actor,
        metadata: dict[str, Any] | None,
        now: float,
    ) -> TrackingEntry:
        """``_track`` at a time the caller already read from the clock (the hot paths). The entry
        keeps ``metadata`` itself: callers pass a dict built for it, never one a client holds."""
        # One draw per history entry, as ``_uuid``; the text is formatted when first read.
        entry = TrackingEntry(
            (self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_V4,
            status,
            description,
            now,
            actor.display,
            actor.role._value_,
            actor.user_id,
            metadata or None,  # a dict the service built for this entry (see ``_move``)
        )
        order.history.append(entry)
        return entry

    def _move(
        self,
        order: Order,
        target: OrderStatus,
        actor: Actor,
        description: str,
        metadata: dict[str, Any] | None = None,
    ) -> TrackingEntry:
        """The only place a status changes: table check, history, events, side effects."""
        previous = order.status
        if target not in TRANSITIONS[previous]:
            allowed = ", ".join(sorted(TRANSITIONS[previous])) or "none (terminal)"
            raise InvalidTransition(
                f"cannot move order {order.order_number} from {previous.value} to "
                f"{target.value}; allowed next: {allowed}"
            )
        if target is S.ORDER_PICKED_UP and order.rider_id is None:
            raise Conflict(
                f"order {order.order_number} has no delivery partner assigned yet; "
                "it cannot be picked up"
            )
        now = self.clock.now()
        order.status = target
        order.version += 1
        # ``_value_`` rather than ``.value``: the enum property costs a Python call, and this
        # path runs on every transition.
        entry = self._track_at(order, target._value_, description, actor, metadata, now)
        if self.sinks:
            # Before the side effects, so watchers see "confirmed" before "assigned" and
            # "delivered" before the freed rider's next assignment.
            name = DISPLAY_NAMES[target]
            base = (order.id, order.order_number, previous._value_, target._value_, name, now)
            self._emit(ev.DomainEvent(ev.STATUS_CHANGED, *base, actor.display))
            specific = ev.SPECIFIC_EVENT.get(target)
            if specific is not None:
                self._emit(ev.DomainEvent(specific, *base, actor.display))
        for observer in self.observers:
            observer.moved(order, previous, now)
        armed = TIMER_WHILE.get(previous)
        if armed is not None and TIMER_WHILE.get(target) != armed:
            self.store.cancel_timer(order.id, armed)
        self._after_move(order, previous, target, actor, now)
        self.store.save_order(order)
        return entry

    def _after_move(
        self, order: Order, previous: OrderStatus, target: OrderStatus, actor: Actor, now: float
    ) -> None:
        policy = self.policy
        if target is S.ORDER_CONFIRMED:
            order.confirmed_at = now
            self._try_assign(order)
        elif target is S.READY_FOR_PICKUP:
            order.ready_at = now
            self._issue_otp(order, "pickup", now)
            self._add_timer(now + policy.pickup_timeout_s, PICKUP_TIMEOUT, order.id)
            if order.rider_id is None:
                self._try_assign(order)
        elif target is S.ORDER_PICKED_UP:
            order.picked_up_at = now
            order.delivery_status = "picked_up"
        elif target is S.OUT_FOR_DELIVERY:
            order.delivery_status = "out_for_delivery"
            self._issue_otp(order, "delivery", now)
        elif target is S.DELIVERED:
            order.delivered_at = now
            order.delivery_status = "delivered"
            if order.payment_method == "cod":
                order.payment_status = "paid"
            self._release_rider(order)
        elif target is S.PAYMENT_SUCCESS:
            order.payment_status = "paid"
            self._add_timer(now + policy.confirm_timeout_s, CONFIRM_TIMEOUT, order.id)
        elif target is S.PAYMENT_FAILED:
            order.payment_status = "failed"
        elif target is S.CANCELLED or target is S.RESTAURANT_REJECTED:
            order.cancelled_at = now
            order.cancelled_by = actor.role._value_
            if previous in DISPATCHABLE and order.rider_id is None:
                self.dispatch.order_gone(order.id)
            if order.rider_id is not None:
                order.delivery_status = "cancelled"
                self._release_rider(order)
            if order.payment_status == "paid" and order.payment_method == "online":
                order.refund = Refund(self._uuid(), order.total_amount, "pending", now, now)
                self._add_timer(now + policy.refund_processing_delay_s, REFUND_STEP, order.id)
        elif target is S.REFUND_COMPLETED:
            order.payment_status = "refunded"

    # ------------------------------------------------------------------ dispatch
    def _try_assign(self, order: Order) -> None:
        """Only from ``_after_move``, whose ``_move`` saves the order right after."""
        rider_id = self.dispatch.rider_for(order.restaurant_lat, order.restaurant_lon)
        if rider_id is None:
            self.dispatch.order_waiting(order.id, order.restaurant_lat, order.restaurant_lon)
            return
        rider = self.store.get_rider(rider_id)
        assert rider is not None, f"dispatch index names unknown rider {rider_id}"
        self._assign(order, rider, save=False)

    def _assign(self, order: Order, rider: Rider, *, save: bool = True) -> None:
        """``save=False`` when the caller saves ``order`` right after (a move in progress) and
        nothing can look in between (no event sinks)."""
        self.dispatch.rider_unavailable(rider.id)
        self.dispatch.order_gone(order.id)
        order.rider_id = rider.id
        order.rider_name = rider.name
        order.delivery_status = "assigned"
        rider.current_order_id = order.id
        self.store.save_rider(rider)
        meta = {"delivery_person": rider.id, "delivery_person_name": rider.name}
        now = self.clock.now()
        self._track_at(
            order, DELIVERY_PARTNER_ASSIGNED, "Delivery partner assigned", SYSTEM_ACTOR, meta, now
        )
        if save or self.sinks:  # a sink may read the store before ``_move`` saves
            self.store.save_order(order)
        if self.sinks:
            status = order.status.value
            self._emit(
                ev.DomainEvent(
                    ev.ASSIGNED,
                    order.id,
                    order.order_number,
                    status,
                    status,
                    DISPLAY_NAMES[order.status],
                    now,
                    SYSTEM_ACTOR.display,
                    meta,
                )
            )
        for observer in self.observers:
            observer.assigned(order, rider, now)

    def _release_rider(self, order: Order) -> None:
        assert order.rider_id is not None
        rider = self.store.get_rider(order.rider_id)
        if rider is None or rider.current_order_id != order.id:
            return
        rider.current_order_id = None
        self.store.save_rider(rider)
        self._offer_rider(rider)

    def _offer_rider(self, rider: Rider) -> None:
        """A rider became free: give them the next waiting order, or index them as available."""
        if not rider.dispatchable:
            return
        assert rider.latitude is not None and rider.longitude is not None
        order_id = self.dispatch.order_for(rider.id, rider.latitude, rider.longitude)
        if order_id is not None:
            order = self.store.get_order(order_id)
            if order is not None and order.rider_id is None and order.status in DISPATCHABLE:
                self._assign(order, rider)
                return
            self.dispatch.order_gone(order_id)
            self._offer_rider(rider)
            return
        self.dispatch.rider_available(rider.id, rider.latitude, rider.longitude)

    # ------------------------------------------------------------------ OTPs
    def _issue_otp(self, order: Order, otp_type: str, now: float) -> OtpRecord:
        nonce = f"{self.rng.getrandbits(64):016x}"
        ttl = (
            self.policy.pickup_otp_ttl_s if otp_type == "pickup" else self.policy.delivery_otp_ttl_s
        )
        old = order.otps.get(otp_type)
        record = OtpRecord(otp_type, nonce, now, now + ttl)
        if old is not None:
            record.resends = old.resends + 1
        order.otps[otp_type] = record
        return record

    def _otp_record(self, order: Order, otp_type: str) -> OtpRecord:
        record = order.otps.get(otp_type)
        if record is None:
            when = "marked ready" if otp_type == "pickup" else "out for delivery"
            raise OtpNotIssued(
                f"no {otp_type} OTP for order {order.order_number} yet: it is issued when the "
                f"order is {when} (status now {order.status.value})"
            )
        return record

    def _check_otp(self, order: Order, otp_type: str, candidate: object) -> OtpRecord:
        code = otp_rules.validate_format(candidate)
        record = self._otp_record(order, otp_type)
        try:
            otp_rules.check(
                self.codec, order.id, record, code, self.clock.now(), self.policy.otp_max_attempts
            )
        except Exception:
            self.store.save_order(order)  # keep the counted attempt
            raise
        return record

    @staticmethod
    def _otp_type(value: object) -> str:
        if value not in otp_rules.OTP_TYPES:
            raise ValidationFailed(
                f"type: expected 'pickup' or 'delivery', got {value!r}", field="type"
            )
        return str(value)

    # ------------------------------------------------------------------ checkout (extension)
    def place_order(
        self,
        actor: Actor,
        *,
        vendor_id: str,
        items: list[Mapping[str, Any]],
        delivery_address: Mapping[str, Any],
        payment_method: str = "cod",
    ) -> dict[str, Any]:
        return self._place_order(
            actor, vendor_id, items, delivery_address, payment_method, order_detail
        )

    def place_order_id(
        self,
        actor: Actor,
        *,
        vendor_id: str,
        items: list[Mapping[str, Any]],
        delivery_address: Mapping[str, Any],
        payment_method: str = "cod",
    ) -> str:
        """``place_order`` without the response document: the same checks, rules and effects,
        returning only the new order's id. For in-process callers that read nothing else (the
        simulation places a million orders a run); the HTTP layer uses ``place_order``."""
        return self._place_order(actor, vendor_id, items, delivery_address, payment_method, _id)

    def _place_order(
        self,
        actor: Actor,
        vendor_id: str,
        items: list[Mapping[str, Any]],
        delivery_address: Mapping[str, Any],
        payment_method: str,
        render: Callable[[Order], _R],
    ) -> _R:
        self._authorize(actor, "place_order")
        lines = _parse_items(items)
        address = _parse_address(delivery_address)
        if payment_method not in PAYMENT_METHODS:
            raise ValidationFailed(
                f"payment_method: expected 'cod' or 'online', got {payment_method!r}",
                field="payment_method",
            )
        with self.store.transaction():
            vendor = self.store.get_vendor(vendor_id)
            if vendor is None:
                raise NotFound(f"vendor {vendor_id} not found", field="vendor")
            now = self.clock.now()
            policy = self.policy
            subtotal, fee, tax, total = order_totals(
                tuple([(ln.quantity, ln.unit_price) for ln in lines]),
                policy.delivery_fee,
                policy.tax_rate,
            )
            number = self._order_number()
            online = payment_method == "online"
            order = Order(
                id=self._uuid(),
                order_number=number,
                customer_id=actor.user_id,
                customer_name=actor.display,
                vendor_id=vendor.id,
                vendor_name=vendor.name,
                status=S.PAYMENT_PENDING if online else S.ORDER_PLACED,
                items=lines,
                address=address,
                restaurant_lat=vendor.latitude,
                restaurant_lon=vendor.longitude,
                subtotal=subtotal,
                delivery_fee=fee,
                tax_amount=tax,
                total_amount=total,
                payment_method=payment_method,
                payment_status="pending",
                placed_at=now,
                estimated_delivery_time=now + self._promise_seconds(vendor, address),
            )
            self._track_at(
                order, S.ORDER_PLACED._value_, "Order placed by customer", actor, None, now
            )
            if online:
                self._track_at(
                    order, S.PAYMENT_PENDING._value_, "Awaiting online payment", actor, None, now
                )
                self._add_timer(now + policy.payment_timeout_s, PAYMENT_TIMEOUT, order.id)
            else:
                self._add_timer(now + policy.confirm_timeout_s, CONFIRM_TIMEOUT, order.id)
            self.store.add_order(order)
            return render(order)

    def _order_number(self) -> str:
        while True:
            number = f"ORD{self.rng.randrange(10_000_000, 100_000_000)}"
            if not self.store.order_number_exists(number):
                return number

    def _promise_seconds(self, vendor: Vendor, address: Address) -> float:
        p = self.policy
        km = haversine_km(vendor.latitude, vendor.longitude, address.latitude, address.longitude)
        ride = travel_seconds(km, p.rider_speed_kmh, p.detour_factor)
        return p.confirm_allowance_s + p.default_prep_minutes * 60 + ride + p.handover_s

    # ------------------------------------------------------------------ reads
    def get_order(self, actor: Actor, order_id: str) -> dict[str, Any]:
        with self.store.transaction():
            return order_detail(self._visible(actor, order_id))

    def list_orders(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        include_cancelled: bool = False,
        page: int = 1,
        page_size: int = 20,
    ) -> dict[str, Any]:
        """Pagination as numbers here; the HTTP adapter turns them into links."""
        for name, value in (("page", page), ("page_size", page_size)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationFailed(f"{name}: expected an integer, got {value!r}", field=name)
        if not isinstance(include_cancelled, bool):
            raise ValidationFailed(
                f"include_cancelled: expected true or false, got {include_cancelled!r}",
                field="include_cancelled",
            )
        if status is not None and not isinstance(status, str):
            raise ValidationFailed(f"status: expected a string, got {status!r}", field="status")
        if page < 1:
            raise ValidationFailed(f"page: must be >= 1, got {page}", field="page")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationFailed(
                f"page_size: must be between 1 and {MAX_PAGE_SIZE}, got {page_size}",
                field="page_size",
            )
        wanted = None
        if status is not None:
            try:
                wanted = parse_status(status)
            except ValueError as exc:
                raise ValidationFailed(f"status: {exc}", field="status") from None
        role = actor.role
        query = OrderQuery(
            customer_id=actor.user_id if role is Role.CUSTOMER else None,
            vendor_id=(actor.vendor_id or "-") if role is Role.RESTAURANT else None,
            rider_id=actor.user_id if role is Role.RIDER else None,
            status=wanted,
            exclude=frozenset() if include_cancelled or wanted else CANCELLED_LINEAGE,
            offset=(page - 1) * page_size,
            limit=page_size,
        )
        with self.store.transaction():
            count, orders = self.store.query_orders(query)
            return {
                "count": count,
                "next": page + 1 if page * page_size < count else None,
                "previous": page - 1 if page > 1 else None,
                "results": [order_summary(o) for o in orders],
            }

    def history(self, actor: Actor, order_id: str) -> dict[str, Any]:
        with self.store.transaction():
            order = self._visible(actor, order_id)
            return {
                "order_id": order.id,
                "order_number": order.order_number,
                "history": [tracking_entry(e) for e in order.history],
            }

    def restaurant_queue(self, actor: Actor) -> dict[str, Any]:
        self._authorize(actor, "restaurant_queue")
        with self.store.transaction():
            orders = self.store.vendor_queue(actor.vendor_id or "-")
            return {"count": len(orders), "orders": [order_summary(o) for o in orders]}

    def available_orders(self, actor: Actor) -> dict[str, Any]:
        """Orders waiting for a rider (confirmed, not yet assigned), oldest first."""
        self._authorize(actor, "available_orders")
        with self.store.transaction():
            orders = self.store.orders_waiting_for_rider()
            results = []
            for o in orders:
                item = order_summary(o)
                item["restaurant_latitude"] = coord(o.restaurant_lat)
                item["restaurant_longitude"] = coord(o.restaurant_lon)
                results.append(item)
            return {"count": len(results), "orders": results}

    def eta(self, actor: Actor, order_id: str) -> dict[str, Any]:
        with self.store.transaction():
            order = self._visible(actor, order_id)
            rider = self.store.get_rider(order.rider_id) if order.rider_id else None
            now = self.clock.now()
            eta_at = self._current_eta(order, rider, now)
            rider_loc = None
            if rider is not None and rider.latitude is not None and order.status in ACTIVE:
                rider_loc = {"latitude": coord(rider.latitude), "longitude": coord(rider.longitude)}
            return {
                "order_id": order.id,
                "estimated_delivery_time": iso(order.estimated_delivery_time),
                "current_eta_minutes": (
                    None if eta_at is None else max(0, math.ceil((eta_at - now) / 60))
                ),
                "status": order.status.value,
                "delivery_person_location": rider_loc,
                "customer_location": {
                    "latitude": coord(order.address.latitude),
                    "longitude": coord(order.address.longitude),
                },
            }

    def _current_eta(self, order: Order, rider: Rider | None, now: float) -> float | None:
        """ETA from where things stand (D10): remaining prep, the rider's leg to the restaurant,
        then the ride to the customer, from the rider's last reported position when known."""
        p = self.policy
        status = order.status
        if status not in ACTIVE:
            return None

        def ride(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
            return travel_seconds(
                haversine_km(lat1, lon1, lat2, lon2), p.rider_speed_kmh, p.detour_factor
            )

        addr = order.address
        to_customer = ride(
            order.restaurant_lat, order.restaurant_lon, addr.latitude, addr.longitude
        )
        located = rider is not None and rider.latitude is not None
        if status in (S.ORDER_PICKED_UP, S.OUT_FOR_DELIVERY):
            if located:
                assert rider is not None and rider.latitude is not None
                assert rider.longitude is not None
                return now + ride(rider.latitude, rider.longitude, addr.latitude, addr.longitude)
            return now + to_customer
        if status in AWAITING_CONFIRMATION or status is S.PAYMENT_PENDING:
            return now + p.confirm_allowance_s + p.default_prep_minutes * 60 + to_customer
        ready_at = (
            now if status is S.READY_FOR_PICKUP else max(now, order.estimated_ready_time or now)
        )
        rider_leg = 0.0
        if located:
            assert rider is not None and rider.latitude is not None
            assert rider.longitude is not None
            rider_leg = ride(
                rider.latitude, rider.longitude, order.restaurant_lat, order.restaurant_lon
            )
        return max(ready_at, now + rider_leg) + to_customer

    # ------------------------------------------------------------------ restaurant actions
    def confirm(
        self,
        actor: Actor,
        order_id: str,
        *,
        estimated_prep_time: object = None,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._authorize(actor, "confirm")
        prep = _parse_prep(estimated_prep_time, self.policy.default_prep_minutes)
        with self.store.transaction():
            order = self._visible(actor, order_id)
            self._require_transition(order, S.ORDER_CONFIRMED)
            order.prep_minutes = prep
            order.estimated_ready_time = self.clock.now() + prep * 60
            meta = {"estimated_prep_time": prep, **(metadata or {})}
            self._move(
                order, S.ORDER_CONFIRMED, actor, reason or "Restaurant confirmed order", meta
            )
            result = _action_result(order, "Order confirmed successfully")
            result["estimated_ready_time"] = iso(order.estimated_ready_time)
            return result

    def reject(self, actor: Actor, order_id: str, *, reason: object) -> dict[str, Any]:
        """Extension: the restaurant declines an order it has not confirmed (D3)."""
        self._authorize(actor, "reject")
        text = _require_reason(reason)
        with self.store.transaction():
            order = self._visible(actor, order_id)
            self._require_transition(order, S.RESTAURANT_REJECTED)
            order.cancel_reason = text
            self._move(
                order,
                S.RESTAURANT_REJECTED,
                actor,
                f"Rejected by restaurant: {text}",
                {"reason": text},
            )
            return {
                **_action_result(order, "Order rejected"),
                "refund_status": None if order.refund is None else order.refund.status,
            }

    def start_preparing(
        self,
        actor: Actor,
        order_id: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._authorize(actor, "start_preparing")
        with self.store.transaction():
            order = self._visible(actor, order_id)
            self._move(
                order,
                S.PREPARING,
                actor,
                reason or "Restaurant started preparing order",
                dict(metadata) if metadata else None,
            )
            return _action_result(order, "Order preparation started")

    def mark_ready(
        self,
        actor: Actor,
        order_id: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._authorize(actor, "mark_ready")
        with self.store.transaction():
            order = self._visible(actor, order_id)
            self._move(
                order,
                S.READY_FOR_PICKUP,
                actor,
                reason or "Order ready for pickup",
                dict(metadata) if metadata else None,
            )
            assert order.ready_at is not None
            result = _action_result(order, "Order marked ready for pickup")
            result["ready_time"] = iso(order.ready_at)
            return result

    # ------------------------------------------------------------------ payment (extension)
    def record_payment(
        self, actor: Actor, order_id: str, *, success: bool, reference: str | None = None
    ) -> dict[str, Any]:
        """The payment gateway's callback (role system): PAYMENT_PENDING -> SUCCESS | FAILED."""
        self._authorize(actor, "record_payment")
        with self.store.transaction():
            order = self._visible(actor, order_id)
            target = S.PAYMENT_SUCCESS if success else S.PAYMENT_FAILED
            meta = {"transaction_id": reference} if reference else None
            desc = "Payment received" if success else "Payment failed"
            self._move(order, target, actor, desc, meta)
            return _action_result(order, desc)

    # ------------------------------------------------------------------ rider actions
    def _rider_order(self, actor: Actor, order_id: str) -> Order:
        order = self._visible(actor, order_id)
        if actor.role is Role.RIDER and order.rider_id != actor.user_id:
            raise NotFound(f"order {order_id} not found")
        return order

    def pickup(self, actor: Actor, order_id: str, *, otp: object) -> dict[str, Any]:
        self._authorize(actor, "pickup")
        with self.store.transaction():
            order = self._rider_order(actor, order_id)
            self._require_transition(order, S.ORDER_PICKED_UP)
            record = self._check_otp(order, "pickup", otp)
            record.consumed = True
            self._move(
                order,
                S.ORDER_PICKED_UP,
                actor,
                "Order picked up by delivery partner",
                {"otp_verified": True},
            )
            return _action_result(order, "Order picked up successfully")

    def start_delivery(self, actor: Actor, order_id: str) -> dict[str, Any]:
        self._authorize(actor, "start_delivery")
        with self.store.transaction():
            order = self._rider_order(actor, order_id)
            self._move(order, S.OUT_FOR_DELIVERY, actor, "Delivery partner started delivery")
            return _action_result(order, "Delivery started")

    def complete_delivery(
        self, actor: Actor, order_id: str, *, otp: object, delivery_notes: str | None = None
    ) -> dict[str, Any]:
        self._authorize(actor, "complete_delivery")
        if delivery_notes is not None and not isinstance(delivery_notes, str):
            raise ValidationFailed(
                f"delivery_notes: expected a string, got {delivery_notes!r}",
                field="delivery_notes",
            )
        with self.store.transaction():
            order = self._rider_order(actor, order_id)
            self._require_transition(order, S.DELIVERED)
            record = self._check_otp(order, "delivery", otp)
            record.consumed = True
            order.delivery_notes = delivery_notes
            meta = {"otp_verified": True}
            if delivery_notes:
                meta["delivery_notes"] = delivery_notes  # type: ignore[assignment]
            self._move(order, S.DELIVERED, actor, "Order delivered", meta)
            assert order.delivered_at is not None
            result = _action_result(order, "Order delivered successfully")
            result["actual_delivery_time"] = iso(order.delivered_at)
            return result

    @staticmethod
    def _require_transition(order: Order, target: OrderStatus) -> None:
        """Refuse an illegal move before touching the order: no OTP attempt counted, no field
        written (a store commits what was mutated even when the call then fails)."""
        if target in TRANSITIONS[order.status]:
            return
        allowed = ", ".join(sorted(TRANSITIONS[order.status])) or "none (terminal)"
        raise InvalidTransition(
            f"cannot move order {order.order_number} from {order.status.value} to "
            f"{target.value}; allowed next: {allowed}"
        )

    def set_rider_availability(
        self,
        actor: Actor,
        *,
        available: bool,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> dict[str, Any]:
        """Extension: a rider goes on or off duty (and may report a position)."""
        self._authorize(actor, "rider_update")
        with self.store.transaction():
            rider = self._rider(actor)
            if latitude is not None or longitude is not None:
                rider.latitude, rider.longitude = _parse_point(latitude, longitude)
                rider.location_updated_at = self.clock.now()
            if available and rider.latitude is None:
                raise ValidationFailed(
                    "latitude/longitude: a rider going available must report a position",
                    field="latitude",
                )
            rider.available = bool(available)
            self.store.save_rider(rider)
            if rider.dispatchable:
                self._offer_rider(rider)
            else:
                self.dispatch.rider_unavailable(rider.id)
            return _rider_view(rider)

    def update_rider_location(
        self, actor: Actor, *, latitude: object, longitude: object
    ) -> dict[str, Any]:
        """Extension: the 30-second position report; pushed to the current order's watchers."""
        self._authorize(actor, "rider_update")
        with self.store.transaction():
            rider = self._rider(actor)
            rider.latitude, rider.longitude = _parse_point(latitude, longitude)
            now = self.clock.now()
            rider.location_updated_at = now
            self.store.save_rider(rider)
            if rider.dispatchable:
                self.dispatch.rider_available(rider.id, rider.latitude, rider.longitude)
            if self.sinks and rider.current_order_id is not None:
                order = self.store.get_order(rider.current_order_id)
                if order is not None:
                    status = order.status.value
                    self._emit(
                        ev.DomainEvent(
                            ev.LOCATION_UPDATED,
                            order.id,
                            order.order_number,
                            status,
                            status,
                            DISPLAY_NAMES[order.status],
                            now,
                            actor.display,
                            {
                                "delivery_person_location": {
                                    "latitude": coord(rider.latitude),
                                    "longitude": coord(rider.longitude),
                                }
                            },
                        )
                    )
            return _rider_view(rider)

    def _rider(self, actor: Actor) -> Rider:
        rider = self.store.get_rider(actor.user_id)
        if rider is None:
            raise NotFound(f"rider {actor.user_id} not found")
        return rider

    # ------------------------------------------------------------------ cancellation
    def cancel(
        self,
        actor: Actor,
        order_id: str,
        *,
        reason: object = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._authorize(actor, "cancel")
        text: str | None
        if actor.role in REASON_REQUIRED:
            text = _require_reason(reason)
        else:
            text = reason if isinstance(reason, str) and reason.strip() else None
            if reason is not None and not isinstance(reason, str):
                raise ValidationFailed(f"reason: expected a string, got {reason!r}", field="reason")
        with self.store.transaction():
            order = self._visible(actor, order_id)
            allowed_from = CANCEL_FROM[actor.role]
            if order.status not in allowed_from:
                if order.status in ACTIVE:
                    raise InvalidTransition(
                        f"a {actor.role.value} cannot cancel order {order.order_number} in "
                        f"status {order.status.value}; allowed from: "
                        f"{', '.join(sorted(allowed_from))}"
                    )
                self._require_transition(order, S.CANCELLED)
            order.cancel_reason = text
            meta = {"reason": text, "cancelled_by": actor.role._value_, **(metadata or {})}
            desc = f"Order cancelled by {actor.role._value_}" + (f": {text}" if text else "")
            self._move(order, S.CANCELLED, actor, desc, meta)
            return {
                **_action_result(order, "Order cancelled successfully"),
                "refund_status": None if order.refund is None else order.refund.status,
            }

    # ------------------------------------------------------------------ generic status
    def update_status(
        self,
        actor: Actor,
        order_id: str,
        *,
        status_code: object,
        reason: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /status/``: routes the target status to its action, so the role guards and
        side effects are the same as on the dedicated endpoints (D11)."""
        if not isinstance(status_code, str):
            raise ValidationFailed(
                f"status_code: expected a string, got {status_code!r}", field="status_code"
            )
        try:
            target = parse_status(status_code)
        except ValueError as exc:
            raise ValidationFailed(f"status_code: {exc}", field="status_code") from None
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValidationFailed(
                f"metadata: expected an object, got {metadata!r}", field="metadata"
            )
        if reason is not None and not isinstance(reason, str):
            raise ValidationFailed(f"reason: expected a string, got {reason!r}", field="reason")
        meta = dict(metadata or {})
        with self.store.transaction():
            before = self._visible(actor, order_id)
            previous = before.status.value
            mark = len(before.history)
            action = TARGET_ACTION.get(target)
            if action is None:
                how = (
                    "by refund processing"
                    if target is S.REFUND_COMPLETED
                    else "at checkout (place_order)"
                )
                raise InvalidTransition(
                    f"status_code: {target.value} is set {how}, not through this endpoint",
                    field="status_code",
                )
            if action == "confirm":
                self.confirm(
                    actor,
                    order_id,
                    estimated_prep_time=meta.pop("estimated_prep_time", None),
                    reason=reason,
                    metadata=meta,
                )
            elif action == "reject":
                self.reject(actor, order_id, reason=reason)
            elif action == "start_preparing":
                self.start_preparing(actor, order_id, reason=reason, metadata=meta)
            elif action == "mark_ready":
                self.mark_ready(actor, order_id, reason=reason, metadata=meta)
            elif action == "record_payment":
                self.record_payment(
                    actor,
                    order_id,
                    success=target is S.PAYMENT_SUCCESS,
                    reference=meta.get("transaction_id"),
                )
            elif action == "cancel":
                self.cancel(actor, order_id, reason=reason, metadata=meta)
            elif action == "start_delivery":
                self.start_delivery(actor, order_id)
            elif action == "pickup":
                self._otp_move(actor, before, S.ORDER_PICKED_UP, meta)
            else:
                self._otp_move(actor, before, S.DELIVERED, meta)
            order = self.store.get_order(order_id)
            assert order is not None
            entry = order.history[mark]  # the status change itself, not e.g. an assignment
            return {
                "success": True,
                "order_id": order.id,
                "order_number": order.order_number,
                "previous_status": previous,
                "new_status": order.status.value,
                "status_name": DISPLAY_NAMES[order.status],
                "tracking_id": entry.id,
                "message": "Order status updated successfully",
            }

    def _otp_move(
        self, actor: Actor, order: Order, target: OrderStatus, meta: Mapping[str, Any]
    ) -> None:
        """OTP-guarded targets via the generic endpoint: riders pass ``metadata.otp``; the
        system may override without one (admin correction, recorded in the history)."""
        if actor.role is Role.SYSTEM and "otp" not in meta:
            verb = "picked up" if target is S.ORDER_PICKED_UP else "delivered"
            self._move(
                order, target, actor, f"Marked {verb} by system (no OTP)", {"otp_verified": False}
            )
            return
        if "otp" not in meta:
            raise ValidationFailed(
                f"metadata.otp: required to move to {target.value}", field="metadata.otp"
            )
        if target is S.ORDER_PICKED_UP:
            self.pickup(actor, order.id, otp=meta["otp"])
        else:
            self.complete_delivery(
                actor, order.id, otp=meta["otp"], delivery_notes=meta.get("delivery_notes")
            )

    # ------------------------------------------------------------------ OTP endpoints
    def get_otp(
        self, actor: Actor, order_id: str, *, otp_type: object = "delivery"
    ) -> dict[str, Any]:
        kind = self._otp_type(otp_type)
        if actor.role not in OTP_READERS[kind]:
            raise Forbidden(
                f"role {actor.role.value!r} may not read the {kind} OTP; "
                f"only {' or '.join(sorted(r.value for r in OTP_READERS[kind]))}"
            )
        with self.store.transaction():
            order = self._visible(actor, order_id)
            record = self._otp_record(order, kind)
            return {
                "otp": self.codec.code(order.id, kind, record.nonce),
                "type": kind,
                "expires_at": iso(record.expires_at),
                "order_id": order.id,
            }

    def verify_otp(
        self, actor: Actor, order_id: str, *, otp: object, otp_type: object = "delivery"
    ) -> dict[str, Any]:
        """Checks a code without using it up (the pickup/complete endpoints consume it)."""
        self._authorize(actor, "otp_verify")
        kind = self._otp_type(otp_type)
        with self.store.transaction():
            order = self._rider_order(actor, order_id)
            if not self._otp_record(order, kind).consumed:  # a used code says "already used"
                self._require_live_otp(order, kind, "verified")
            record = self._check_otp(order, kind, otp)
            record.verified = True
            self.store.save_order(order)
            return {"success": True, "verified": True, "message": "OTP verified successfully"}

    @staticmethod
    def _require_live_otp(order: Order, kind: str, verb: str) -> None:
        """An OTP means something only while its handover is pending (ready / out for delivery);
        on a cancelled or finished order it is refused rather than reported as valid."""
        live = S.READY_FOR_PICKUP if kind == "pickup" else S.OUT_FOR_DELIVERY
        if order.status is not live:
            raise InvalidTransition(
                f"{kind} OTP can only be {verb} while the order is {live.value}; "
                f"it is {order.status.value}"
            )

    def resend_otp(
        self, actor: Actor, order_id: str, *, otp_type: object = "delivery"
    ) -> dict[str, Any]:
        kind = self._otp_type(otp_type)
        if actor.role not in OTP_RESENDERS[kind]:
            raise Forbidden(f"role {actor.role.value!r} may not resend the {kind} OTP")
        with self.store.transaction():
            order = (
                self._rider_order(actor, order_id)
                if actor.role is Role.RIDER
                else self._visible(actor, order_id)
            )
            record = self._otp_record(order, kind)
            if record.consumed:
                raise Conflict(f"{kind} OTP has already been used")
            self._require_live_otp(order, kind, "resent")
            p = self.policy
            now = self.clock.now()
            if record.resends >= p.otp_max_resends:
                raise Throttled(
                    f"{kind} OTP resend limit ({p.otp_max_resends}) reached", retry_after=0.0
                )
            wait = record.issued_at + p.otp_resend_interval_s - now
            if wait > 0:
                raise Throttled(
                    f"{kind} OTP was sent {now - record.issued_at:.0f}s ago; "
                    f"retry in {math.ceil(wait)}s",
                    retry_after=wait,
                )
            new = self._issue_otp(order, kind, now)
            self._track(
                order,
                order.status.value,
                f"{kind.capitalize()} OTP resent",
                actor,
                {"otp_type": kind, "resend": new.resends},
            )
            self.store.save_order(order)
            return {
                "success": True,
                "type": kind,
                "expires_at": iso(new.expires_at),
                "order_id": order.id,
                "resends_left": p.otp_max_resends - new.resends,
                "message": "OTP resent",
            }

    # ------------------------------------------------------------------ timers
    def next_timer_due(self) -> float | None:
        with self.store.transaction():
            return self.store.next_timer_due()

    def process_due_timers(self) -> list[tuple[str, str, str]]:
        """Apply every rule whose time has come. Stale timers (the order moved on) do nothing.
        Returns ``(kind, order_id, outcome)`` for what actually happened."""
        fired: list[tuple[str, str, str]] = []
        now = self.clock.now()
        store = self.store
        while True:
            with store.transaction():
                for timer in store.pop_due_timers(now):
                    outcome = self._fire(timer, now)
                    if outcome:
                        fired.append((timer.kind, timer.order_id, outcome))
                # a rule with a zero delay may have armed a timer that is due already: run it too
                again = store.next_timer_due()
            if again is None or again > now:
                return fired

    def _fire(self, timer: Timer, now: float) -> str | None:
        order = self.store.get_order(timer.order_id)
        if order is None:
            return None
        p = self.policy
        kind = timer.kind
        if kind == CONFIRM_TIMEOUT and order.status in AWAITING_CONFIRMATION:
            return self._system_cancel(
                order, _timeout_reason(_CONFIRM_REASON, p.confirm_timeout_s), "confirm_timeout"
            )
        if kind == PICKUP_TIMEOUT and order.status is S.READY_FOR_PICKUP:
            return self._system_cancel(
                order, _timeout_reason(_PICKUP_REASON, p.pickup_timeout_s), "pickup_timeout"
            )
        if kind == PAYMENT_TIMEOUT and order.status is S.PAYMENT_PENDING:
            self._move(
                order,
                S.PAYMENT_FAILED,
                SYSTEM_ACTOR,
                f"Payment not completed within {p.payment_timeout_s / 60:g} minutes",
                {"auto": "payment_timeout"},
            )
            return "payment_failed"
        if kind == REFUND_STEP and order.refund is not None:
            return self._refund_step(order, now)
        return None

    def _system_cancel(self, order: Order, reason: str, auto: str) -> str:
        order.cancel_reason = reason
        self._move(
            order,
            S.CANCELLED,
            SYSTEM_ACTOR,
            _system_cancel_description(reason),
            {"reason": reason, "cancelled_by": "system", "auto": auto},
        )
        return "cancelled"

    def _refund_step(self, order: Order, now: float) -> str | None:
        refund = order.refund
        assert refund is not None
        if refund.status == "pending":
            refund.status = "processing"
            refund.updated_at = now
            self._track(
                order,
                order.status._value_,
                "Refund processing",
                SYSTEM_ACTOR,
                {"refund_id": refund.id, "refund_status": "processing"},
            )
            self._add_timer(now + self.policy.refund_settle_delay_s, REFUND_STEP, order.id)
            self.store.save_order(order)
            return "refund_processing"
        if refund.status == "processing":
            refund.updated_at = now
            if self.rng.random() < self.policy.refund_failure_rate:
                refund.status = "failed"
                self._track(
                    order,
                    order.status._value_,
                    "Refund failed; manual intervention required",
                    SYSTEM_ACTOR,
                    {"refund_id": refund.id, "refund_status": "failed"},
                )
                self.store.save_order(order)
                return "refund_failed"
            refund.status = "completed"
            self._move(
                order,
                S.REFUND_COMPLETED,
                SYSTEM_ACTOR,
                f"Refund of {refund.amount:.2f} completed",
                {"refund_id": refund.id, "refund_status": "completed"},
            )
            return "refund_completed"
        return None


def _id(order: Order) -> str:
    return order.id


_CONFIRM_REASON = "Restaurant did not confirm within {:g} minutes"
_PICKUP_REASON = "No pickup within {:g} minutes of ready"


# The texts of automatic cancellations depend only on the policy: formatted once, not per order.
@functools.lru_cache(maxsize=64)
def _timeout_reason(template: str, seconds: float) -> str:
    return template.format(seconds / 60)


@functools.lru_cache(maxsize=64)
def _system_cancel_description(reason: str) -> str:
    return f"Order cancelled by system: {reason}"


# ---------------------------------------------------------------------- input parsing
def _action_result(order: Order, message: str) -> dict[str, Any]:
    return {
        "success": True,
        "order_id": order.id,
        "order_number": order.order_number,
        "status": order.status._value_,
        "message": message,
    }


def _rider_view(rider: Rider) -> dict[str, Any]:
    return {
        "delivery_person": rider.id,
        "name": rider.name,
        "available": rider.available,
        "current_order": rider.current_order_id,
        "latitude": coord(rider.latitude),
        "longitude": coord(rider.longitude),
    }


def _require_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed("reason: required (a non-empty string)", field="reason")
    return reason.strip()


def _parse_prep(value: object, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 240:
        raise ValidationFailed(
            f"estimated_prep_time: expected whole minutes between 1 and 240, got {value!r}",
            field="estimated_prep_time",
        )
    return value


def _parse_number(value: object, field: str, lo: float, hi: float) -> float:
    # The common case, checked cheaply; NaN fails the range test and +-inf are out of range.
    if (type(value) is float or type(value) is int) and lo <= value <= hi:
        return float(value)
    if isinstance(value, bool):
        raise ValidationFailed(f"{field}: expected a number, got {value!r}", field=field)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationFailed(f"{field}: expected a number, got {value!r}", field=field) from None
    if not (math.isfinite(number) and lo <= number <= hi):
        raise ValidationFailed(
            f"{field}: must be between {lo} and {hi}, got {value!r}", field=field
        )
    return number


def _parse_point(lat: object, lon: object, prefix: str = "") -> tuple[float, float]:
    return (
        _parse_number(lat, f"{prefix}latitude", -90, 90),
        _parse_number(lon, f"{prefix}longitude", -180, 180),
    )


def _parse_address(raw: Mapping[str, Any]) -> Address:
    if type(raw) is not dict and not isinstance(raw, Mapping):  # ABC check only off the fast path
        raise ValidationFailed("delivery_address: expected an object", field="delivery_address")
    lat, lon = _parse_point(raw.get("latitude"), raw.get("longitude"), "delivery_address.")
    line = raw.get("address_line_1", "")
    title = raw.get("title", "Home")
    if not isinstance(line, str) or not isinstance(title, str):
        raise ValidationFailed(
            "delivery_address.address_line_1/title: expected strings", field="delivery_address"
        )
    return Address(title, line, lat, lon)


def _parse_items(raw: list[Mapping[str, Any]]) -> list[OrderItem]:
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed("items: expected a non-empty list", field="items")
    if len(raw) > 100:
        raise ValidationFailed("items: at most 100 lines per order", field="items")
    lines = []
    for i, item in enumerate(raw):
        where = f"items[{i}]"
        if type(item) is not dict and not isinstance(item, Mapping):
            raise ValidationFailed(f"{where}: expected an object", field=where)
        qty = item.get("quantity")
        if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= 100:
            raise ValidationFailed(
                f"{where}.quantity: expected an integer 1..100, got {qty!r}",
                field=f"{where}.quantity",
            )
        try:
            price: Decimal = to_money(item.get("unit_price"), field=f"{where}.unit_price")
        except ValueError as exc:
            raise ValidationFailed(str(exc), field=f"{where}.unit_price") from None
        name = item.get("name") or item.get("menu_item") or "item"
        menu_item = item.get("menu_item")
        if not isinstance(name, str) or (menu_item is not None and not isinstance(menu_item, str)):
            raise ValidationFailed(f"{where}.name: expected a string", field=f"{where}.name")
        lines.append(OrderItem(name, qty, price, menu_item))
    return lines
