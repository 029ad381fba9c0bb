"""The hand-rolled fast paths give exactly what the standard library would: timestamps as
``strftime`` formats them, ids as ``uuid.UUID(version=4)`` prints them (determinism: same seed,
same bytes as before the optimisation)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from reference_api import bootstrap
from reference_api.clock import ManualClock, iso


@given(st.floats(-5e9, 5e9, allow_nan=False))
def test_iso_matches_strftime(ts: float) -> None:
    assert iso(ts) == datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_iso_examples() -> None:
    assert iso(1_705_312_800.0) == "2024-01-15T10:00:00Z"
    assert iso(1_705_312_800.9) == "2024-01-15T10:00:00Z"
    assert iso(0) == "1970-01-01T00:00:00Z"


def test_manual_clock_moves_only_by_hand() -> None:
    clock = ManualClock()
    assert clock.now() == 1_705_312_800.0
    clock.advance(2.5)
    assert clock.now() == 1_705_312_802.5


def test_ids_are_uuid4_strings_from_the_injected_rng() -> None:
    svc = bootstrap(seed=42)
    twin = random.Random(42)
    for _ in range(2000):
        assert svc.checkout.uuid() == str(uuid.UUID(int=twin.getrandbits(128), version=4))
