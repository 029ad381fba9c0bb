"""Schemathesis, every phase and every check, against the app in-process (ASGI) and against a
real ``orderflow serve`` on loopback (slow suite): no failures, no warnings ("missing test data"
among them), and every operation answers some of its requests with a 2xx, so each was reached
with real data, not only refused.

Bounded by examples per operation and steps per stateful scenario (seeded: the same run every
time), so the fast suite's share stays small; ``schemathesis_run`` says how each phase went.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import requests
import schemathesis
from schemathesis.python import asgi

from reference_api.endpoints import ENDPOINTS
from reference_api.http.server import ServerSettings, build_app
from reference_api.policy import Policy
from tests.server.harness import CUSTOMERS, RIDERS, SECRET, VENDORS, LiveServer, fixtures
from tests.server.schemathesis_run import (
    Outcome,
    RoleAuth,
    Staged,
    config,
    fetcher,
    run,
    stage_orders,
)

FX = fixtures()
SEED = 17
#: Cases per operation and phase, and steps per stateful scenario.
MAX_EXAMPLES = 40
STEPS = 50
#: A code may be resent at once (the limit of resends stays), so the fuzzer's resends succeed;
#: and takes more wrong guesses before it locks (test_documented_responses sees the lock).
POLICY_FLAGS: dict[str, float | int] = {"otp_resend_interval_s": 0.0, "otp_max_attempts": 25}
POLICY = Policy().with_overrides(**POLICY_FLAGS)
OPERATIONS = {f"{ep.method} {ep.path}" for ep in ENDPOINTS.values() if ep.method != "WS"}


def _config(staged: Staged) -> schemathesis.Config:
    return config(
        vendor_id=FX.vendors[0].id,
        staged=staged,
        max_examples=MAX_EXAMPLES,
        seed=SEED,
        stateful_steps=STEPS,
    )


def _assert_clean(outcome: Outcome) -> None:
    print(outcome.summary())  # shown with -s, and in the report of a failure
    print(dict(sorted(outcome.sent_as.items())))
    for operation in sorted(OPERATIONS):
        print(operation, outcome.answers_of(operation))
    assert outcome.exit_code == 0 and outcome.failures == 0, outcome.report
    warnings = dict(outcome.warnings)
    # Schemathesis reads a 400 as "the data was refused"; the spec answers a move the order's
    # state forbids with 400 (D14), so a phase whose valid requests all met orders in the wrong
    # state says so. That is no gap in the data as long as the operation was served elsewhere.
    mismatched = set(warnings.pop("validation_mismatch", []))
    assert warnings == {}, (warnings, outcome.report)
    assert mismatched <= outcome.operations_served, (mismatched, outcome.report)
    for name, phase in outcome.phases.items():
        assert phase.status == "success" and phase.cases, (name, phase, outcome.report)
    assert outcome.operations_tested == OPERATIONS, outcome.report
    assert outcome.operations_served == OPERATIONS, sorted(OPERATIONS - outcome.operations_served)


@pytest.fixture
def app_db(tmp_path: Path, seeded_db: Path) -> Path:
    db = tmp_path / "schemathesis.db"
    shutil.copyfile(seeded_db, db)
    return db


def test_schemathesis_in_process(app_db: Path) -> None:
    settings = ServerSettings(
        db=str(app_db), vendors=VENDORS, customers=CUSTOMERS, riders=RIDERS, policy=POLICY
    )
    app = build_app(settings, SECRET)
    client = asgi.get_client(cast(Any, app))
    try:
        with client:
            staged = stage_orders(client, "http://testserver", FX)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(staged))
        auth = RoleAuth(FX, fetcher(client, "http://testserver"))
        schema.auth.providers.append(auth)
        outcome = run(schema, location="/openapi.json")
    finally:
        asgi.shutdown_lifespans()
    outcome.sent_as = auth.sent
    _assert_clean(outcome)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own: the fuzzer acts on every order it can see."""
    policy = [f"--policy={name}={value}" for name, value in POLICY_FLAGS.items()]
    with LiveServer(tmp_path / "schemathesis-live.db", *policy) as server:
        yield server


@pytest.mark.slow
def test_schemathesis_against_orderflow_serve(own_server: LiveServer) -> None:
    location = f"{own_server.url}/openapi.json"
    session = requests.Session()
    staged = stage_orders(session, own_server.url, FX)
    schema = schemathesis.openapi.from_url(location, config=_config(staged))
    auth = RoleAuth(FX, fetcher(session, own_server.url))
    schema.auth.providers.append(auth)
    outcome = run(schema, location=location)
    outcome.sent_as = auth.sent
    _assert_clean(outcome)
