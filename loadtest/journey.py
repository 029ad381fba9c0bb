"""One order's journey over HTTP: each planned role step at its intended time, acting as the
customer, the order's restaurant, the payment gateway, or whichever rider the server assigned
(read from the order's ``delivery_person``, never assumed). Every request is recorded with its
intended start beside its actual start and end; responses are checked against what the spec
allows, and the first broken rule ends the journey with the reason.

A rider may hold several orders of one restaurant at once (a bundle, D25: the order's ``bundle``
field, or its ``order.assigned`` event's). Each journey still drives only its own order, with its
own OTPs, but takes the rider's steps in the sequence the server assigned: a step (pickup, start
of delivery, completion, and a replayed position report at the customer) waits until every order
before it in the bundle has made that step or ended (``_await_turn``), reading them from the
server as the rider, so it holds across worker processes too."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import gevent
import orjson

from loadtest import checks
from loadtest.context import BoundReached, RunContext
from loadtest.identities import Identity
from loadtest.plan import BACKGROUND, FINAL_STATUS, PlannedCall, PlannedOrder
from loadtest.tables import FAILED, OK, UNFINISHED
from loadtest.ws import Subscription
from reference_api.endpoints import ENDPOINTS
from reference_api.statuses import OrderStatus

if TYPE_CHECKING:  # loadtest.sender imports Locust, which monkey-patches on import
    from loadtest.sender import Sender

GET_ORDER = ENDPOINTS["get_order"]
PLACE_ORDER = ENDPOINTS["place_order"].name
#: Endpoint template names by operation (``Endpoint.name`` builds the string on each access).
NAMES = {op: ep.name for op, ep in ENDPOINTS.items()}
#: Query strings of the OTP reads, built once.
OTP_QUERY = {kind: "?" + urlencode({"type": kind}) for kind in ("pickup", "delivery")}
#: Responses that describe the rider making the call, not the order: their ``delivery_person``
#: is whoever sent them, which says nothing about who the order's rider is.
RIDER_SELF = frozenset({"set_rider_availability", "update_rider_location"})

#: How far along the rider's steps an order is: 0 before pickup, then picked up, out for
#: delivery, and 3 delivered or ended (cancelled, refunded...: it holds no step back any more).
_PICKED_UP, _OUT, _DONE = 1, 2, 3
_PROGRESS: dict[str, int] = {
    **{
        s.value: 0
        for s in (
            OrderStatus.ORDER_PLACED,
            OrderStatus.PAYMENT_PENDING,
            OrderStatus.PAYMENT_SUCCESS,
            OrderStatus.ORDER_CONFIRMED,
            OrderStatus.PREPARING,
            OrderStatus.READY_FOR_PICKUP,
        )
    },
    OrderStatus.ORDER_PICKED_UP.value: _PICKED_UP,
    OrderStatus.OUT_FOR_DELIVERY.value: _OUT,
}
#: The rider's steps a bundled order takes in the bundle's sequence, and how far along every
#: order before it must be first.
SEQUENCED = {"pickup": _PICKED_UP, "start_delivery": _OUT, "complete_delivery": _DONE}
_STEP_NAMES = {_PICKED_UP: "picked up", _OUT: "out for delivery", _DONE: "delivered"}


def decode(content: bytes) -> Any:
    """A response body as JSON (orjson; the standard library for what orjson refuses, such as
    integers beyond 64 bits), or None."""
    try:
        return orjson.loads(content)
    except ValueError:
        try:
            return json.loads(content)
        except ValueError:
            return None


class JourneyFailed(Exception):
    """The server broke a rule (or failed) at a step the journey cannot go on without."""


class Journey:
    def __init__(self, ctx: RunContext, order: PlannedOrder, sender: Sender, host: str) -> None:
        self.ctx = ctx
        self.plan = order
        self.sender = sender  # the Locust user's HTTP path (loadtest.sender)
        self.host = host
        ids = ctx.identities
        self.customer, self.address = ids.customer(order.customer_index)
        self.vendor = ids.vendor(order.vendor_index) if order.kind != BACKGROUND else None
        self.restaurant = (
            ids.restaurant_for(self.vendor.id)
            if self.vendor
            else ids.restaurants[order.vendor_index % len(ids.restaurants)]
        )
        self.order_id: str | None = None
        self.rider: Identity | None = None
        self.rider_id: str | None = None
        #: the orders the rider took with this one, in delivery sequence (None: alone)
        self.bundle: tuple[str, ...] | None = None
        #: how far along each order before this one in the bundle was last seen (``_PROGRESS``)
        self.progress: dict[str, int] = {}
        self.otps: dict[str, str] = {}
        self.last_status: str | None = None
        self.acks: dict[str, float] = {}  # new_status -> when the response arrived
        self.sub: Subscription | None = None
        self.last_end = 0.0  # when this journey's previous request ended

    # ------------------------------------------------------------------ running
    def run(self) -> None:
        o, ctx = self.plan, self.ctx
        planned = ctx.due(o)
        self._wait_until(planned)
        start = time.time()
        outcome, reason = OK, None
        try:
            for call in o.calls:
                due = ctx.due(o, call.offset_s)
                self._wait_until(due)
                self.step(call, due)
            want = FINAL_STATUS.get(o.kind)
            if want is not None and self.last_status != want:
                outcome = FAILED
                reason = f"journey {o.kind} should end {want}, ended {self.last_status}"
        except JourneyFailed as exc:
            outcome, reason = FAILED, str(exc)
        except BoundReached as exc:
            outcome, reason = UNFINISHED, str(exc)
        except gevent.GreenletExit:
            outcome, reason = UNFINISHED, "run stopped"
            raise
        finally:
            self._finish(planned, start, outcome, reason)

    def _finish(self, planned: float, start: float, outcome: str, reason: str | None) -> None:
        if self.sub is not None:
            self.sub.close(grace_s=0.2 if outcome == OK else 0.0)
            for received, ev in self.sub.events:
                new_status = checks.canonical(ev.get("new_status"))
                acked = self.acks.get(new_status or "")
                self.ctx.writer.add(
                    "ws_events",
                    {
                        "order_id": self.order_id,
                        "event_type": ev.get("event_type"),
                        "new_status": new_status,
                        "acked_ts": acked,
                        "received_ts": received,
                        "delay_ms": None if acked is None else (received - acked) * 1000,
                        "worker": self.ctx.share,
                    },
                )
        self.ctx.writer.add(
            "journeys",
            {
                "journey_id": self.plan.key,
                "kind": self.plan.kind,
                "planned_ts": planned,
                "start_ts": start,
                "end_ts": time.time(),
                "outcome": outcome,
                "final_status": self.last_status,
                "order_id": self.order_id,
                "failure_reason": reason,
                "worker": self.ctx.share,
            },
        )

    @staticmethod
    def _wait_until(ts: float) -> None:
        delay = ts - time.time()
        if delay > 0:
            gevent.sleep(delay)

    # ------------------------------------------------------------------ one step
    def step(self, call: PlannedCall, intended: float) -> None:
        op, params = call.operation, call.params
        ep = ENDPOINTS[op]
        name = NAMES[op]
        background = bool(params.get("background"))
        if op != "place_order" and "{order_id}" in ep.path and not self.order_id:
            raise JourneyFailed(f"{name}: no order id (checkout did not succeed)")
        who = self._identity(call, intended)
        if call.role == "rider" and self.bundle is not None and "identity" not in params:
            need = SEQUENCED.get(op)
            if op == "update_rider_location" and params.get("at") == "customer":
                need = _DONE  # at this customer only once the ones before are delivered
            if need is not None:
                self._await_turn(need, name, who)
        url, body = self._request(call)
        refusal = not call.succeeds and op != "resend_otp"  # a resend may go either way (D7)
        status, data, reason = self._send(
            name,
            ep.method,
            url,
            who,
            body,
            intended,
            call.role,
            background,
            True,
            lambda st, js: (
                checks.check_refusal(op, st)
                if refusal
                else checks.check_success(op, st, js, params, self.plan.payment_method)
            ),
        )
        if reason is not None:
            if background:
                return  # background traffic is recorded; it never decides a journey
            raise JourneyFailed(f"{name} as {call.role}: {reason}")
        if refusal:
            return
        self._learn(op, params, status, data)

    def _learn(self, op: str, params: dict[str, Any], status: int, data: Any) -> None:
        if not isinstance(data, dict):
            return
        if op == "place_order":
            self.order_id = data["id"]
            if self.plan.ws and self.customer is not None:
                self.sub = Subscription(
                    self.host, self.order_id, self.customer.token, self.sender.request_event
                )
        if op not in RIDER_SELF:
            self._learn_rider(data)
        if op == "get_otp":
            self.otps[str(data.get("type") or params.get("otp_type", "delivery"))] = data["otp"]
        reported = checks.reported_status(op, data)
        if reported is not None and op not in ("get_otp", "resend_otp", "verify_otp"):
            if op in checks.MOVES_TO or op in ("place_order", "record_payment"):
                self.acks.setdefault(reported, time.time())
            self.last_status = reported

    def _learn_rider(self, data: dict[str, Any]) -> None:
        """The order's rider and bundle, from an order's detail (or an event) that names them.
        A bundle is formed when its orders are assigned, all at once, and never changes."""
        rider = data.get("delivery_person")
        if isinstance(rider, str) and rider:
            self.rider_id = rider
            bundle = checks.bundle_orders(data.get("bundle"))
            if bundle is not None and self.order_id in bundle:
                self.bundle = bundle

    # ------------------------------------------------------------------ bundles
    def _await_turn(self, need: int, name: str, rider: Identity) -> None:
        """Wait until every order before this one in its bundle is at least ``need`` along the
        rider's steps (``_PROGRESS``; an order that ended holds nothing back), reading each from
        the server as the rider who holds them, for at most ``ctx.sequence_wait_s``. An order
        only moves forward, so one seen far enough along is not read again."""
        assert self.bundle is not None and self.order_id is not None
        earlier = self.bundle[: self.bundle.index(self.order_id)]
        deadline = time.time() + self.ctx.sequence_wait_s
        pause = 0.05
        for other in earlier:
            while self.progress.get(other, 0) < need:
                status, data, reason = self._send(
                    GET_ORDER.name,
                    "GET",
                    GET_ORDER.url(other),
                    rider,
                    None,
                    time.time(),
                    "rider",
                    False,
                    False,
                    lambda st, js: (
                        None if st == 404 else checks.check_success("get_order", st, js, {}, "")
                    ),
                )
                if reason is None:
                    # 404: no longer the rider's order, so it holds no step of theirs back
                    code = data.get("order_status") if isinstance(data, dict) else None
                    found = _DONE if status == 404 else _PROGRESS.get(checks.canonical(code) or "")
                    self.progress[other] = _DONE if found is None else found
                    if self.progress[other] >= need:
                        break
                if time.time() + pause > deadline:
                    seen = f"; last read: {reason}" if reason else ""
                    raise JourneyFailed(
                        f"{name} as rider: order {other}, before this one in its bundle, "
                        f"not {_STEP_NAMES[need]} within {self.ctx.sequence_wait_s:g} s{seen}"
                    )
                gevent.sleep(pause)
                pause = min(pause * 2, 0.5)

    # ------------------------------------------------------------------ requests
    def _request(self, call: PlannedCall) -> tuple[str, bytes | None]:
        """The call's URL (query string included) and JSON body, encoded once here."""
        op, p = call.operation, call.params
        ep = ENDPOINTS[op]
        url = ep.url(self.order_id) if "{order_id}" in ep.path else ep.path
        body: dict[str, Any] | None = None
        query: dict[str, str] | None = None
        if op == "place_order":
            assert self.vendor is not None
            menu = self.vendor.menu
            items = [
                {
                    "name": m.name,
                    "quantity": 1 + (self.plan.index + i) % 2,
                    "unit_price": m.unit_price,
                }
                for i, m in enumerate(menu[: 1 + self.plan.index % min(2, len(menu))])
            ]
            body = {
                "vendor": self.vendor.id,
                "items": items,
                "delivery_address": self.address.as_json(),
                "payment_method": self.plan.payment_method,
            }
        elif op == "record_payment":
            body = {
                "status": "success" if p.get("success", True) else "failed",
                "transaction_id": f"lt-{self.plan.key}",
            }
        elif op == "confirm":
            body = {"estimated_prep_time": int(p.get("estimated_prep_time", 20))}
        elif op in ("reject", "cancel"):
            body = {"reason": str(p.get("reason") or "Load test")}
        elif op in ("pickup", "complete_delivery"):
            kind = "pickup" if op == "pickup" else "delivery"
            code = self.otps.get(kind, "")
            if not call.succeeds:  # planned to be refused (a typo, or a code gone stale)
                code = f"{(int(code or 0) + 1) % 1_000_000:06d}"
            body = {"otp": code}
            if op == "complete_delivery":
                body["delivery_notes"] = "Delivered by load test"
        elif op == "verify_otp":
            kind = str(p.get("otp_type", "delivery"))
            body = {"otp": self.otps.get(kind, ""), "type": kind}
        elif op == "resend_otp":
            body = {"type": str(p.get("otp_type", "delivery"))}
        elif op == "get_otp":
            kind = str(p.get("otp_type", "delivery"))
            url += OTP_QUERY.get(kind) or "?" + urlencode({"type": kind})
        elif op == "update_status":
            body = {k: p[k] for k in ("status_code", "reason", "metadata") if k in p}
        elif op in ("set_rider_availability", "update_rider_location"):
            lat, lon = self._rider_position(p)
            body = {"latitude": lat, "longitude": lon}
            if op == "set_rider_availability":
                body["available"] = bool(p.get("available", True))
        elif op == "list_orders":
            query = {k: str(p[k]) for k in ("status", "include_cancelled", "page") if k in p}
        if query:
            url += "?" + urlencode(query)
        return url, None if body is None else orjson.dumps(body)

    def _rider_position(self, p: dict[str, Any]) -> tuple[float, float]:
        if "latitude" in p and "longitude" in p:
            return float(p["latitude"]), float(p["longitude"])
        if p.get("at") == "customer":
            return self.address.latitude, self.address.longitude
        if p.get("at") == "restaurant" and self.vendor is not None:
            return self.vendor.latitude, self.vendor.longitude
        vendors = self.ctx.identities.vendors
        v = vendors[int(p.get("identity", self.plan.index)) % len(vendors)]
        jitter = ((self.plan.index * 7919) % 100) / 100_000
        return round(v.latitude + jitter, 6), round(v.longitude - jitter, 6)

    def _identity(self, call: PlannedCall, intended: float) -> Identity:
        ids = self.ctx.identities
        role, p = call.role, call.params
        if role == "customer":
            return self.customer
        if role == "restaurant":
            if self.restaurant is None:
                raise JourneyFailed(f"no restaurant token for vendor {self.vendor}")
            return self.restaurant
        if role == "system":
            return ids.system[0]
        if role != "rider":
            raise JourneyFailed(f"unknown role {role!r} in the schedule")
        if "identity" in p or self.order_id is None:
            return ids.riders[int(p.get("identity", self.plan.index)) % len(ids.riders)]
        return self._assigned_rider(intended)

    def _assigned_rider(self, intended: float) -> Identity:
        """The rider the server gave this order: from the WebSocket's ``order.assigned`` event
        or an earlier response if we saw one, else by reading the order until it names one."""
        if self.rider is not None:
            return self.rider
        if self.rider_id is None and self.sub is not None:
            assigned = self.sub.assignment()
            if assigned is not None:
                self.rider_id, bundle = assigned
                if bundle is not None and self.order_id in bundle:
                    self.bundle = bundle
        deadline = time.time() + self.ctx.rider_wait_s
        pause = 0.05
        while self.rider_id is None:
            assert self.order_id is not None
            _, data, reason = self._send(
                GET_ORDER.name,
                "GET",
                GET_ORDER.url(self.order_id),
                self.customer,
                None,
                max(intended, time.time()),
                "customer",
                False,
                False,
                lambda st, js: checks.check_success("get_order", st, js, {}, ""),
            )
            if reason is None and isinstance(data, dict):
                self._learn_rider(data)
                if self.rider_id is not None:
                    break
            if time.time() + pause > deadline:
                raise JourneyFailed(
                    f"no rider assigned within {self.ctx.rider_wait_s:g} s of the rider's step"
                )
            gevent.sleep(pause)
            pause = min(pause * 2, 0.5)
        rider = self.ctx.identities.rider(self.rider_id)
        if rider is None:
            raise JourneyFailed(
                f"order assigned to rider {self.rider_id}, for whom "
                f"{self.ctx.identities.source} has no token"
            )
        self.rider = rider
        return rider

    def _send(
        self,
        name: str,
        method: str,
        url: str,
        who: Identity,
        body: bytes | None,
        intended: float,
        role: str,
        background: bool,
        planned: bool,
        check: Any,
    ) -> tuple[int, Any, str | None]:
        """One request, checked and recorded. Idempotent reads are retried on a transient
        failure with exponential back-off, as the spec's best practices ask of clients."""
        attempts = 3 if method == "GET" else 1
        for attempt in range(attempts):
            self.ctx.bounds.take()
            start = time.time()
            status, content, err, elapsed_ms = self.sender.send(
                method, url, who.get_headers if body is None else who.json_headers, body
            )
            end = time.time()
            data = decode(content) if content else None
            reason = check(status, data)
            if status == 0:
                reason = (
                    f"connection error: {type(err).__name__}: {err}"
                    if err
                    else (reason or "connection error")
                )
            elif reason is not None:
                detail = data.get("detail") if isinstance(data, dict) else None
                if detail and status >= 400:
                    reason = f"{reason} ({detail})"
            self.sender.report(method, name, url, start, elapsed_ms, len(content), reason)
            order_id = self.order_id
            if order_id is None and name == PLACE_ORDER and isinstance(data, dict):
                order_id = data.get("id") if isinstance(data.get("id"), str) else None
            ready = intended if intended > self.last_end else self.last_end
            self.last_end = end
            self.ctx.writer.add_values(
                "requests",
                (
                    intended,
                    ready,
                    start,
                    end,
                    name,
                    method,
                    role,
                    status,
                    len(content),
                    reason,
                    BACKGROUND if background else self.plan.kind,
                    self.plan.key,
                    order_id,
                    self.ctx.share,
                    planned and attempt == 0,
                ),
            )
            if reason is None or status not in checks.TRANSIENT or attempt == attempts - 1:
                return status, data, reason
            gevent.sleep(0.05 * 2**attempt)
            intended = time.time()
        raise AssertionError("unreachable")
