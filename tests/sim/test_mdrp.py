"""Grubhub MDRP instances as scenarios: run through the full API, written as solutions in the
evaluator's format, feasible by the MDRP's rules, and scored the same by us and by Grubhub's
evaluator (run from ``../shared/mdrp`` when it is there)."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orderflow.cli import main
from reference_api.dispatch.options import POLICIES
from scenarios import load_scenario
from sim import mdrp
from sim.runner import simulate_replication

ROOT = Path(__file__).parents[2]
INSTANCES = ROOT / "data" / "mdrp" / "instances"
SMALL = INSTANCES / "0o50t75s1p100"
EVALUATOR = Path(
    os.environ.get(
        "ORDERFLOW_MDRP_EVALUATOR",
        ROOT.parent / "shared" / "mdrp" / "compute_performance_summary.py",
    )
)


def tab(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


def check_feasible(instance: Path, sol: mdrp.Solution, s_r: int = 4, s_o: int = 4) -> None:
    """The MDRP's rules (its description, section 2.1), checked from our side."""
    orders = tab(instance / "orders.txt").set_index("order")
    couriers = tab(instance / "couriers.txt").set_index("courier")
    rests = tab(instance / "restaurants.txt").set_index("restaurant")
    mpm = float(tab(instance / "instance_parameters.txt").iloc[0]["meters_per_minute"])
    seen: set[str] = set()
    drop = {d.order: d for d in sol.deliveries}
    for a in sol.assignments:
        assert not seen & set(a.orders), "an order in two assignments"
        seen |= set(a.orders)
        assert all(a.at_min >= orders.at[o, "placement_time"] for o in a.orders)
        assert a.pickup_min <= couriers.at[a.courier, "off_time"], "pickup after the off-time"
        assert all(a.pickup_min >= orders.at[o, "ready_time"] for o in a.orders)
        times = [drop[o].dropoff_min for o in a.orders]
        assert all(b >= x + s_o for x, b in itertools.pairwise(times))
    where = {
        **{o: (r.x, r.y) for o, r in orders.iterrows()},
        **{k: (r.x, r.y) for k, r in rests.iterrows()},
    }
    for cid, moves in pd.DataFrame([m.__dict__ for m in sol.moves]).groupby("courier", sort=False):
        here, free = cid, couriers.at[cid, "on_time"]
        where[cid] = (couriers.at[cid, "x"], couriers.at[cid, "y"])
        for m in moves.itertuples():
            origin = cid if m.origin == "0" else m.origin
            assert origin == here, "a courier left from where they were not"
            assert m.depart_min >= free, "departed before arriving"
            a, b = where[origin], where[m.destination]
            free = m.depart_min + math.ceil(
                math.sqrt((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) / mpm
            )
            here = m.destination
    del s_r


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_gives_a_feasible_solution(policy: str) -> None:
    loaded = load_scenario(str(SMALL), [f"dispatch.policy={policy}"])
    out = simulate_replication(loaded.scenario, 1, 0, with_tables=False)
    assert out.mdrp is not None
    check_feasible(SMALL, out.mdrp)
    k = out.kpis
    assert k["mdrp_orders"] == 252
    assert k["mdrp_undelivered_share"] <= 0.01
    assert 15 < k["mdrp_click_to_door_mean_min"] < 60
    assert 0.2 < k["mdrp_courier_utilisation"] < 1.0
    # confirmed at placement, cash on delivery, ready at the instance's ready time
    assert k["click_to_confirm_mean_min"] == 0.0
    assert k["payment_failed"] == 0.0 and k["cancelled"] == 0.0


def test_food_is_ready_when_the_instance_says_and_pickups_follow_the_split_service() -> None:
    loaded = load_scenario(str(SMALL))
    out = simulate_replication(loaded.scenario, 1, 0)
    got = out.tables["orders"].to_pandas()
    trace = loaded.scenario.inputs.orders  # type: ignore[union-attr]
    assert np.array_equal(got["ready"].to_numpy(), trace.ready_s)
    picked, arrived = got["picked_up"].to_numpy(), got["rider_arrived"].to_numpy()
    ready = got["ready"].to_numpy()
    # taken at max(arrival + half the pickup service, ready), never before
    assert np.allclose(picked, np.maximum(arrived + 120, ready), atol=1e-3)


def test_simulate_an_instance_dir_writes_the_evaluator_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["simulate", str(SMALL), "--out", str(out), "--quiet"]) == 0
    for name in mdrp.FILES:
        lines = (out / "mdrp" / name).read_text().splitlines()
        assert len(lines) > 10 and lines[0].split()[0] in ("assignment_time", "order", "courier")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kpis"]["mdrp_undelivered_share"]["mean"] is not None
    # the run directory holds its data files and replays on its own
    again = load_scenario(str(out / "scenario.toml"))
    assert again.scenario.inputs is not None
    k1 = simulate_replication(again.scenario, 1, 0, with_tables=False).kpis
    assert k1["mdrp_click_to_door_mean_min"] == pytest.approx(
        summary["kpis"]["mdrp_click_to_door_mean_min"]["mean"], abs=1e-6
    )


def test_import_mdrp_writes_an_equivalent_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "scen" / "small.toml"
    assert main(["import-mdrp", str(SMALL), "--out", str(target)]) == 0
    assert "252 orders, 93 restaurants, 61 couriers" in capsys.readouterr().out
    assert {p.name for p in target.parent.iterdir()} == {
        "small.toml",
        "small-orders.csv",
        "small-restaurants.csv",
        "small-couriers.csv",
    }
    assert main(["import-mdrp", str(SMALL), "--out", str(target)]) == 1  # refuses to overwrite
    a = simulate_replication(load_scenario(str(target)).scenario, 1, 0, with_tables=False)
    b = simulate_replication(load_scenario(str(SMALL)).scenario, 1, 0, with_tables=False)
    assert a.kpis == b.kpis
    assert main(["import-mdrp", str(tmp_path), "--out", str(target)]) == 1


def test_orders_later_than_the_maximum_count_as_undelivered() -> None:
    loaded = load_scenario(str(SMALL), ["mdrp.max_click_to_door_min=35"])
    out = simulate_replication(loaded.scenario, 1, 0, with_tables=False)
    assert out.mdrp is not None
    late = out.kpis["delivered"] - out.kpis["mdrp_delivered"]
    assert late > 0
    assert out.kpis["mdrp_undelivered_share"] == pytest.approx(late / 252)
    assert all(d.dropoff_min - d.placed_min <= 35 for d in out.mdrp.deliveries)
    check_feasible(SMALL, out.mdrp)


def test_a_bad_instance_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in SMALL.iterdir():
        (bad / f.name).write_text(f.read_text())
    text = (bad / "orders.txt").read_text().splitlines()
    cells = text[3].split("\t")
    cells[4] = "r99999"
    text[3] = "\t".join(cells)
    (bad / "orders.txt").write_text("\n".join(text) + "\n")
    with pytest.raises(
        Exception, match=r"orders.txt: row 3, column restaurant: unknown restaurant"
    ):
        load_scenario(str(bad))


@pytest.mark.skipif(not EVALUATOR.is_file(), reason=f"Grubhub's evaluator not at {EVALUATOR}")
@pytest.mark.parametrize(
    ("instance", "policy"),
    [
        ("0o50t75s1p100", "at_confirm"),
        ("0r50t100s2p125", "just_in_time"),
        ("0o100t100s1p100", "rolling_horizon"),
        ("0o50t100s1p125", "rolling_horizon"),
    ],
)
def test_grubhubs_evaluator_finds_it_feasible_and_agrees(
    tmp_path: Path, instance: str, policy: str
) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from mdrp_validation import agrees, evaluate

    loaded = load_scenario(str(INSTANCES / instance), [f"dispatch.policy={policy}"])
    out = simulate_replication(loaded.scenario, 1, 0, with_tables=False)
    assert out.mdrp is not None
    mdrp.write(out.mdrp, tmp_path)
    theirs = evaluate(EVALUATOR, INSTANCES / instance, tmp_path)
    assert theirs["feasible"], theirs.get("verdict")
    assert agrees(out.kpis, theirs) == []


def test_validation_script_runs_and_writes_the_page(tmp_path: Path) -> None:
    page = tmp_path / "validation.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "mdrp_validation.py"),
            "--instances",
            str(INSTANCES / "0r50t75s2p1*"),
            "--policies",
            "rolling_horizon",
            "--write",
            str(page),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    text = page.read_text()
    assert "0r50t75s2p100" in text and "0r50t75s2p125" in text and "Reyes" in text


def test_same_instance_same_seed_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main(["simulate", str(SMALL), "--out", str(tmp_path / name), "--quiet"]) == 0
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert len(files) > 10
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["demand.scale=2"], "replays its orders as they are"),
        (["fleet.dropoff_service.value_min=5"], "an even number of whole minutes"),
    ],
)
def test_an_instance_refuses_what_its_solution_cannot_express(
    sets: list[str], message: str
) -> None:
    with pytest.raises(Exception, match=message):
        load_scenario(str(SMALL), sets)


def test_a_missing_instance_file_is_named(tmp_path: Path) -> None:
    for f in SMALL.iterdir():
        if f.name != "couriers.txt":
            (tmp_path / f.name).write_text(f.read_text())
    with pytest.raises(Exception, match=r"lacks couriers\.txt"):
        load_scenario(str(tmp_path))
