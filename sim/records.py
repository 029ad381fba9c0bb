"""The model's records of each order in flight and of each rider: plain slotted state shared by
the processes that drive them. No behaviour lives here, so every part of the model can import it.
"""

from __future__ import annotations

from collections import deque

import simpy
from simpy.resources.resource import Request

from reference_api.roles import Actor
from reference_api.statuses import OrderStatus
from sim.codes import PHASES
from sim.plan import Block
from sim.recorder import NAN


class OrderRec:
    """The model's view of one order while it is in flight."""

    __slots__ = (
        "blk",
        "bundle",
        "bundle_size",
        "customer",
        "deadline",
        "done",
        "dropoff_s",
        "ends_ev",
        "idx",
        "j",
        "no_show",
        "oid",
        "online",
        "otp_err_d",
        "otp_err_p",
        "otp_resend",
        "pickup_s",
        "ready_ev",
        "reason",
        "refund_open",
        "rider",
        "slot_req",
        "status",
        "ts",
        "vendor",
    )

    def __init__(
        self, idx: int, vendor: int, customer: int, online: bool, blk: Block, j: int
    ) -> None:
        self.idx = idx
        self.vendor = vendor
        self.customer = customer
        self.online = online
        self.oid = ""
        self.status = OrderStatus.ORDER_PLACED
        self.ts = [NAN] * len(PHASES)  # phase timestamps, in simulated seconds
        self.rider = -1
        self.bundle: str | None = None  # the bundle's id when the rider took it with others
        self.bundle_size = 1
        self.reason = 0  # a ``codes.REASON`` once the order ends without delivery
        self.deadline = 0.0  # when the customer's patience runs out
        self.done = False  # reached an ending status (delivered, cancelled, rejected, failed)
        self.refund_open = False
        self.ready_ev: simpy.Event | None = None  # a rider at the counter waits for the food
        self.ends_ev: simpy.Event | None = None  # a no-show rider waits for the pickup timeout
        self.slot_req: Request | None = None  # kitchen slot: queued for it, then holding it
        self.blk = blk  # what was drawn for this order: ``blk.<field>[j]``
        self.j = j
        self.pickup_s = 0.0
        self.dropoff_s = 0.0
        self.no_show = False
        self.otp_err_p = False
        self.otp_err_d = False
        self.otp_resend = False


class RiderState:
    """One rider: where they are, the orders assigned to them, and the event their idle
    shift process sleeps on until an assignment (or the shift's end) wakes it."""

    __slots__ = (
        "actor",
        "busy",
        "idx",
        "jobs",
        "lat",
        "later",
        "lon",
        "on",
        "shift_end",
        "shift_start",
        "wake",
        "where",
    )

    def __init__(
        self,
        idx: int,
        actor: Actor,
        lat: float,
        lon: float,
        shift_start: float,
        shift_end: float,
    ) -> None:
        self.idx = idx
        self.actor = actor
        self.lat = lat
        self.lon = lon
        self.shift_start = shift_start
        self.shift_end = shift_end
        self.jobs: deque[OrderRec] = deque()
        self.wake: simpy.Event | None = None
        self.on = False
        self.busy = False
        #: shifts after this one, as ``(start, end, lat, lon)`` (a roster's)
        self.later: list[tuple[float, float, float, float]] = []
        #: what the rider is at, for the moves log: -1 where their shift started, else a
        #: restaurant ``vendor`` index or ``-2 - order_idx`` at a customer
        self.where = -1
