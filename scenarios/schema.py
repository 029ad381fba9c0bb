"""The scenario schema: every knob a capacity planner turns, validated once at load time.

The simulation reads these models and nothing else; the load test reads the same file for its
demand curve. Every table forbids unknown keys, so a typo in a scenario is an error that names
the field instead of a silently ignored setting. Durations are in minutes unless a name says
otherwise; times of day are ``"HH:MM"`` (hours may run past 24 for a period that crosses midnight).
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from reference_api.dispatch.options import DEFAULT_POLICY, POLICIES
from reference_api.dispatch.spec import DispatchSpec, DispatchSpecError
from reference_api.money import MAX_PRICE
from scenarios.distributions import Constant, Distribution, Exponential
from scenarios.thresholds import ThresholdError, parse_threshold
from scenarios.traces import Inputs

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d)$")
CITY_LAT, CITY_LON = 19.0760, 72.8777  # the spec's example coordinates (Mumbai)


def _clock(value: str) -> str:
    m = _CLOCK.match(value)
    if m is None or int(m.group(1)) > 47:
        raise ValueError(f"expected a time of day as 'HH:MM' (hours 0-47), got {value!r}")
    return value


TimeOfDay = Annotated[str, AfterValidator(_clock)]


def clock_seconds(value: str) -> float:
    """Seconds since midnight of a validated ``HH:MM`` string."""
    hours, minutes = value.split(":")
    return int(hours) * 3600.0 + int(minutes) * 60.0


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Table):
    start: TimeOfDay = "17:00"
    duration_h: float = Field(gt=0, le=48)
    warmup_min: float = Field(default=0.0, ge=0)
    cooldown_min: float = Field(default=0.0, ge=0)
    #: After arrivals stop, keep running until every order has finished or this much time passed.
    drain_h: float = Field(default=3.0, ge=0)

    @model_validator(mode="after")
    def _window_left(self) -> Period:
        if (self.warmup_min + self.cooldown_min) >= self.duration_h * 60:
            raise ValueError(
                f"warmup_min + cooldown_min ({self.warmup_min + self.cooldown_min:g}) must be "
                f"shorter than the period ({self.duration_h * 60:g} min)"
            )
        return self

    @property
    def start_s(self) -> float:
        return clock_seconds(self.start)

    @property
    def duration_s(self) -> float:
        return self.duration_h * 3600.0


class CurvePoint(_Table):
    at: TimeOfDay
    orders_per_hour: float = Field(ge=0)


class Demand(_Table):
    """Either a piecewise-constant order rate by time of day (``curve``: each point holds until
    the next one) or an order log replayed as it is (``orders_file``, ``scenarios.traces``).
    ``scale`` multiplies the rate, or thins and duplicates the log's orders; ``shift_min``
    moves a log's orders later (earlier when negative)."""

    curve: list[CurvePoint] | None = Field(default=None, min_length=1)
    orders_file: str | None = Field(default=None, min_length=1)
    scale: float = Field(default=1.0, gt=0)
    shift_min: float = 0.0

    @model_validator(mode="after")
    def _increasing(self) -> Demand:
        if (self.curve is None) == (self.orders_file is None):
            raise ValueError("set either curve (a demand curve) or orders_file (an order log)")
        if self.curve is None:
            return self
        if self.shift_min:
            raise ValueError("shift_min applies to an orders_file, not to a curve")
        times = [clock_seconds(p.at) for p in self.curve]
        for i in range(1, len(times)):
            if times[i] <= times[i - 1]:
                raise ValueError(
                    f"curve[{i}].at ({self.curve[i].at}) must be later than curve[{i - 1}].at "
                    f"({self.curve[i - 1].at})"
                )
        return self

    def segments(self, start_s: float, duration_s: float) -> list[tuple[float, float, float]]:
        """The curve over a period as ``(from_s, to_s, orders_per_second)`` with times relative
        to the period's start: what a non-homogeneous Poisson arrival process integrates."""
        cuts = sorted(
            {0.0, duration_s}
            | {
                clock_seconds(p.at) - start_s
                for p in self.points()
                if 0.0 < clock_seconds(p.at) - start_s < duration_s
            }
        )
        return [
            (a, b, self.rate_per_hour(start_s + a) / 3600.0) for a, b in itertools.pairwise(cuts)
        ]

    def points(self) -> list[CurvePoint]:
        """The curve's points (an order log has none: callers that need a curve check first)."""
        if self.curve is None:
            raise ValueError("this scenario replays an order log (demand.orders_file), not a curve")
        return self.curve

    def rate_per_hour(self, time_of_day_s: float) -> float:
        """Orders per hour in force at a time of day (seconds since midnight). Before the first
        point the first rate holds."""
        curve = self.points()
        rate = curve[0].orders_per_hour
        for point in curve:
            if clock_seconds(point.at) <= time_of_day_s:
                rate = point.orders_per_hour
            else:
                break
        return rate * self.scale


class Hotspot(_Table):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0)
    weight: float = Field(default=1.0, gt=0)


class City(_Table):
    #: ``spherical``: latitude/longitude degrees, haversine rides at ``fleet.speed_kmh``;
    #: ``planar``: x/y metres from the data files, rides of ``ceil(metres /
    #: metres_per_minute)`` whole minutes (the MDRP's travel time).
    geometry: Literal["spherical", "planar"] = "spherical"
    metres_per_minute: float | None = Field(default=None, gt=0)
    center_lat: float = Field(default=CITY_LAT, ge=-90, le=90)
    center_lon: float = Field(default=CITY_LON, ge=-180, le=180)
    #: Where kitchens cluster; empty means one 4 km spot at the centre.
    restaurant_hotspots: list[Hotspot] = Field(default_factory=list)
    #: Where customers live; empty means one 6 km spot at the centre.
    customer_hotspots: list[Hotspot] = Field(default_factory=list)
    #: A customer orders from one of this many nearest restaurants.
    vendor_choice: int = Field(default=8, ge=1)

    @model_validator(mode="after")
    def _geometry(self) -> City:
        if self.geometry == "planar" and self.metres_per_minute is None:
            raise ValueError("a planar city needs metres_per_minute (its travel speed)")
        if self.geometry == "spherical" and self.metres_per_minute is not None:
            raise ValueError("metres_per_minute applies to a planar city (geometry = 'planar')")
        return self

    @property
    def planar(self) -> bool:
        return self.geometry == "planar"


class Vendors(_Table):
    #: Drawn restaurants, or (with ``restaurants_file``) the number the file holds.
    count: int | None = Field(default=None, gt=0)
    #: Restaurants with ids and positions (``scenarios.traces``); needed by an order log.
    restaurants_file: str | None = Field(default=None, min_length=1)
    kitchen_slots: int = Field(default=2, gt=0)
    confirm_delay: Distribution = Exponential(mean_min=1.0)
    prep_time: Distribution = Exponential(mean_min=15.0)
    reject_probability: Probability = 0.0
    #: The restaurant never answers; the system's confirm timeout cancels the order.
    no_response_probability: Probability = 0.0
    #: The restaurant cancels during preparation (e.g. an item ran out).
    cancel_probability: Probability = 0.0


class Payment(_Table):
    online_share: Probability = 0.6
    delay: Distribution = Exponential(mean_min=0.3)
    failure_rate: Probability = 0.0
    #: The customer never completes online payment; the system's payment timeout fails it.
    abandon_probability: Probability = 0.0


class Customers(_Table):
    #: Drawn customers; with an order log each order's address is its own customer.
    count: int | None = Field(default=None, gt=0)
    basket_items_max: int = Field(default=3, ge=1, le=100)
    #: at most the API's largest price (a simulated checkout is refused above it)
    item_price: float = Field(default=250.0, gt=0, le=float(MAX_PRICE))
    #: The customer changes their mind and tries to cancel ``cancel_after`` after placing.
    cancel_probability: Probability = 0.0
    cancel_after: Distribution = Exponential(mean_min=3.0)
    #: If set, a customer whose order is not delivered by then tries to cancel it (refused once
    #: preparation has started: that refusal is logged behaviour, not an error).
    patience: Distribution | None = None


class Shift(_Table):
    start: TimeOfDay
    end: TimeOfDay
    share: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Shift:
        if clock_seconds(self.end) <= clock_seconds(self.start):
            raise ValueError(f"end ({self.end}) must be later than start ({self.start})")
        return self


class Fleet(_Table):
    #: Riders drawn on the city, or (with ``roster_file``) the number the roster holds.
    riders: int | None = Field(default=None, gt=0)
    #: Riders are split over shifts by ``share``; empty means one shift covering the period.
    shifts: list[Shift] = Field(default_factory=list)
    #: One row per rider shift with its start position (``scenarios.traces``).
    roster_file: str | None = Field(default=None, min_length=1)
    #: Riders on duty in each whole hour of the period, from its start (``orderflow plan
    #: --staffing hourly`` writes one): rider i works hour h when i < staffing[h].
    staffing: list[Annotated[int, Field(ge=0)]] | None = None
    #: ``whole``: the handover starts once rider and food are both there and the code is typed
    #: at its end. ``split`` (the MDRP's): half of it before the code (walking in, from the
    #: rider's arrival), half after (walking back); a bundle's pickup is one service, taken
    #: when all its food is ready.
    service_model: Literal["whole", "split"] = "whole"
    speed_kmh: float = Field(default=20.0, gt=0)
    detour_factor: float = Field(default=1.3, ge=1.0)
    #: Travel takes no time (for validating the rider pool as an M/M/c queue).
    instant_travel: bool = False
    pickup_service: Distribution = Constant(value_min=2.0)
    dropoff_service: Distribution = Constant(value_min=2.0)
    #: Chance that a rider's first OTP entry (pickup or delivery) is wrong.
    otp_error_probability: Probability = 0.0
    #: After a wrong entry, chance that a new code is requested (resend) before retrying.
    otp_resend_probability: Probability = 0.0
    #: An assigned rider never shows up; the system's pickup timeout cancels the order.
    no_show_probability: Probability = 0.0
    #: Dispatch grid cell; default sizes cells so an average cell holds a few riders.
    dispatch_cell_km: float | None = Field(default=None, gt=0)


class Dispatch(_Table):
    """Which dispatch strategy the service runs and its options (``reference_api.dispatch.spec``
    holds their defaults and bounds; unset options take those). The grid comes from
    ``fleet.dispatch_cell_km`` and the city's centre."""

    policy: str = DEFAULT_POLICY
    slack_min: float | None = None
    interval_min: float | None = None
    horizon_min: float | None = None
    max_bundle: int | None = None
    bundle_window_min: float | None = None
    stack_km: float | None = None
    candidates: int | None = None

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        if value not in POLICIES:
            raise ValueError(
                f"unknown dispatch policy {value!r}; expected one of {', '.join(POLICIES)}"
            )
        return value

    @field_validator(
        "slack_min",
        "interval_min",
        "horizon_min",
        "max_bundle",
        "bundle_window_min",
        "stack_km",
        "candidates",
    )
    @classmethod
    def _option_of_the_policy(cls, value: float | None, info: ValidationInfo) -> float | None:
        """Each option is checked against the strategy's table (``dispatch.spec``), so the
        error names it here as ``dispatch.<option>``."""
        policy = info.data.get("policy")
        if value is None or policy is None:
            return value
        try:
            DispatchSpec.parse(policy, {str(info.field_name): value})
        except DispatchSpecError as exc:
            raise ValueError(exc.reason) from None
        return value

    def spec(self) -> DispatchSpec:
        """The validated strategy choice."""
        options = {
            name: value
            for name, value in self.model_dump(exclude={"policy"}).items()
            if value is not None
        }
        return DispatchSpec.parse(self.policy, options)


class AutoCancel(_Table):
    confirm_timeout_min: float = Field(default=10.0, gt=0)
    pickup_timeout_min: float = Field(default=30.0, gt=0)
    payment_timeout_min: float = Field(default=15.0, gt=0)


class Refunds(_Table):
    processing_delay_min: float = Field(default=1.0, gt=0)
    settle_delay_min: float = Field(default=5.0, gt=0)
    failure_rate: Probability = 0.0


class Sla(_Table):
    """Targets whose breach rates the summary reports."""

    click_to_door_min: float = Field(default=40.0, gt=0)
    click_to_confirm_min: float = Field(default=5.0, gt=0)
    rider_wait_min: float = Field(default=10.0, gt=0)


class Output(_Table):
    #: Interval of the resource sampler (riders busy/idle/off, kitchen queues, orders by state).
    resource_sample_min: float = Field(default=1.0, gt=0)


def _threshold(value: str) -> str:
    """The thresholds' own grammar (``scenarios.thresholds``), checked at load time."""
    try:
        parse_threshold("threshold", value, "[thresholds]")
    except ThresholdError as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None
    return value


class Mdrp(_Table):
    """Scoring terms of a Grubhub Meal Delivery Routing Problem instance (its
    ``instance_parameters.txt``). With this table a run also writes its solution in the
    evaluator's format and reports the KPIs as the MDRP does (``sim.mdrp``)."""

    instance: str = ""
    target_click_to_door_min: float = Field(default=40.0, gt=0)
    #: an order delivered later than this after placement counts as undelivered
    max_click_to_door_min: float = Field(default=90.0, gt=0)
    pay_per_order: float = Field(default=10.0, ge=0)
    guaranteed_pay_per_hour: float = Field(default=15.0, ge=0)


class Scenario(_Table):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = Field(min_length=1)
    description: str = ""
    seed: int = Field(default=1, ge=0)
    replications: int = Field(default=1, ge=1)
    period: Period
    demand: Demand
    city: City = City()
    vendors: Vendors
    customers: Customers = Customers()
    payment: Payment = Payment()
    fleet: Fleet
    dispatch: Dispatch = Dispatch()
    auto_cancel: AutoCancel = AutoCancel()
    refunds: Refunds = Refunds()
    sla: Sla = Sla()
    output: Output = Output()
    mdrp: Mdrp | None = None
    #: Pass/fail rules for reports, e.g. ``click_to_door = "p95 < 40min"``; kept verbatim here.
    thresholds: dict[str, Annotated[str, AfterValidator(_threshold)]] = Field(default_factory=dict)
    #: What the data files held, read by the loader (never written back: the files are).
    inputs: Inputs | None = Field(default=None, exclude=True, repr=False)

    # Counts: drawn ones as the file says, file-backed ones as the loader filled them in.
    @property
    def vendor_count(self) -> int:
        return _loaded(self.vendors.count, "vendors.count")

    @property
    def customer_count(self) -> int:
        return _loaded(self.customers.count, "customers.count")

    @property
    def rider_count(self) -> int:
        staffing = self.fleet.staffing
        if staffing is not None:
            return max(staffing)
        return _loaded(self.fleet.riders, "fleet.riders")

    @model_validator(mode="after")
    def _sources(self) -> Scenario:
        """Each of restaurants, customers and riders comes from one place: drawn (a count) or
        a file; the combinations that cannot work are named here, field by field."""
        if self.inputs is not None:
            return self  # filled in by the loader after these checks passed
        d, v, c, f = self.demand, self.vendors, self.customers, self.fleet
        problems: list[str] = []
        if d.orders_file is not None:
            if v.restaurants_file is None:
                problems.append("vendors.restaurants_file: an order log needs its restaurants")
        else:
            if v.count is None:
                problems.append("vendors.count: required field is missing")
            if v.restaurants_file is not None:
                problems.append("vendors.restaurants_file: needs demand.orders_file")
            if c.count is None:
                problems.append("customers.count: required field is missing")
        if f.roster_file is not None and f.staffing is not None:
            problems.append("fleet: set roster_file (a roster) or staffing (riders per hour)")
        elif f.riders is None and f.roster_file is None and f.staffing is None:
            problems.append(
                "fleet: set one of riders (a count), roster_file (a roster) or staffing "
                "(riders per hour)"
            )
        if f.roster_file is not None and f.shifts:
            problems.append("fleet.shifts: a roster gives each rider's shifts; remove shifts")
        if f.staffing is not None:
            hours = math.ceil(self.period.duration_h - 1e-9)
            if f.shifts:
                problems.append("fleet.shifts: a staffing gives each rider's hours; remove shifts")
            if len(f.staffing) != hours:
                problems.append(
                    f"fleet.staffing: needs one value per hour of the period ({hours}), "
                    f"got {len(f.staffing)}"
                )
            elif max(f.staffing) == 0:
                problems.append("fleet.staffing: needs a rider in at least one hour")
            elif f.riders is not None and f.riders != max(f.staffing):
                problems.append(
                    f"fleet.riders: {f.riders}, but fleet.staffing needs {max(f.staffing)} "
                    "(its busiest hour); remove riders"
                )
        if self.city.planar:
            for name, value in (
                ("demand.orders_file", d.orders_file),
                ("fleet.roster_file", f.roster_file),
            ):
                if value is None:
                    problems.append(f"{name}: a planar city takes its positions from files")
        if self.mdrp is not None:
            if not self.city.planar:
                problems.append("mdrp: an MDRP instance needs city.geometry = 'planar'")
            if f.service_model != "split":
                problems.append("mdrp: an MDRP instance needs fleet.service_model = 'split'")
            for name in ("pickup_service", "dropoff_service"):
                dist = getattr(f, name)
                # the split model takes half before the code and half after: whole minutes each
                if not isinstance(dist, Constant) or dist.value_min % 2 != 0:
                    problems.append(
                        f"fleet.{name}: an MDRP instance needs an even number of whole minutes "
                        "(half of it before the code, half after)"
                    )
            if d.scale != 1.0 or d.shift_min != 0.0:
                problems.append(
                    "demand: an MDRP instance replays its orders as they are (scale 1, "
                    "shift_min 0): its solution names each order once, at its own times"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _loaded(value: int | None, field: str) -> int:
    if value is None:
        raise ValueError(f"{field} is unknown until the scenario's data files are read")
    return value
