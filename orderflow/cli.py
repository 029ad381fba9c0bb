"""The `orderflow` command. Each subcommand lives in its own module under ``orderflow.commands``
and registers itself; imports of heavy dependencies happen inside the command, not at startup."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from orderflow import __version__

#: Subcommand modules, in the order `--help` lists them. Each defines ``register(subparsers)``.
COMMANDS: tuple[str, ...] = (
    "orderflow.commands.demo",
    "orderflow.commands.serve",
    "orderflow.commands.token",
    "orderflow.commands.report",
    "orderflow.commands.compare",
    "orderflow.commands.simulate",
    "orderflow.commands.import_mdrp",
    "orderflow.commands.sweep",
    "orderflow.commands.plan",
    "orderflow.commands.loadtest",
    "orderflow.commands.conform",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orderflow",
        description="Food-delivery order lifecycle workbench: reference API, simulation, "
        "load tests and reports sharing one set of rules.",
    )
    parser.add_argument("--version", action="version", version=f"orderflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
