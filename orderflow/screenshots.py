"""``make screenshots``: small real runs (simulation, sweep, load test against a local server),
their reports, and a screenshot of each report kind for the README's images in docs/images/.
Here rather than in ``reports`` because it drives the CLI's pipeline (``orderflow.runs``)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

#: Thresholds that show what a breach looks like on the load test's charts.
SCREENSHOT_LOAD_THRESHOLDS = (
    "GET /api/orders/[id]/=p95 < 50ms",
    "errors=rate < 1%",
    "late_starts=p99 < 100ms",
)


#: The planner's question the README's picture answers.
PLAN_SLAS = ("wait_for_rider=avg < 2min", "delivered_share=rate > 90%")


def main(argv: list[str] | None = None) -> int:
    """Make small real runs (simulation, sweep, load test against a local server), report them
    and screenshot each report kind into ``--out`` (default docs/images)."""
    from orderflow import runs
    from reports.build import build_report
    from reports.screenshot import check_pages, chromium_path
    from scenarios.thresholds import parse_flag

    parser = argparse.ArgumentParser(
        prog="python -m orderflow.screenshots", description=main.__doc__
    )
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args(argv)
    if chromium_path() is None:
        print("no Chromium found: apt-get install chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="orderflow-shots-") as tmp:
        work = Path(tmp)
        print("1/5 simulating the baseline scenario ...", flush=True)
        sim = runs.simulate(work / "sim", replications=3)
        print("2/5 sweeping the fleet size ...", flush=True)
        swp = runs.sweep(work / "sweep", "fleet.riders=16:48:8")
        print("3/5 planning the smallest fleet ...", flush=True)
        plan = runs.plan(work / "plan", "fleet.riders=10:60", PLAN_SLAS)
        print("4/5 replaying the timeline against a local server ...", flush=True)
        with runs.served(work / "server.db") as url:
            load = runs.loadtest(url, work / "load", sim, quiet=True)
        print("5/5 reports and screenshots ...", flush=True)
        load_flags = [parse_flag(t) for t in SCREENSHOT_LOAD_THRESHOLDS]
        named = (
            ("report-loadtest", build_report(load, flags=load_flags)),
            ("report-simulation", build_report(sim)),
            ("report-sweep", build_report(swp)),
            ("report-plan", build_report(plan)),
        )
        pages: list[tuple[Path, Path | None]] = [
            (result.html, args.out / f"{name}.png") for name, result in named
        ]
        for (_, png), check in zip(pages, check_pages(pages, height=1400), strict=True):
            print(f"  {png}  ({check.charts} charts, verdict: {check.verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
