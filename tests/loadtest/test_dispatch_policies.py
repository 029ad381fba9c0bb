"""`orderflow loadtest` against `orderflow serve --dispatch just_in_time` and `--dispatch
rolling_horizon` (rounds every 3 wall seconds) with two riders and one restaurant, so riders are
scarce and the rolling horizon gives one rider several orders at once: every journey still passes
the spec's checks, acting as whichever rider the server assigned, and a bundle's rider steps
happen in the sequence the server gave them (pickups, departures and hand-overs in turn)."""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from orderflow.cli import main
from orderflow.served import ServedProcess
from reference_api.http.auth import issue_token
from reference_api.roles import SYSTEM_ACTOR
from tests.loadtest.conftest import REPO, SECRET, env, loadtest
from tests.loadtest.rundir import read_run

RIDERS, CUSTOMERS = 2, 20
#: A burst of orders at one restaurant (about 7 a wall second at speedup 40) and every journey
#: path at a small probability. Kitchens take 3-4.5 scenario minutes: 4.5-7 wall seconds at
#: speedup 40, longer than a round (3 s), so orders still cook at a round and may be bundled
#: (the food that is ready goes to the nearest free rider at once, alone); and the estimate
#: the restaurant gives (3-4 minutes, which the server takes as wall minutes) is shorter than
#: either rider's ride to the restaurant (5 and 10 minutes), so the round assigns them at once.
SCENARIO = """
name = "scarce_riders"
seed = 11

[period]
start = "18:00"
duration_h = 1.0

[demand]
curve = [{ at = "18:00", orders_per_hour = 600 }]

[vendors]
count = 1
confirm_delay = { dist = "constant", value_min = 0.5 }
prep_time = { dist = "uniform", low_min = 3, high_min = 4.5 }
reject_probability = 0.05
cancel_probability = 0.05

[payment]
online_share = 0.5
delay = { dist = "constant", value_min = 0.2 }
failure_rate = 0.05

[customers]
count = 20
cancel_probability = 0.05
cancel_after = { dist = "uniform", low_min = 0.1, high_min = 1.0 }

[fleet]
riders = 2
pickup_service = { dist = "constant", value_min = 1 }
dropoff_service = { dist = "constant", value_min = 1 }
otp_error_probability = 0.3
otp_resend_probability = 0.5
"""
#: The rider's steps, by request name, that a bundle's orders take in its sequence.
SEQUENCED = (
    "POST /api/orders/[id]/pickup/",
    "POST /api/orders/[id]/start-delivery/",
    "POST /api/orders/[id]/complete-delivery/",
)


def tokens_near_the_restaurant(path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`orderflow token --all` for one restaurant, with the customers' addresses moved to
    0.4-1.2 km around it, so rides are short: the fixture homes lie 3-8 km away, which at
    speedup 40 would make every delivery take half a wall minute."""
    monkeypatch.setenv("ORDERFLOW_JWT_SECRET", SECRET)
    args = ["--vendors", "1", "--customers", str(CUSTOMERS), "--riders", str(RIDERS)]
    assert main(["token", "--all", "--out", str(path), *args]) == 0
    doc = json.loads(path.read_text())
    vendor = doc["vendors"][0]
    coslat = math.cos(math.radians(vendor["latitude"]))
    for i, address in enumerate(doc["addresses"]):
        km, bearing = 0.4 + 0.8 * ((i * 37) % 20) / 20, i * 2.399963
        address["latitude"] = round(vendor["latitude"] + km / 111.2 * math.cos(bearing), 6)
        address["longitude"] = round(
            vendor["longitude"] + km / (111.2 * coslat) * math.sin(bearing), 6
        )
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[ServedProcess] = []

    def start(*dispatch: str) -> ServedProcess:
        server = ServedProcess(
            tmp_path / f"{len(started)}.db",
            "--vendors", "1", "--customers", str(CUSTOMERS), "--riders", str(RIDERS), *dispatch,
            env=env(), cwd=REPO,
        )  # fmt: skip
        started.append(server)
        return server.start(30)

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def orders_on_the_server(url: str, order_ids: list[str]) -> dict[str, dict[str, Any]]:
    token = issue_token(SYSTEM_ACTOR, SECRET.encode(), now=time.time(), ttl_s=600)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10.0) as client:
        found = {}
        for oid in order_ids:
            response = client.get(f"/api/orders/{oid}/")
            assert response.status_code == 200, response.text
            found[oid] = response.json()
    return found


def run_against(url: str, tokens: Path, out: Path) -> Any:
    proc = loadtest(
        [str(out.parent / "scarce_riders.toml"), "--host", url, "--tokens", str(tokens),
         "--speedup", "40", "--duration", "2", "--seed", "5", "--background", "0",
         "--rider-wait", "60", "--drain", "60", "--max-requests", "3000", "--out", str(out)],
        timeout=150,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = read_run(out)
    j = run.journeys
    failed = j[j["outcome"] != "ok"]
    assert failed.empty, failed[["kind", "outcome", "failure_reason"]].to_string()
    assert len(j) == run.manifest["counts"]["planned_journeys"] >= 10
    assert "delivered_cod" in set(j["kind"]) and "delivered_online" in set(j["kind"])
    r = run.requests
    assert r["error"].isna().all(), r[r["error"].notna()][["endpoint", "error"]].to_string()
    assert r["planned"].sum() == len(run.planned)
    return run


def step_times(requests: pd.DataFrame, order_id: str, endpoint: str) -> tuple[float, float]:
    """When the order's accepted request of this rider step was sent and answered."""
    done = requests[
        (requests["order_id"] == order_id)
        & (requests["endpoint"] == endpoint)
        & (requests["status"] == 200)
    ]
    assert len(done) == 1, (order_id, endpoint, done)
    return float(done["start_ts"].iloc[0]), float(done["end_ts"].iloc[0])


def test_rolling_horizon_bundles_and_journeys_take_them_in_sequence(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scarce_riders.toml").write_text(SCENARIO)
    tokens = tokens_near_the_restaurant(tmp_path / "tokens.json", monkeypatch)
    server = serve(
        "--dispatch", "rolling_horizon", "--dispatch-option", "interval_min=0.05",
        # any two orders of the restaurant may share a rider (not only neighbours)
        "--dispatch-option", "stack_km=50",
    )  # fmt: skip
    run = run_against(server.url, tokens, tmp_path / "run")
    ids = run.journeys["order_id"].dropna().tolist()
    orders = orders_on_the_server(server.url, ids)

    bundles: dict[str, list[str]] = {}
    for oid, detail in orders.items():
        bundle = detail["bundle"]
        if bundle is None:
            continue
        assert bundle["orders"][bundle["position"] - 1] == oid
        assert bundles.setdefault(bundle["id"], bundle["orders"]) == bundle["orders"]
    assert bundles, "no order was bundled: " + json.dumps(
        {o: (d["order_status"], d["delivery_person"]) for o, d in orders.items()}
    )
    r = run.requests
    for members in bundles.values():
        assert len({orders[o]["delivery_person"] for o in members}) == 1, members
        assert {orders[o]["order_status"] for o in members} <= {"DELIVERED", "CANCELLED"}
        delivered = [o for o in members if orders[o]["order_status"] == "DELIVERED"]
        for endpoint in SEQUENCED:
            # each step of an order was sent only once the order before it in the bundle had
            # made it (its request sent, and its new status read back from the server)
            times = [step_times(r, o, endpoint) for o in delivered]
            for (sent, _), (next_sent, _) in itertools.pairwise(times):
                assert sent < next_sent, (endpoint, members, times)
        # the journeys read the orders before theirs to know when it was their turn
        later = r[r["order_id"].isin(delivered[1:]) & (r["role"] == "rider")]
        assert (later["endpoint"] == "GET /api/orders/[id]/").any() or len(delivered) < 2


def test_just_in_time_journeys_pass_with_scarce_riders(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scarce_riders.toml").write_text(SCENARIO)
    tokens = tokens_near_the_restaurant(tmp_path / "tokens.json", monkeypatch)
    server = serve("--dispatch", "just_in_time", "--dispatch-option", "slack_min=1")
    run = run_against(server.url, tokens, tmp_path / "run")
    orders = orders_on_the_server(server.url, run.journeys["order_id"].dropna().tolist())
    riders = {d["delivery_person"] for d in orders.values() if d["delivery_person"]}
    assert len(riders) == RIDERS  # both riders worked
    assert all(d["bundle"] is None for d in orders.values())  # one order at a time
