"""Scenarios fed from data files: an order log, its restaurants and a rider roster. Bad files are
refused with the file, row and column; good ones replay deterministically, scale and shift as
documented, and a simulation's own day exported as files replays to the same KPIs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scenarios import ScenarioError, load_scenario
from scenarios.traces import Inputs, OrderTrace, Places, Roster, RosterShift, write_inputs
from sim.runner import simulate_replication

SCENARIO = """
name = "replay"
seed = 3
[period]
start = "18:00"
duration_h = 2
drain_h = 2
[demand]
orders_file = "orders.csv"
[vendors]
restaurants_file = "restaurants.csv"
kitchen_slots = 2
[fleet]
roster_file = "couriers.csv"
"""
RESTAURANTS = "restaurant,lat,lon\nk1,19.07,72.87\nk2,19.08,72.88\nk3,19.06,72.89\n"
COURIERS = (
    "courier,lat,lon,on_min,off_min\nc1,19.07,72.87,0,120\nc2,19.08,72.88,0,60\n"
    "c2,19.075,72.875,70,110\nc3,19.06,72.86,10,100\n"
)


def orders_csv(n: int = 40) -> str:
    rng = np.random.default_rng(5)
    lines = ["order,placed_min,restaurant,lat,lon,prep_min,payment,basket"]
    for i in range(n):
        lines.append(
            f"o{i},{i * 2.5:.2f},k{1 + i % 3},{19.05 + rng.random() * 0.04:.5f},"
            f"{72.85 + rng.random() * 0.05:.5f},{8 + i % 7},{'online' if i % 4 == 0 else 'cod'},"
            f"{200 + i}"
        )
    return "\n".join(lines) + "\n"


def write(tmp: Path, *, scenario: str = SCENARIO, **files: str) -> Path:
    contents = {
        "restaurants.csv": RESTAURANTS,
        "couriers.csv": COURIERS,
        "orders.csv": orders_csv(),
        **{k.replace("_", "."): v for k, v in files.items()},
    }
    for name, text in contents.items():
        (tmp / name).write_text(text)
    path = tmp / "replay.toml"
    path.write_text(scenario)
    return path


def test_a_log_and_roster_load_with_counts_from_the_files(tmp_path: Path) -> None:
    s = load_scenario(str(write(tmp_path))).scenario
    assert (s.vendor_count, s.customer_count, s.rider_count) == (3, 40, 3)
    assert s.inputs is not None and s.inputs.roster is not None
    assert [len(x) for x in s.inputs.roster.shifts] == [1, 2, 1]  # c2 works two shifts
    assert s.inputs.orders is not None
    assert s.inputs.orders.online is not None and s.inputs.orders.online.sum() == 10


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "orders_csv",
            "order,placed_min,restaurant,lat,lon\no1,5,k9,19.07,72.87\n",
            "orders.csv: row 1, column restaurant: unknown restaurant id 'k9'",
        ),
        (
            "orders_csv",
            "order,placed_min,lat,lon\no1,5,19.07,72.87\n",
            "orders.csv: missing column(s) restaurant",
        ),
        (
            "orders_csv",
            "order,placed_min,restaurant,lat,lon\no1,5,k1,19.07,72.87\no2,abc,k1,19.07,72.87\n",
            "orders.csv: row 2, column placed_min: expected a number, got 'abc'",
        ),
        (
            "orders_csv",
            "order,placed_min,restaurant,lat,lon,ready_min\no1,5,k1,19.07,72.87,3\n",
            "row 1, column ready_min: before placed_min",
        ),
        (
            "orders_csv",
            "order,placed_min,restaurant,lat,lon,payment\no1,5,k1,19.07,72.87,card\n",
            "row 1, column payment: expected one of cod, online, got 'card'",
        ),
        (
            "couriers_csv",
            "courier,lat,lon,on_min,off_min\nc1,19.07,72.87,50,40\n",
            "couriers.csv: row 1, column off_min: must be later than on_min (40 <= 50)",
        ),
        (
            "couriers_csv",
            "courier,lat,lon,on_min,off_min\nc1,19.07,72.87,0,60\nc1,19.07,72.87,30,90\n",
            "row 2, column on_min: courier 'c1': overlaps the shift in row 1",
        ),
        (
            "restaurants_csv",
            "restaurant,lat,lon\nk1,19.07,72.87\nk1,19.08,72.88\n",
            "restaurants.csv: row 2, column restaurant: duplicate id 'k1' (first in row 1)",
        ),
        (
            "restaurants_csv",
            "restaurant,lat,lon\nk1,99.07,72.87\n",
            "row 1, column lat: must be between -90 and 90, got '99.07'",
        ),
    ],
)
def test_bad_files_name_the_file_row_and_column(
    tmp_path: Path, file: str, text: str, message: str
) -> None:
    path = write(tmp_path, **{file: text})
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(path))
    assert message in str(err.value)
    assert "demand.orders_file" in str(err.value) or "_file" in str(err.value)


def test_negative_planar_coordinates_are_refused(tmp_path: Path) -> None:
    scenario = SCENARIO + '[city]\ngeometry = "planar"\nmetres_per_minute = 300\n'
    path = write(
        tmp_path,
        scenario=scenario,
        restaurants_csv="restaurant,x,y\nk1,-5,10\n",
    )
    with pytest.raises(ScenarioError, match=r"row 1, column x: must be metres, 0 or more"):
        load_scenario(str(path))


def test_schema_refuses_mixed_sources(tmp_path: Path) -> None:
    mixed = SCENARIO.replace(
        'roster_file = "couriers.csv"', 'roster_file = "couriers.csv"\nriders = 4'
    )
    with pytest.raises(ScenarioError, match=r"fleet\.riders: 4, but fleet\.roster_file holds 3"):
        load_scenario(str(write(tmp_path, scenario=mixed)))
    no_places = SCENARIO.replace('restaurants_file = "restaurants.csv"', "count = 3")
    with pytest.raises(ScenarioError, match=r"vendors\.restaurants_file: an order log needs"):
        load_scenario(str(write(tmp_path, scenario=no_places)))


def test_replay_is_deterministic_and_follows_the_log(tmp_path: Path) -> None:
    s = load_scenario(str(write(tmp_path))).scenario
    a = simulate_replication(s, 3, 0)
    b = simulate_replication(s, 3, 0)
    assert a.kpis == b.kpis
    assert a.tables["orders"].to_pandas().equals(b.tables["orders"].to_pandas())
    orders = a.tables["orders"].to_pandas()
    assert len(orders) == 40
    # placed exactly when the log says, at the restaurant it names, paid as it says
    assert np.allclose(orders["placed"].to_numpy(), np.arange(40) * 2.5 * 60)
    assert (orders["vendor_idx"].to_numpy() == np.arange(40) % 3).all()
    assert (orders["payment_method"].astype(str) == "online").sum() == 10


def test_scale_thins_and_duplicates_with_the_seed_and_shift_moves(tmp_path: Path) -> None:
    path = str(write(tmp_path))
    half = load_scenario(path, ["demand.scale=0.5"]).scenario
    double = load_scenario(path, ["demand.scale=2"]).scenario
    moved = load_scenario(path, ["demand.shift_min=30"]).scenario
    from sim.plan import OrderPlan
    from sim.streams import streams

    def plan(s: object, seed: int = 3) -> OrderPlan:
        return OrderPlan(s, streams(seed, 0))  # type: ignore[arg-type]

    assert 10 < len(plan(half)) < 30
    assert len(plan(half)) == len(plan(half))
    assert (plan(half).times == plan(half).times).all()
    assert len(plan(double)) == 80
    shifted = plan(moved)
    # moved 30 minutes later: the orders after 90 minutes fall out of the 2-hour period
    assert len(shifted) == sum(1 for i in range(40) if i * 2.5 + 30 < 120)
    assert shifted.times[0] == 30 * 60


def test_riders_work_every_shift_of_the_roster(tmp_path: Path) -> None:
    s = load_scenario(str(write(tmp_path))).scenario
    out = simulate_replication(s, 3, 0)
    calls = out.tables["api_calls"].to_pandas()
    avail = calls[calls["endpoint"].astype(str).str.contains("availability")]
    c2 = avail[avail["rider_idx"] == 1]
    # on at 0, off at 60, on again at 70, off at 110
    assert sorted(c2["t"].round().tolist()) == [0.0, 3600.0, 4200.0, 6600.0]


def test_an_exported_simulation_day_replays_to_the_same_kpis(tmp_path: Path) -> None:
    """Run a drawn day, write its orders, restaurants and riders as data files, replay them: the
    KPIs are the same (every other per-order draw is by order index, as before)."""
    import tomli_w

    from scenarios.loader import resolved_dict
    from sim.model import Model

    # shifts that outlast the run, so a roster's shift end (D28) never binds
    drawn = load_scenario("baseline", ['fleet.shifts=[{ start = "18:30", end = "23:00" }]'])
    s = drawn.scenario
    out = simulate_replication(s, 1, 0)
    model = Model(s, 1, 0)
    orders = out.tables["orders"].to_pandas()
    city = model.city
    prep = [model.plan.block(i // 4096).prep[i % 4096] for i in range(len(orders))]
    customer = orders["customer_idx"].to_numpy()
    trace = OrderTrace(
        tuple(str(i) for i in range(len(orders))),
        orders["placed"].to_numpy(),
        orders["vendor_idx"].to_numpy(),
        np.array([city.customer_lat[c] for c in customer]),
        np.array([city.customer_lon[c] for c in customer]),
        np.full(len(orders), math.nan),
        np.array(prep),
        (orders["payment_method"].astype(str) == "online").to_numpy(),
        None,
    )
    places = Places(
        tuple(f"k{i}" for i in range(len(city.vendor_lat))),
        np.array(city.vendor_lat),
        np.array(city.vendor_lon),
    )
    roster = Roster(
        tuple(f"r{i}" for i in range(len(city.rider_lat))),
        tuple(
            (RosterShift(0.0, 4.5 * 3600, lat, lon),)
            for lat, lon in zip(city.rider_lat, city.rider_lon, strict=True)
        ),
    )
    written = write_inputs(Inputs(trace, places, roster), tmp_path, planar=False)
    data = resolved_dict(s)
    data["demand"] = {"orders_file": written["demand.orders_file"].name}
    del data["vendors"]["count"], data["customers"]["count"], data["fleet"]["riders"]
    data["vendors"]["restaurants_file"] = written["vendors.restaurants_file"].name
    data["fleet"]["shifts"] = []
    data["fleet"]["roster_file"] = written["fleet.roster_file"].name
    replay = tmp_path / "replay.toml"
    replay.write_text(tomli_w.dumps(data))
    again = simulate_replication(load_scenario(str(replay)).scenario, 1, 0)
    assert out.kpis["delivered"] > 50
    for key, value in out.kpis.items():
        other = again.kpis[key]
        if value != value:
            assert other != other, key
        else:
            assert math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9), (key, value, other)


def test_the_load_test_replays_the_log_s_arrivals(tmp_path: Path) -> None:
    from loadtest.journey_mix import arrivals

    s = load_scenario(str(write(tmp_path))).scenario
    got = arrivals(s, 3600.0, np.random.default_rng(1))
    assert got == [i * 2.5 * 60 for i in range(40) if i * 2.5 * 60 < 3600.0]
    doubled = load_scenario(str(write(tmp_path)), ["demand.scale=2"]).scenario
    assert len(arrivals(doubled, 3600.0, np.random.default_rng(1))) == 2 * len(got)


def test_parquet_files_load_like_csv(tmp_path: Path) -> None:
    import pandas as pd

    csv_dir, pq_dir = tmp_path / "csv", tmp_path / "pq"
    csv_dir.mkdir()
    pq_dir.mkdir()
    write(csv_dir)
    write(pq_dir)
    for name in ("orders", "restaurants", "couriers"):
        frame = pd.read_csv(pq_dir / f"{name}.csv")
        frame.to_parquet(pq_dir / f"{name}.parquet")
    text = SCENARIO.replace(".csv", ".parquet")
    (pq_dir / "replay.toml").write_text(text)
    a = load_scenario(str(csv_dir / "replay.toml")).scenario
    b = load_scenario(str(pq_dir / "replay.toml")).scenario
    assert a.inputs is not None and b.inputs is not None
    assert a.inputs.orders is not None and b.inputs.orders is not None
    assert a.inputs.orders.ids == b.inputs.orders.ids
    assert np.array_equal(a.inputs.orders.placed_s, b.inputs.orders.placed_s)
    assert a.inputs.roster == b.inputs.roster
    assert simulate_replication(a, 3, 0).kpis == simulate_replication(b, 3, 0).kpis


def test_a_run_directory_of_a_log_replays_on_its_own(tmp_path: Path) -> None:
    """Its scenario.toml states the counts the files imply and names the copies in inputs/;
    blank ready times stay blank."""
    from orderflow.cli import main

    text = orders_csv().splitlines()
    head = text[0].replace("prep_min", "ready_min")
    rows = [r.split(",") for r in text[1:]]
    for i, r in enumerate(rows):
        r[5] = "" if i % 3 == 0 else str(float(r[1]) + 9)
    path = write(tmp_path, orders_csv="\n".join([head, *(",".join(r) for r in rows)]) + "\n")
    out = tmp_path / "run"
    assert main(["simulate", str(path), "--out", str(out), "--quiet"]) == 0
    again = load_scenario(str(out / "scenario.toml")).scenario
    assert again.vendor_count == 3 and again.rider_count == 3
    assert again.inputs is not None and again.inputs.orders is not None
    assert np.isnan(again.inputs.orders.ready_s[0]) and again.inputs.orders.ready_s[1] == (
        (2.5 + 9) * 60
    )


def test_a_shift_a_delivery_ran_past_is_skipped(tmp_path: Path) -> None:
    """c1 works 0-30 and 31-33 minutes and takes a long ride at 25: the second shift is over
    before they are back, so they skip it instead of failing the run."""
    couriers = "courier,lat,lon,on_min,off_min\nc1,19.07,72.87,0,30\nc1,19.07,72.87,31,33\n"
    orders = "order,placed_min,restaurant,lat,lon,ready_min\no1,25,k1,19.30,72.87,26\n"
    s = load_scenario(str(write(tmp_path, couriers_csv=couriers, orders_csv=orders))).scenario
    out = simulate_replication(s, 3, 0)
    assert out.kpis["delivered"] == 1.0


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "orders_csv",
            "order,placed_min,restaurant,lat,lon,basket\no1,5,k1,19.07,72.87,2000000\n",
            "column basket: must be from 0.01 to 999999.99",
        ),
        (
            "orders_csv",
            "order,placed_min,restaurant,lat,lon\no1,5,k1,19.07,72.87,4\n",
            "orders.csv: row 1: 6 cells but the header names 5 columns (extra: '4')",
        ),
        (
            "orders_csv",
            "order,placed_min,restaurant,lat,lon\no1,120,k1,19.07,72.87\n",
            "column placed_min: must be within the period (0 to before 120 min)",
        ),
    ],
)
def test_more_bad_cells_are_named(tmp_path: Path, file: str, text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(write(tmp_path, **{file: text})))
    assert message in str(err.value)


def test_a_trailing_separator_is_harmless(tmp_path: Path) -> None:
    orders = "order,placed_min,restaurant,lat,lon\no1,5,k1,19.07,72.87,\n"
    s = load_scenario(str(write(tmp_path, orders_csv=orders))).scenario
    assert s.inputs is not None and s.inputs.orders is not None
    assert s.inputs.orders.placed_s.tolist() == [300.0]


def test_parquet_nulls_are_empty_cells_not_tracebacks(tmp_path: Path) -> None:
    import pandas as pd

    write(tmp_path)
    frame = pd.read_csv(tmp_path / "orders.csv")
    frame["placed_min"] = pd.array([None, *frame["placed_min"][1:]], dtype="Float64")
    frame.to_parquet(tmp_path / "orders.parquet")
    (tmp_path / "replay.toml").write_text(SCENARIO.replace("orders.csv", "orders.parquet"))
    with pytest.raises(ScenarioError, match="row 1, column placed_min: empty"):
        load_scenario(str(tmp_path / "replay.toml"))
