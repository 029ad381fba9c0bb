"""`orderflow import-mdrp`: an MDRP instance directory as a scenario file and CSVs to edit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import-mdrp",
        help="write a Grubhub MDRP instance as a scenario file and its CSVs",
        description="Read INSTANCE_DIR (orders.txt, couriers.txt, restaurants.txt, "
        "instance_parameters.txt) and write the equivalent scenario to --out, with its "
        "restaurants, orders and couriers as CSVs beside it (named <stem>-restaurants.csv and "
        "so on). `orderflow simulate` runs the file or the directory alike.",
    )
    p.add_argument("instance", type=Path, help="MDRP instance directory")
    p.add_argument("--out", type=Path, required=True, help="scenario file to write (.toml)")
    p.add_argument(
        "--force", action="store_true", help="overwrite files that exist (default: refuse)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from scenarios import ScenarioError
    from scenarios.mdrp import is_instance_dir, load_instance, write_scenario
    from scenarios.traces import CSV_NAMES

    if not is_instance_dir(args.instance):
        print(
            f"error: {args.instance}: not an MDRP instance directory (needs orders.txt, "
            "couriers.txt, restaurants.txt, instance_parameters.txt)",
            file=sys.stderr,
        )
        return 1
    out: Path = args.out
    if out.suffix != ".toml":
        print(f"error: --out {out}: expected a .toml file name", file=sys.stderr)
        return 2
    targets = [out, *(out.parent / f"{out.stem}-{name}" for name in CSV_NAMES.values())]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not args.force:
        print(f"error: {', '.join(existing)}: exists (use --force to overwrite)", file=sys.stderr)
        return 1
    try:
        loaded = load_instance(args.instance)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    written = write_scenario(loaded, out)
    s = loaded.scenario
    print(
        f"{s.name}: {s.customer_count} orders, {s.vendor_count} restaurants, "
        f"{s.rider_count} couriers"
    )
    for path in written:
        print(f"  wrote {path}")
    print(f"run it: orderflow simulate {out}")
    return 0
