"""What a reference server is started with, and the one parser of it.

`orderflow serve` reads its flags and ``create_app`` (the ``uvicorn --factory`` entry point)
reads ``ORDERFLOW_*`` environment variables; both hand the raw values to ``parse_settings``, so
the two entry points accept the same values, refuse the same mistakes, and every error names
the option as the user spelled it (``--policy`` or ``ORDERFLOW_POLICY``) with what it accepts.
Fixture counts default to ``build_fixtures``'s, so `orderflow token` and every entry point name
the same users; the dispatch strategy and its options are checked by the table the scenario's
``[dispatch]`` uses (``reference_api.dispatch.spec``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Literal

from reference_api.dispatch.options import OPTIONS as DISPATCH_OPTIONS
from reference_api.dispatch.options import POLICIES
from reference_api.dispatch.spec import DispatchSpec, DispatchSpecError
from reference_api.fixtures import build_fixtures
from reference_api.http.auth import JWT_SECRET_ENV
from reference_api.policy import Policy

_FIXTURE_DEFAULTS = inspect.signature(build_fixtures).parameters
#: Fixture counts shared by `orderflow serve` and `orderflow token` (same ids on both sides).
DEFAULT_VENDORS: int = _FIXTURE_DEFAULTS["vendors"].default
DEFAULT_CUSTOMERS: int = _FIXTURE_DEFAULTS["customers"].default
DEFAULT_RIDERS: int = _FIXTURE_DEFAULTS["riders"].default

SYNCHRONOUS = ("NORMAL", "FULL")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

Spelling = Literal["flag", "env"]


class SettingsError(ValueError):
    """A setting the server cannot start with; the message names the option and what it takes."""


@dataclass(frozen=True)
class ServerSettings:
    db: str = "orderflow.db"
    vendors: int = DEFAULT_VENDORS
    customers: int = DEFAULT_CUSTOMERS
    riders: int = DEFAULT_RIDERS
    policy: Policy = field(default_factory=Policy)
    synchronous: str = "NORMAL"
    fresh: bool = False
    dispatch: DispatchSpec = field(default_factory=DispatchSpec)


@dataclass(frozen=True)
class Option:
    """One setting under both of its names; ``accepts`` is what errors and docs say it takes."""

    field: str
    flag: str
    env: str
    accepts: str

    def name(self, spelling: Spelling) -> str:
        return self.flag if spelling == "flag" else self.env


OPTIONS: tuple[Option, ...] = (
    Option("db", "--db", "ORDERFLOW_DB", "a SQLite file path"),
    Option("fresh", "--fresh", "ORDERFLOW_FRESH", f"one of {', '.join(_TRUE + _FALSE)}"),
    Option("vendors", "--vendors", "ORDERFLOW_VENDORS", "a whole number of at least 1"),
    Option("customers", "--customers", "ORDERFLOW_CUSTOMERS", "a whole number of at least 1"),
    Option("riders", "--riders", "ORDERFLOW_RIDERS", "a whole number of at least 1"),
    Option("policy", "--policy", "ORDERFLOW_POLICY", "NAME=VALUE pairs of reference_api/policy.py"),
    Option("dispatch", "--dispatch", "ORDERFLOW_DISPATCH", f"one of {', '.join(POLICIES)}"),
    Option(
        "dispatch_options",
        "--dispatch-option",
        "ORDERFLOW_DISPATCH_OPTIONS",
        f"NAME=VALUE pairs: {', '.join(DISPATCH_OPTIONS)}",
    ),
    Option("synchronous", "--synchronous", "ORDERFLOW_SYNCHRONOUS", "NORMAL or FULL"),
)
_BY_FIELD = {o.field: o for o in OPTIONS}
#: Variables ``settings_from_env`` reads, plus the secret (read by ``auth.resolve_secret``).
ENV_VARS: tuple[str, ...] = (*(o.env for o in OPTIONS), JWT_SECRET_ENV)


def _pair_fields(kind: type) -> dict[str, type]:
    default = kind()
    return {f.name: type(getattr(default, f.name)) for f in fields(kind)}


def _parse_pairs(
    subject: str, pairs: Sequence[str], types: Mapping[str, type], sep: str
) -> dict[str, object]:
    """``NAME=VALUE`` items -> typed values; ``subject`` is the option's name for the message."""
    values: dict[str, object] = {}
    for pair in pairs:
        name, eq, raw = pair.partition("=")
        name = name.strip()
        if not eq:
            raise SettingsError(f"{subject} {pair!r}: expected NAME=VALUE{sep}")
        if name not in types:
            known = ", ".join(sorted(types))
            raise SettingsError(f"{subject} {pair!r}: unknown field; known: {known}")
        kind = types[name]
        try:
            values[name] = Decimal(raw) if kind is Decimal else kind(raw)
        except (ValueError, ArithmeticError):
            wanted = {int: "a whole number", float: "a number"}.get(kind, "a decimal number")
            raise SettingsError(f"{subject} {pair!r}: expected {wanted}") from None
    return values


def parse_policy(pairs: Sequence[str], *, subject: str = "--policy", sep: str = "") -> Policy:
    """``["confirm_timeout_s=5", ...]`` -> a ``Policy``; errors name the bad pair."""
    changes = _parse_pairs(subject, pairs, _pair_fields(Policy), sep)
    try:
        return Policy().with_overrides(**changes)
    except ValueError as exc:  # a value out of range: Policy says which and why
        raise SettingsError(f"{subject}: {exc}") from None


def parse_dispatch(
    policy: object, pairs: Sequence[str], *, subjects: tuple[str, str], sep: str = ""
) -> DispatchSpec:
    """A strategy name and ``["interval_min=0.05", ...]`` -> a ``DispatchSpec``; ``subjects``
    name the two options in errors (the name's, the pairs')."""
    options: dict[str, object] = {}
    for pair in pairs:
        name, eq, raw = pair.partition("=")
        if not eq:
            raise SettingsError(f"{subjects[1]} {pair!r}: expected NAME=VALUE{sep}")
        options[name.strip()] = raw
    try:
        return DispatchSpec.parse(str(policy).strip(), options)
    except DispatchSpecError as exc:
        subject = subjects[0] if exc.field == "policy" else f"{subjects[1]} {exc.field}"
        raise SettingsError(f"{subject}: {exc.detail}") from None


def _subject(option: Option, spelling: Spelling, value: object) -> str:
    return f"{option.flag} {value}" if spelling == "flag" else f"{option.env}={value!r}"


def _count(spelling: Spelling, name: str, value: object) -> int:
    option = _BY_FIELD[name]
    try:
        count = value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        count = 0
    if count < 1:
        raise SettingsError(f"{_subject(option, spelling, value)}: expected {option.accepts}")
    return count


def _switch(spelling: Spelling, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE + _FALSE:
        option = _BY_FIELD["fresh"]
        raise SettingsError(f"{_subject(option, spelling, value)}: expected {option.accepts}")
    return text in _TRUE


def _synchronous(spelling: Spelling, value: object) -> str:
    mode = str(value).strip().upper()
    if mode not in SYNCHRONOUS:
        option = _BY_FIELD["synchronous"]
        raise SettingsError(f"{_subject(option, spelling, value)}: expected {option.accepts}")
    return mode


def parse_settings(values: Mapping[str, object], *, spelling: Spelling) -> ServerSettings:
    """Raw values by ``ServerSettings`` field (missing ones take the defaults) -> settings.

    Counts may arrive as ``int`` (argparse) or text (the environment); ``policy`` and
    ``dispatch_options`` as sequences of ``NAME=VALUE`` items. ``spelling`` decides how errors name
    the option.
    """
    unknown = sorted(set(values) - set(_BY_FIELD))
    if unknown:
        raise SettingsError(f"unknown server setting(s): {', '.join(unknown)}")
    sep = "[,NAME=VALUE...]" if spelling == "env" else ""
    defaults = ServerSettings()
    policy_pairs = values.get("policy", ())
    dispatch_pairs = values.get("dispatch_options", ())
    assert isinstance(policy_pairs, Sequence) and isinstance(dispatch_pairs, Sequence)
    db = str(values.get("db", defaults.db))
    if not db.strip():
        raise SettingsError(f"{_BY_FIELD['db'].name(spelling)}: expected a SQLite file path")
    return ServerSettings(
        db=db,
        vendors=_count(spelling, "vendors", values.get("vendors", defaults.vendors)),
        customers=_count(spelling, "customers", values.get("customers", defaults.customers)),
        riders=_count(spelling, "riders", values.get("riders", defaults.riders)),
        policy=parse_policy(
            [str(p) for p in policy_pairs], subject=_BY_FIELD["policy"].name(spelling), sep=sep
        ),
        synchronous=_synchronous(spelling, values.get("synchronous", defaults.synchronous)),
        fresh=_switch(spelling, values.get("fresh", defaults.fresh)),
        dispatch=parse_dispatch(
            values.get("dispatch", defaults.dispatch.policy),
            [str(p) for p in dispatch_pairs],
            subjects=(
                _BY_FIELD["dispatch"].name(spelling),
                _BY_FIELD["dispatch_options"].name(spelling),
            ),
            sep=sep,
        ),
    )


def settings_from_env(environ: Mapping[str, str]) -> ServerSettings:
    """The ``ORDERFLOW_*`` variables -> settings (an empty variable counts as unset). ``policy``
    and ``dispatch_options`` hold comma-separated ``NAME=VALUE`` items, as repeated flags would."""
    values: dict[str, object] = {}
    for option in OPTIONS:
        raw = environ.get(option.env, "")
        if not raw.strip():
            continue
        if option.field in ("policy", "dispatch_options"):
            values[option.field] = [item for item in raw.split(",") if item.strip()]
        else:
            values[option.field] = raw
    return parse_settings(values, spelling="env")
