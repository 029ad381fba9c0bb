"""`orderflow loadtest` (Locust headless in a subprocess) against a real `orderflow serve`: every
journey path completes as the spec says, every request is recorded with its intended start."""

from __future__ import annotations

from pathlib import Path

from reference_api.endpoints import ENDPOINTS
from tests.loadtest.conftest import Server, loadtest
from tests.loadtest.rundir import read_run

HERE = Path(__file__).resolve().parent
EVERY_PATH = str(HERE / "every_path.toml")
KINDS = {
    "delivered_cod",
    "delivered_online",
    "customer_cancel",
    "restaurant_cancel",
    "rejected",
    "payment_failed",
    "background",
}


def test_short_run_completes_every_path_without_unexpected_failures(
    server: Server, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    proc = loadtest(
        [EVERY_PATH, "--host", server.url, "--speedup", "300", "--duration", "4", "--seed", "7",
         "--background", "0.05", "--out", str(out)]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "journeys planned" in proc.stdout and f"files in {out}" in proc.stdout
    run = read_run(out)

    j = run.journeys
    assert set(j["kind"]) >= KINDS
    failed = j[j["outcome"] != "ok"]
    assert failed.empty, failed[["kind", "outcome", "failure_reason"]].to_string()
    assert len(j) == run.manifest["counts"]["planned_journeys"]
    finals = j.groupby("kind")["final_status"].agg(set).to_dict()
    assert finals["delivered_cod"] == {"DELIVERED"} and finals["rejected"] == {
        "RESTAURANT_REJECTED"
    }
    assert finals["customer_cancel"] == {"CANCELLED"}
    assert finals["payment_failed"] == {"PAYMENT_FAILED"}

    r = run.requests
    assert r["error"].isna().all(), r[r["error"].notna()][["endpoint", "error"]].head().to_string()
    assert set(r["endpoint"]) <= {e.name for e in ENDPOINTS.values()}
    # wrong OTPs were sent and refused; resends happened (200, or 429 inside the 30 s window)
    wrong = r[r["endpoint"].str.contains("pickup|complete-delivery") & (r["status"] == 400)]
    assert len(wrong) > 0
    assert set(r[r["endpoint"].str.contains("resend")]["status"]) <= {200, 429}
    assert (r["endpoint"] == "POST /api/orders/[id]/otp/resend/").any()
    # background polling: queue, available orders, rider location, customer status/ETA
    bg = set(r[r["journey"] == "background"]["endpoint"])
    assert {"GET /api/restaurants/orders/queue/", "GET /api/orders/available/"} <= bg
    # every request carries its intended start; lateness is measured, not hidden
    assert (r["start_ts"] >= r["intended_ts"] - 0.01).all()
    assert (r["ready_ts"] >= r["intended_ts"]).all() and (r["start_ts"] >= r["ready_ts"]).all()
    assert (r["end_ts"] >= r["start_ts"]).all()
    assert r["planned"].sum() == len(run.planned)
    o = run.summary["overall"]
    assert o["corrected_ms"]["p99"] >= o["service_ms"]["p99"] * 0.5
    # WebSocket subscribers received the status changes they were acknowledged
    ws = run.ws
    assert len(ws) > 0 and ws["delay_ms"].notna().any()
    assert "order.delivered" in set(ws["event_type"])
    # Locust's own statistics group by endpoint template
    stats = (out / "locust_stats.csv").read_text()
    assert "POST /api/orders/[id]/pickup/" in stats
    assert run.manifest["kind"] == "loadtest" and run.manifest["complete"] is True
