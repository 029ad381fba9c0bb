"""Read a plan run directory (``orderflow plan``): its ``plan.json`` as tables the report draws,
and the plan's own verdict as threshold results (a plan is judged on its ``--sla`` targets).

``reports.rundir.open_run`` opens it like every other kind (``kind = "plan"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from reports.evaluate import ConditionResult, Evaluation
from reports.rundir import RunDir, RunDirError, read_json_object

SOURCE = "orderflow plan --sla"


@dataclass
class PlanAnalysis:
    mode: str  # "parameter" or "staffing"
    plan: dict[str, Any]
    #: parameter mode: one row per (candidate, target); staffing: one row per (hour, target)
    table: pd.DataFrame
    targets: list[dict[str, Any]]
    evaluation: Evaluation

    @property
    def met(self) -> bool:
        return bool(self.plan.get("met"))


def _read_plan(run: RunDir) -> dict[str, Any]:
    path = run.file("plan.json")
    if not path.is_file():
        raise RunDirError(f"run directory {run.path} has no plan.json (orderflow plan writes it)")
    plan = read_json_object(path)
    for key in ("mode", "met", "targets", "confidence"):
        if key not in plan:
            raise RunDirError(f"{path}: missing {key!r} (is it from orderflow plan?)")
    return plan


def _rows(items: list[dict[str, Any]], key: str) -> pd.DataFrame:
    rows = []
    for item in items:
        for t in item.get("targets", []):
            rows.append(
                {
                    key: item[key],
                    "verdict": item.get("verdict"),
                    "replications": item.get("replications"),
                    "riders": item.get("riders"),
                    "orders": item.get("orders"),
                    "sla": t["sla"],
                    "kpi": t["kpi"],
                    "mean": t.get("mean"),
                    "ci_low": t.get("ci_low"),
                    "ci_high": t.get("ci_high"),
                    "bound": t.get("bound"),
                    "limit": t.get("limit"),
                    "holds": t.get("holds"),
                }
            )
    frame = pd.DataFrame(rows)
    return frame.dropna(axis=1, how="all") if not frame.empty else frame


def _verdict_results(plan: dict[str, Any], checks: list[dict[str, Any]], where: str) -> Evaluation:
    pct = f"{plan['confidence']:.0%}"
    ev = Evaluation()
    for c in checks:
        bound = c.get("bound")
        shown = "-" if bound is None else f"{bound:.4g} (one-sided {pct} bound, {where})"
        ev.results.append(
            ConditionResult(
                c["kpi"],
                c["sla"].partition("=")[2],
                SOURCE,
                "pass" if c.get("holds") else "breach",
                bound,
                shown,
            )
        )
    return ev


def analyse(run: RunDir) -> PlanAnalysis:
    plan = _read_plan(run)
    mode = str(plan["mode"])
    if mode == "staffing":
        hours = plan.get("hours") or []
        table = _rows(hours, "hour")
        checks = [
            c | {"sla": f"{c['sla']} (hour {h['hour']})"} for h in hours for c in h["targets"]
        ]
        ev = _verdict_results(plan, checks, "confirmation run")
        return PlanAnalysis(mode, plan, table, list(plan["targets"]), ev)
    candidates = plan.get("candidates") or []
    if not candidates:
        raise RunDirError(f"{run.file('plan.json')}: has no candidate")
    table = _rows(candidates, "value")
    best = plan.get("best") or {}
    value = best.get(plan.get("vary", ""))
    chosen = next((c for c in candidates if c["value"] == value), candidates[-1])
    label = "recommended" if plan["met"] else "closest candidate"
    ev = _verdict_results(plan, chosen["targets"], f"{label} {plan.get('vary')}={chosen['value']}")
    return PlanAnalysis(mode, plan, table, list(plan["targets"]), ev)
