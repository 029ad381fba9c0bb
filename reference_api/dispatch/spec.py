"""A dispatch strategy by name and options: the one table of what each strategy takes, its
defaults and bounds, read by the scenario's ``[dispatch]`` table and by ``orderflow serve
--dispatch NAME --dispatch-option K=V``, so both accept the same values and refuse the same
mistakes with the same words."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from reference_api.dispatch.at_confirm import AtConfirm
from reference_api.dispatch.base import DispatchStrategy
from reference_api.dispatch.just_in_time import JustInTime
from reference_api.dispatch.options import (
    DEFAULT_POLICY,
    GRID_OPTIONS,
    JUST_IN_TIME,
    OPTIONS,
    POLICIES,
    ROLLING_HORIZON,
    OptionSpec,
)
from reference_api.policy import Policy


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
        """A fresh strategy (empty: the service fills it from the store), riding in the
        ``policy``'s geometry, the ETA's, and allowing its pickup lead before a shift ends."""
        ride = policy.geometry
        lead = policy.pickup_lead_s
        grid = {name: self.value(name) for name in GRID_OPTIONS}
        if self.policy == JUST_IN_TIME:
            slack_s = self.value("slack_min") * 60
            return JustInTime(ride, slack_s=slack_s, pickup_lead_s=lead, **grid)
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
                pickup_lead_s=lead,
                **grid,
            )
        return AtConfirm(ride=ride, pickup_lead_s=lead, **grid)

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
