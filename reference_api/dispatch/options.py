"""The dispatch strategies' names and the one table of their options: defaults and bounds, in
the units users write them. A leaf, so the strategies take their constructor defaults from it
and ``spec`` its validation, and the two cannot drift apart."""

from __future__ import annotations

from typing import NamedTuple

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


def default(name: str, scale: float = 1.0) -> float:
    """Option ``name``'s default, times ``scale`` (60 turns minutes into a strategy's seconds)."""
    return OPTIONS[name].default * scale
