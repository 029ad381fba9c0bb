"""Whether a load run itself failed, decided once from its run directory, for `orderflow
loadtest`, for a plain `locust -f loadtest/locustfile.py` (its process exit code) and for the
docs' exit-code table: journeys that broke the spec's rules, a lost worker, or a target that
answered nothing make the run's figures untrustworthy, whatever its latencies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scenarios.exit_codes import ExitCode


def run_outcome(run_dir: Path, summary: dict[str, Any]) -> tuple[int, list[str]]:
    """``(exit code, reasons)``: ``RUN_FAILED`` with a sentence per reason, else ``OK``."""
    reasons: list[str] = []
    manifest_path = run_dir / "manifest.json"
    manifest: dict[str, Any] = (
        json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    )
    lost = manifest.get("lost_workers") or []
    if lost:
        n = manifest.get("counts", {}).get("lost_journeys", 0)
        reasons.append(
            f"worker share(s) {', '.join(map(str, lost))} lost during the run; "
            f"{n} of their journeys never ran (the run is incomplete)"
        )
    mismatched = (manifest.get("transport") or {}).get("mismatched") or []
    if mismatched:
        reasons.append(
            f"rows of worker share(s) {', '.join(map(str, mismatched))} did not all reach the "
            "master (manifest.json: transport)"
        )
    failed = sum(int(o.get("failed", 0)) for o in summary.get("journeys", {}).values())
    if failed:
        reasons.append(f"{failed} journey(s) failed the spec's checks (journeys.parquet)")
    overall = summary.get("overall", {})
    planned = int(manifest.get("counts", {}).get("planned_journeys", 0))
    if planned and overall.get("requests") and overall.get("errors") == overall["requests"]:
        reasons.append("every request failed: the target did not answer")
    return (ExitCode.RUN_FAILED if reasons else ExitCode.OK), reasons
