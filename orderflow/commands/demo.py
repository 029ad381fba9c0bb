"""`orderflow demo`: the README's main command."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run a short demo on the embedded defaults")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from orderflow import inprocess_demo

    finals = inprocess_demo.run()
    print(f"\n{len(finals)} paths driven through the in-process API:")
    for title, status in finals.items():
        print(f"  {status:<20} {title}")
    return 0
