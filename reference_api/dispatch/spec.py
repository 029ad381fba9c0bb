"""A dispatch strategy by name and options: the one table of what each strategy takes, its
defaults and bounds, read by the scenario's ``[dispatch]`` table and by ``orderflow serve
--dispatch NAME --dispatch-option K=V``, so both accept the same values and refuse the same
mistakes with the same words."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from reference_api.dispatch.at_confirm import AtConfirm
from reference_api.dispatch.base import DispatchStrategy, RideTime
from reference_api.dispatch.just_in_time import JustInTime
from reference_api.policy import Policy

AT_CONFIRM, JUST_IN_TIME, ROLLING_HORIZON = "at_confirm", "just_in_time", "rolling_horizon"
POLICIES = (AT_CONFIRM, JUST_IN_TIME, ROLLING_HORIZON)
DEFAULT_POLICY = AT_CONFIRM


class OptionSpec(NamedTuple):
    policies: tuple[str, ...]  # the strategies it applies to
    default: float
    lo: float  # inclusive lower bound
    hi: float  # inclusive upper bound
    whole: bool  # a whole number
    doc: str


#: Every option, in the units users write them (minutes, counts, km, degrees).
OPTIONS: dict[str, OptionSpec] = {
    "cell_km": OptionSpec(POLICIES, 1.0, 0.01, 100.0, False, "nearest-rider grid cell, km"),
    "ref_lat": OptionSpec(POLICIES, 19.07, -89.0, 89.0, False, "latitude the grid is centred on"),
    "slack_min": OptionSpec(
        (JUST_IN_TIME,), 2.0, 0.0, 60.0, False, "minutes a rider should arrive before the food"
    ),
    "interval_min": OptionSpec(
        (ROLLING_HORIZON,), 5.0, 0.01, 120.0, False, "minutes between assignment rounds"
    ),
    "horizon_min": OptionSpec(
        (ROLLING_HORIZON,), 10.0, 0.0, 240.0, False, "only orders ready within this are assigned"
    ),
    "max_bundle": OptionSpec((ROLLING_HORIZON,), 2, 1, 10, True, "most orders one rider takes"),
    "bundle_window_min": OptionSpec(
        (ROLLING_HORIZON,), 5.0, 0.0, 60.0, False, "ready times of one bundle lie within this"
    ),
    "stack_km": OptionSpec(
        (ROLLING_HORIZON,), 1.0, 0.0, 50.0, False, "bundle beyond the target only this close"
    ),
    "candidates": OptionSpec(
        (ROLLING_HORIZON,), 8, 1, 1000, True, "nearest free riders costed per bundle"
    ),
}


#: The nearest-rider grid's options, which every strategy takes.
GRID_OPTIONS = ("cell_km", "ref_lat")


class DispatchSpecError(ValueError):
    """A strategy name or option that cannot be used: ``field`` names it, ``reason`` says why,
    ``detail`` adds the value given (callers that quote values themselves use ``reason``)."""

    def __init__(self, field: str, reason: str, value: object = None) -> None:
        self.field = field
        self.reason = reason
        self.detail = reason if value is None else f"{reason}, got {value!r}"
        super().__init__(f"{field}: {self.detail}")


@dataclass(frozen=True)
class DispatchSpec:
    policy: str = DEFAULT_POLICY
    options: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, policy: object, options: Mapping[str, object]) -> DispatchSpec:
        """Validate a name and its options (numbers, or text holding one), naming the first
        that is wrong."""
        if not isinstance(policy, str) or policy not in POLICIES:
            known = ", ".join(POLICIES)
            raise DispatchSpecError(
                "policy", f"unknown dispatch policy {policy!r}; expected one of {known}"
            )
        values: dict[str, float] = {}
        for name, raw in options.items():
            spec = OPTIONS.get(name)
            if spec is None:
                known = ", ".join(o for o, s in OPTIONS.items() if policy in s.policies)
                raise DispatchSpecError(name, f"unknown dispatch option; {policy} takes {known}")
            if policy not in spec.policies:
                raise DispatchSpecError(
                    name, f"applies to {', '.join(spec.policies)}, not to {policy}"
                )
            values[name] = _number(name, raw, spec)
        return cls(policy, values)

    def value(self, name: str) -> float:
        found = self.options.get(name)
        return OPTIONS[name].default if found is None else found

    def build(self, policy: Policy) -> DispatchStrategy:
        """A fresh strategy (empty: the service fills it from the store), riding at the
        ``policy``'s speed and detour, the ETA's."""
        ride = RideTime(policy.rider_speed_kmh, policy.detour_factor)
        grid = {name: self.value(name) for name in GRID_OPTIONS}
        if self.policy == JUST_IN_TIME:
            return JustInTime(ride, slack_s=self.value("slack_min") * 60, **grid)
        if self.policy == ROLLING_HORIZON:
            from reference_api.dispatch.rolling_horizon import RollingHorizon  # imports SciPy

            return RollingHorizon(
                ride,
                interval_s=self.value("interval_min") * 60,
                horizon_s=self.value("horizon_min") * 60,
                max_bundle=int(self.value("max_bundle")),
                bundle_window_s=self.value("bundle_window_min") * 60,
                stack_km=self.value("stack_km"),
                candidates=int(self.value("candidates")),
                **grid,
            )
        return AtConfirm(**grid)

    def describe(self, *, grid: bool = True) -> dict[str, object]:
        """The policy and every option it uses, defaults filled in (for run manifests);
        ``grid=False`` leaves out the grid's, which the simulation sizes itself."""
        used = {
            n: self.value(n)
            for n, s in OPTIONS.items()
            if self.policy in s.policies and (grid or n not in GRID_OPTIONS)
        }
        return {"policy": self.policy, **used}


def _number(name: str, raw: object, spec: OptionSpec) -> float:
    value: float
    if isinstance(raw, bool):
        raise DispatchSpecError(name, "expected a number", raw)
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise DispatchSpecError(name, "expected a number", raw) from None
    else:
        raise DispatchSpecError(name, "expected a number", raw)
    if not math.isfinite(value) or not spec.lo <= value <= spec.hi:
        raise DispatchSpecError(name, f"must be between {spec.lo:g} and {spec.hi:g}", raw)
    if spec.whole and value != int(value):
        raise DispatchSpecError(name, "expected a whole number", raw)
    return value
