"""Report cost on a large load run: `orderflow report` on 1,000,000 synthetic request rows must
finish in under 30 s and under 2 GB peak RSS (issue 6). A 100,000-row run measured in the same
session is the baseline, so the ratios show how the cost grows with the rows.

Each report runs as its own process (the real CLI), so its peak RSS is its own.

    .venv/bin/python benchmarks/bench_report.py [--rows 1000000] [--baseline 100000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reports.synthetic import write_load_run

TIME_BUDGET_S = 30.0
RSS_BUDGET_MB = 2048.0


def measure(run_dir: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) of the report process, and the page's size in bytes."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cmd = [sys.executable, "-m", "orderflow", "report", str(run_dir), "--threshold",
           "errors=rate < 1%", "--threshold", "requests=p99 < 1s"]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode not in (0, 3):
        raise SystemExit(f"report failed ({done.returncode}):\n{done.stderr}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kb <= before:
        print("  (peak RSS not above an earlier child's; figure is an upper bound)")
    return elapsed, peak_kb / 1024.0, (run_dir / "report" / "report.html").stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        results = {}
        for label, rows in (("baseline", args.baseline), ("large", args.rows)):
            print(f"{label}: writing {rows:,} synthetic request rows ...", flush=True)
            run = write_load_run(Path(tmp) / label, rows=rows, duration_s=3600.0)
            print(f"{label}: orderflow report ...", flush=True)
            results[label] = measure(run)
            t, rss, size = results[label]
            print(
                f"{label}: {rows:>9,} rows  {t:6.1f} s  peak RSS {rss:7.0f} MiB  "
                f"page {size / 1024:6.0f} KiB"
            )
    (bt, brss, bsize), (lt, lrss, lsize) = results["baseline"], results["large"]
    print(
        f"\nratio large/baseline ({args.rows / args.baseline:.0f}x rows): time {lt / bt:.2f}x, "
        f"peak RSS {lrss / brss:.2f}x, page {lsize / bsize:.2f}x"
    )
    ok = lt < TIME_BUDGET_S and lrss < RSS_BUDGET_MB
    print(
        f"budget ({TIME_BUDGET_S:.0f} s, {RSS_BUDGET_MB:.0f} MiB) for {args.rows:,} rows: "
        f"{'met' if ok else 'NOT met'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
