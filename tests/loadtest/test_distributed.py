"""Distributed mode: a master and two workers split one schedule; every planned order runs
exactly once, and both workers take part."""

from __future__ import annotations

from pathlib import Path

from tests.loadtest.conftest import Server, loadtest
from tests.loadtest.rundir import read_run
from tests.loadtest.test_journeys import EVERY_PATH


def test_two_workers_complete_the_schedule_once(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    proc = loadtest(
        [EVERY_PATH, "--host", server.url, "--workers", "2", "--speedup", "600",
         "--duration", "3", "--seed", "3", "--background", "0", "--out", str(out)]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = read_run(out)
    assert run.manifest["workers"] == 2
    planned_ids = set(run.planned["journey_id"])
    j = run.journeys
    assert not j["journey_id"].duplicated().any(), "an order was replayed twice"
    assert set(j["journey_id"]) == planned_ids, "the schedule was not completed"
    assert set(j["worker"]) == {0, 1}
    assert (j["outcome"] == "ok").all(), j[j["outcome"] != "ok"].to_string()
    # each order's requests all came from the worker whose share it is
    r = run.requests
    assert (r.groupby("journey_id")["worker"].nunique() == 1).all()
    share = run.planned.groupby("journey_id")["share"].first()
    assert (r.groupby("journey_id")["worker"].first() == share.loc[r["journey_id"].unique()]).all()
    # no order id was created twice
    assert r[r["endpoint"] == "POST /api/orders/"]["order_id"].is_unique
