"""Checks made before any load is generated, so that a wrong URL, a tokens file the target does
not accept or an unusable schedule is one clear sentence instead of a run full of failures."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from loadtest.identities import Identities
from loadtest.minting import resolve_identities
from loadtest.options import LoadOptions
from loadtest.plan import Plan
from loadtest.sources import plan_from_scenario, plan_from_trace


class TargetError(RuntimeError):
    """The target cannot be load tested as configured; the message says why."""


def check_host(host: str) -> str:
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TargetError(f"--host {host!r}: expected a URL like http://127.0.0.1:8000")
    return host.rstrip("/")


def build_plan(opts: LoadOptions, identities: Identities) -> Plan:
    if opts.trace is not None:
        return plan_from_trace(
            opts.trace,
            speedup=opts.speedup,
            duration_s=opts.duration,
            background=opts.background_factor,
            identities=identities,
            ws_share=opts.ws_fraction,
        )
    return plan_from_scenario(
        opts.scenario,
        identities,
        speedup=opts.speedup,
        duration_s=opts.duration,
        background=opts.background_factor,
        seed=opts.seed,
        ws_share=opts.ws_fraction,
        overrides=opts.overrides,
    )


def prepare(opts: LoadOptions) -> tuple[Identities, Plan]:
    identities = resolve_identities(opts.tokens)
    return identities, build_plan(opts, identities)


def check_target(host: str, identities: Identities, timeout_s: float = 5.0) -> None:
    """One authenticated read: is the target there, and does it accept our tokens?"""
    customer = identities.customers[0]
    url = f"{host}/api/orders/"
    try:
        resp = httpx.get(url, headers=customer.auth, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise TargetError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
    if resp.status_code == 401:
        source = identities.source
        raise TargetError(
            f"{url} refused the token of customer {customer.user_id} from {source} (401): "
            "pass --tokens FILE with tokens this deployment accepts (or start the reference "
            "server with the same ORDERFLOW_JWT_SECRET)"
        )
    if resp.status_code >= 500:
        return  # a struggling target is what a load test is for; the run will record it
    if resp.status_code != 200:
        raise TargetError(f"{url} answered {resp.status_code} to a customer's order list")
