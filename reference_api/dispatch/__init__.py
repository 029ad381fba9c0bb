"""Rider dispatch: which rider takes which order, and when (``base.DispatchStrategy``), chosen by
name (``spec.DispatchSpec``): ``at_confirm`` (the spec's default), ``just_in_time`` and
``rolling_horizon`` (with bundling). All find riders with the same grid index (``grid``)."""

from reference_api.dispatch.at_confirm import AtConfirm
from reference_api.dispatch.base import Assignment, DispatchStrategy, DispatchWork, RideTime
from reference_api.dispatch.grid import BRUTE_FORCE_MAX, GridIndex
from reference_api.dispatch.just_in_time import JustInTime
from reference_api.dispatch.options import POLICIES
from reference_api.dispatch.spec import DispatchSpec, DispatchSpecError

__all__ = [
    "BRUTE_FORCE_MAX",
    "POLICIES",
    "Assignment",
    "AtConfirm",
    "DispatchSpec",
    "DispatchSpecError",
    "DispatchStrategy",
    "DispatchWork",
    "GridIndex",
    "JustInTime",
    "RideTime",
]
