"""What will happen to each order, drawn before the run: arrival times (a non-homogeneous Poisson
process) and every per-order random attribute (payment, kitchen, customer, handover, OTP).

Drawing by order index, in blocks, from per-component streams does two jobs. It keeps common
random numbers exact: order ``i`` gets the same prep time and the same customer decisions
whatever the fleet size, because no draw depends on what happened in the run. And it keeps the
hot loop cheap: numpy fills a block of 4,096 orders at once and the model reads plain lists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scenarios.schema import Scenario
from scenarios.traces import replayed_rows

BLOCK = 4096
FloatArray = np.ndarray[tuple[int], np.dtype[np.float64]]
IntArray = np.ndarray[tuple[int], np.dtype[np.int64]]


def arrival_times(scenario: Scenario, rng: np.random.Generator) -> FloatArray:
    """Arrival epochs (seconds from the period's start) of a Poisson process whose rate follows
    the demand curve: unit-rate epochs inverted through the integrated rate (exact for a
    piecewise-constant curve, no thinning needed)."""
    p = scenario.period
    segs = scenario.demand.segments(p.start_s, p.duration_s)
    starts = np.array([a for a, _, _ in segs])
    rates = np.array([r for _, _, r in segs])
    lengths = np.array([b - a for a, b, _ in segs])
    cum_end = np.cumsum(rates * lengths)
    cum_start = cum_end - rates * lengths
    total = float(cum_end[-1])
    chunks: list[FloatArray] = []
    reached = 0.0
    while True:
        epochs = reached + np.cumsum(rng.exponential(1.0, 65536))
        inside = epochs[epochs < total]
        chunks.append(inside)
        if len(inside) < len(epochs):
            break
        reached = float(epochs[-1])
    e = np.concatenate(chunks)
    j = np.searchsorted(cum_end, e, side="right")
    out: FloatArray = starts[j] + (e - cum_start[j]) / rates[j]
    return out


@dataclass(slots=True)
class Block:
    """Per-order attributes of ``BLOCK`` consecutive orders, as plain lists."""

    customer: list[int]
    vendor_slot: list[int]
    quantity: list[int]
    online: list[bool]
    pay_abandon: list[bool]
    pay_fail: list[bool]
    pay_delay: list[float]
    confirm_delay: list[float]
    prep: list[float]
    no_response: list[bool]
    reject: list[bool]
    rest_cancel: list[bool]
    rest_cancel_frac: list[float]
    cust_cancel: list[bool]
    cust_cancel_after: list[float]
    patience: list[float] | None
    pickup_service: list[float]
    dropoff_service: list[float]
    no_show: list[bool]
    otp_err_pickup: list[bool]
    otp_err_delivery: list[bool]
    otp_resend: list[bool]
    #: From an order log (``None`` when drawn): the restaurant, when the food is ready
    #: (seconds from the period's start, NaN: not given) and the basket value.
    vendor: list[int] | None = None
    ready_at: list[float] | None = None
    basket: list[float] | None = None


class OrderPlan:
    """Hands out blocks in order; block ``b`` always consumes the same draws of each stream."""

    def __init__(self, scenario: Scenario, rngs: dict[str, np.random.Generator]) -> None:
        self.s = scenario
        self.rngs = rngs
        inputs = scenario.inputs
        self.trace = None if inputs is None else inputs.orders
        #: the order-log row of each planned order (None: drawn demand)
        self.rows: IntArray | None = None
        if self.trace is None:
            self.times = arrival_times(scenario, rngs["arrivals"])
        else:
            d = scenario.demand
            self.rows, self.times = replayed_rows(
                self.trace, d.scale, d.shift_min, scenario.period.duration_s, rngs["arrivals"]
            )
        self._blocks: dict[int, Block] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self.times)

    def block(self, b: int) -> Block:
        while self._next <= b:
            self._blocks = {self._next: self._draw()}
            self._next += 1
        return self._blocks[b]

    def _draw(self) -> Block:
        blk = self._drawn()
        if self.trace is not None:
            self._replayed(blk)
        return blk

    def _replayed(self, blk: Block) -> None:
        """A block's orders as the log gives them; attributes the log leaves out stay drawn,
        so the streams are consumed exactly as for drawn demand."""
        assert self.trace is not None and self.rows is not None
        t, lo = self.trace, self._next * BLOCK
        rows = self.rows[lo : lo + BLOCK]
        pad = BLOCK - len(rows)
        rows = np.concatenate((rows, np.zeros(pad, dtype=np.int64))) if pad else rows
        blk.customer = rows.tolist()
        blk.vendor = t.restaurant[rows].tolist()
        shift = self.s.demand.shift_min * 60.0
        blk.ready_at = (t.ready_s[rows] + shift).tolist()
        prep = t.prep_s[rows]
        if not np.isnan(prep).all():
            drawn = np.array(blk.prep)
            blk.prep = np.where(np.isnan(prep), drawn, prep).tolist()
        if t.online is not None:
            blk.online = t.online[rows].tolist()
        if t.basket is not None:
            blk.basket = t.basket[rows].tolist()

    def _drawn(self) -> Block:
        s, g, n = self.s, self.rngs, BLOCK
        arr, pay, kit, beh, hand, otp = (
            g["arrivals"],
            g["payment"],
            g["kitchen"],
            g["behaviour"],
            g["handover"],
            g["otp"],
        )
        k = min(s.city.vendor_choice, s.vendor_count)
        pm = s.payment
        online = pay.random(n) < pm.online_share
        pay_u = pay.random(n)
        rest_u = beh.random(n)
        v = s.vendors
        fl = s.fleet
        cu = s.customers
        return Block(
            customer=arr.integers(0, s.customer_count, n).tolist(),
            vendor_slot=arr.integers(0, k, n).tolist(),
            quantity=arr.integers(1, cu.basket_items_max + 1, n).tolist(),
            online=online.tolist(),
            pay_abandon=(pay_u < pm.abandon_probability).tolist(),
            pay_fail=(
                (pay_u >= pm.abandon_probability)
                & (pay_u < pm.abandon_probability + pm.failure_rate)
            ).tolist(),
            pay_delay=pm.delay.sample_many(pay, n).tolist(),
            confirm_delay=v.confirm_delay.sample_many(kit, n).tolist(),
            prep=v.prep_time.sample_many(kit, n).tolist(),
            no_response=(rest_u < v.no_response_probability).tolist(),
            reject=(
                (rest_u >= v.no_response_probability)
                & (rest_u < v.no_response_probability + v.reject_probability)
            ).tolist(),
            rest_cancel=(beh.random(n) < v.cancel_probability).tolist(),
            rest_cancel_frac=beh.random(n).tolist(),
            cust_cancel=(beh.random(n) < cu.cancel_probability).tolist(),
            cust_cancel_after=cu.cancel_after.sample_many(beh, n).tolist(),
            patience=None if cu.patience is None else cu.patience.sample_many(beh, n).tolist(),
            pickup_service=fl.pickup_service.sample_many(hand, n).tolist(),
            dropoff_service=fl.dropoff_service.sample_many(hand, n).tolist(),
            no_show=(hand.random(n) < fl.no_show_probability).tolist(),
            otp_err_pickup=(otp.random(n) < fl.otp_error_probability).tolist(),
            otp_err_delivery=(otp.random(n) < fl.otp_error_probability).tolist(),
            otp_resend=(otp.random(n) < fl.otp_resend_probability).tolist(),
        )
