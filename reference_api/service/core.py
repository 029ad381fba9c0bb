"""What every part of the service shares: the injected collaborators (store, clock, randomness,
policy, OTP codec, sinks, observers, timer listeners) and the primitives that write an order's
history, publish its events, arm its timers and find it for an actor.

Each part (``lifecycle``, ``dispatching``, ...) subclasses ``Part`` and so reads the collaborators
as its own attributes: the split into modules adds no attribute hop on the hot paths.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from reference_api import events as ev
from reference_api.clock import Clock
from reference_api.errors import Forbidden, NotFound
from reference_api.model import Order, Timer, TrackingEntry, uuid4_text
from reference_api.otp import OtpCodec
from reference_api.permissions import ACTION_ROLES, can_see
from reference_api.policy import Policy
from reference_api.roles import Actor, Role
from reference_api.states import TimerKind
from reference_api.statuses import DISPLAY_NAMES, OrderStatus
from reference_api.store.base import Store

TimerListener = Callable[[float], None]

#: RFC 4122 version-4 bits: clear version nibble and variant bits, then set 4 and 0b10.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_V4 = (0x4000 << 64) | (0x8000 << 48)


class Core:
    """The collaborators, built once by the facade and handed to every part."""

    __slots__ = (
        "clock",
        "codec",
        "observers",
        "policy",
        "rng",
        "sinks",
        "store",
        "timer_listeners",
    )

    def __init__(
        self,
        store: Store,
        clock: Clock,
        rng: random.Random,
        policy: Policy,
        codec: OtpCodec,
        sinks: list[ev.EventSink],
    ) -> None:
        self.store = store
        self.clock = clock
        self.rng = rng
        self.policy = policy
        self.codec = codec
        self.sinks = sinks
        #: in-process watchers handed the aggregate itself (see ``events.Observer``)
        self.observers: list[ev.Observer] = []
        self.timer_listeners: list[TimerListener] = []


class Part:
    """A concern of the service. The collaborators are copied from the shared ``Core`` (lists
    are shared, not copied), so every part sees the same store, sinks and listeners."""

    def __init__(self, core: Core) -> None:
        self.store = core.store
        self.clock = core.clock
        self.rng = core.rng
        self.policy = core.policy
        self.codec = core.codec
        self.sinks = core.sinks
        self.observers = core.observers
        self.timer_listeners = core.timer_listeners

    # ------------------------------------------------------------------ ids
    def uuid(self) -> str:
        """``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, formatted by hand: the same
        string from the same draw, at a fraction of the cost."""
        return uuid4_text((self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_V4)

    # ------------------------------------------------------------------ history and events
    def track(
        self,
        order: Order,
        status: str,
        description: str,
        actor: Actor,
        metadata: dict[str, Any] | None,
        now: float,
    ) -> TrackingEntry:
        """Append a history entry. It keeps ``metadata`` itself: callers pass a dict built for
        it, never one a client holds. One draw per entry, as ``uuid``; the id text is formatted
        when first read."""
        entry = TrackingEntry(
            (self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_V4,
            status,
            description,
            now,
            actor.display,
            actor.role._value_,
            actor.user_id,
            metadata or None,
        )
        order.history.append(entry)
        return entry

    def publish(
        self,
        event_type: str,
        order: Order,
        previous: OrderStatus,
        now: float,
        by: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        """The one place a ``DomainEvent`` is built; nothing is built when no sink listens."""
        if not self.sinks:
            return
        status = order.status
        event = ev.DomainEvent(
            event_type,
            order.id,
            order.order_number,
            previous._value_,
            status._value_,
            DISPLAY_NAMES[status],
            now,
            by,
            {} if data is None else data,
        )
        for sink in self.sinks:
            sink(event)

    # ------------------------------------------------------------------ timers
    def arm(self, due: float, kind: TimerKind, order_id: str) -> None:
        self.store.add_timer(Timer(due, kind, order_id))
        for listener in self.timer_listeners:
            listener(due)

    # ------------------------------------------------------------------ access
    @staticmethod
    def authorize(actor: Actor, action: str) -> None:
        if actor.role not in ACTION_ROLES[action]:
            allowed = ", ".join(sorted(r.value for r in ACTION_ROLES[action]))
            raise Forbidden(f"role {actor.role.value!r} may not {action}; allowed: {allowed}")

    def visible(self, actor: Actor, order_id: str) -> Order:
        order = self.store.get_order(order_id)
        if order is None or not can_see(actor, order):
            raise NotFound(f"order {order_id} not found")
        return order

    def rider_order(self, actor: Actor, order_id: str) -> Order:
        """An order a rider may act on: only their own (others' are not found, not forbidden)."""
        order = self.visible(actor, order_id)
        if actor.role is Role.RIDER and order.rider_id != actor.user_id:
            raise NotFound(f"order {order_id} not found")
        return order
