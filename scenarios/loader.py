"""Finding, reading, overriding and validating scenario files.

A scenario is named (``baseline``: a file shipped inside this package, so it works from an
installed wheel too) or given as a path. ``--set path.to.field=value`` overrides are applied to
the raw table before validation, so an override is checked exactly like the file. Every problem
becomes one ``ScenarioError`` whose lines read ``<file>: <field path>: <problem> (got <value>)``.
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from scenarios.schema import Scenario
from scenarios.traces import Inputs


class ScenarioError(ValueError):
    """A scenario that cannot be used, with every problem found (one per line)."""


@dataclass(frozen=True)
class LoadedScenario:
    scenario: Scenario
    source: str  # the file it came from (a path, or package:scenarios/<name>.toml)
    overrides: tuple[str, ...]

    def resolved_toml(self) -> str:
        """The scenario with every default filled in, as TOML: what the run actually used."""
        return tomli_w.dumps(resolved_dict(self.scenario))


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as data, defaults filled in (counts its data files imply included: the
    loader checks them against the files again)."""
    data: dict[str, Any] = scenario.model_dump(mode="json", exclude_none=True)
    return data


def resolved_with_files(
    scenario: Scenario, directory: Path, toml_dir: Path, prefix: str = ""
) -> tuple[dict[str, Any], list[Path]]:
    """The resolved scenario, its data files written as CSVs into ``directory`` (names
    prefixed) and named relative to ``toml_dir``, where its TOML will be, so the two move
    together; and the files written."""
    from scenarios.traces import write_inputs

    data = resolved_dict(scenario)
    if scenario.inputs is None:
        return data, []
    written = write_inputs(scenario.inputs, directory, scenario.city.planar, prefix)
    for field, path in written.items():
        table, key = field.split(".")
        data[table][key] = path.relative_to(toml_dir).as_posix()
    return data, list(written.values())


def shipped_names() -> list[str]:
    """Names of the scenario files that ship inside the package."""
    root = resources.files("scenarios")
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


def _read(ref: str) -> tuple[str, str]:
    shipped = "/" not in ref and (resources.files("scenarios") / f"{ref}.toml").is_file()
    if Path(ref).is_dir() and not shipped:
        from scenarios.mdrp import FILES

        missing = [name for name in FILES if not (Path(ref) / name).is_file()]
        raise ScenarioError(
            f"{ref}: a directory, not a scenario file; as an MDRP instance directory it lacks "
            f"{', '.join(missing)}"
        )
    path = Path(ref)
    if path.suffix == ".toml" or (path.exists() and not shipped) or "/" in ref:
        if not path.is_file():
            raise ScenarioError(f"{ref}: no such scenario file")
        return str(path), path.read_text(encoding="utf-8")
    resource = resources.files("scenarios") / f"{ref}.toml"
    if not resource.is_file():
        known = ", ".join(shipped_names())
        raise ScenarioError(
            f"{ref}: not a scenario file and not a shipped scenario name (shipped: {known})"
        )
    return f"scenarios/{ref}.toml", resource.read_text(encoding="utf-8")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``fleet.riders=40`` -> (["fleet", "riders"], 40). The value is read as a TOML value
    (numbers, booleans, quoted strings, inline tables); anything else is taken as a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ScenarioError(f"--set {text}: expected path.to.field=value")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def apply_override(data: dict[str, Any], path: list[str], value: Any, label: str) -> None:
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        where = ".".join(path[: depth + 1])
        if isinstance(node, list):
            node = node[_index(part, len(node), label, where)]
        elif isinstance(node, dict):
            if part not in node or node[part] is None:
                node[part] = {}
            node = node[part]
        else:
            raise ScenarioError(f"{label}: {where}: is a value, not a table")
    last = path[-1]
    if isinstance(node, list):
        node[_index(last, len(node), label, ".".join(path))] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(f"{label}: {'.'.join(path[:-1])}: is a value, not a table")


def _index(part: str, size: int, label: str, where: str) -> int:
    if not part.isdigit() or int(part) >= size:
        raise ScenarioError(f"{label}: {where}: expected a list index below {size}")
    return int(part)


def load_scenario(ref: str, overrides: Iterable[str] = ()) -> LoadedScenario:
    """A scenario file, a shipped name, or an MDRP instance directory (``scenarios.mdrp``)."""
    if Path(ref).is_dir():
        from scenarios.mdrp import is_instance_dir, load_instance  # reads with pandas

        if is_instance_dir(Path(ref)):
            return load_instance(Path(ref), overrides)
    source, text = _read(ref)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: invalid TOML: {exc}") from None
    base = Path(source).parent if Path(source).is_file() else None
    return load_data(data, source, overrides, base)


def load_data(
    data: dict[str, Any],
    source: str,
    overrides: Iterable[str],
    base: Path | None,
    *,
    read_files: bool = True,
) -> LoadedScenario:
    """Apply ``--set`` overrides, validate, and read the data files the scenario names
    (relative to ``base``, the scenario file's directory) unless the caller has them."""
    sets = tuple(overrides)
    for item in sets:
        path, value = parse_override(item)
        apply_override(data, path, value, f"{source} (--set {item})")
    scenario = validate(data, source)
    if read_files:
        scenario = with_inputs(scenario, source, base)
    return LoadedScenario(scenario, source, sets)


def validate(data: Mapping[str, Any], source: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(source, err) for err in exc.errors()]
        raise ScenarioError("\n".join(lines)) from None


def with_inputs(scenario: Scenario, source: str, base: Path | None) -> Scenario:
    """The scenario with its data files read and checked, and the counts they imply filled
    in (``vendors.count``, ``customers.count``, ``fleet.riders``)."""
    from scenarios import traces

    s = scenario
    named = [
        (field, value)
        for field, value in (
            ("vendors.restaurants_file", s.vendors.restaurants_file),
            ("demand.orders_file", s.demand.orders_file),
            ("fleet.roster_file", s.fleet.roster_file),
        )
        if value is not None
    ]
    if not named:
        return s
    if base is None:
        raise ScenarioError(f"{source}: {named[0][0]}: a shipped scenario cannot name data files")
    paths = {field: (base / value) for field, value in named}
    try:
        inputs = _read_inputs(
            tuple((field, *_stamp(path)) for field, path in paths.items()),
            s.city.planar,
            s.period.duration_h * 60,
        )
    except traces.TraceError as exc:
        field = next((f for f, p in paths.items() if str(exc).startswith(str(p))), "data")
        raise ScenarioError(f"{source}: {field}: {exc}") from None
    return attach_inputs(s, inputs, source)


def _stamp(path: Path) -> tuple[str, str]:
    """A data file as the cache knows it: its path and a digest of its bytes (a file that
    changes is parsed again; hashing costs far less than checking every cell)."""
    try:
        digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        digest = ""  # missing or unreadable: read_table says so, naming it
    return str(path), digest


@functools.lru_cache(maxsize=16)
def _read_inputs(
    files: tuple[tuple[str, str, str], ...], planar: bool, period_min: float
) -> Inputs:
    """Read and check a scenario's data files, once per file version and geometry: a sweep
    or a plan loads its scenario again for every grid point or candidate, and re-reading a big
    order log each time would repeat the same work (the result is immutable, so sharing it is
    safe). Errors are not cached: a bad file is read again and refused again."""
    from scenarios import traces

    paths = {field: Path(path) for field, path, _ in files}
    places = orders = roster = None
    if "vendors.restaurants_file" in paths:
        p = paths["vendors.restaurants_file"]
        places = traces.restaurants_from(traces.read_table(p), str(p), planar=planar)
    if "demand.orders_file" in paths:
        assert places is not None  # the schema requires restaurants with an order log
        p = paths["demand.orders_file"]
        orders = traces.orders_from(
            traces.read_table(p), str(p), places, planar=planar, period_min=period_min
        )
    if "fleet.roster_file" in paths:
        p = paths["fleet.roster_file"]
        roster = traces.roster_from(
            traces.read_table(p), str(p), planar=planar, period_min=period_min
        )
    return traces.Inputs(orders, places, roster)


def attach_inputs(s: Scenario, inputs: Inputs, source: str = "") -> Scenario:
    """``s`` carrying ``inputs`` and the counts they imply; a count the scenario states must
    be the files' (a resolved ``scenario.toml`` states them)."""
    update: dict[str, Any] = {"inputs": inputs}
    for table, field, data, what in (
        ("vendors", "count", inputs.restaurants, "vendors.restaurants_file"),
        ("customers", "count", inputs.orders, "demand.orders_file"),
        ("fleet", "riders", inputs.roster, "fleet.roster_file"),
    ):
        if data is None:
            continue
        model = getattr(s, table)
        stated = getattr(model, field)
        if stated is not None and stated != len(data):
            raise ScenarioError(
                f"{source}: {table}.{field}: {stated}, but {what} holds {len(data)}; "
                f"remove {table}.{field} or make them agree"
            )
        update[table] = model.model_copy(update={field: len(data)})
    roster = inputs.roster
    if s.mdrp is not None and roster is not None:
        twice = next(
            (r for r, sh in zip(roster.ids, roster.shifts, strict=True) if len(sh) > 1), None
        )
        if twice is not None:
            raise ScenarioError(
                f"{source}: fleet.roster_file: courier {twice!r} works several shifts; an MDRP "
                "solution names each courier once, so give each shift its own courier id"
            )
    return s.model_copy(update=update)


_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "too_short": "needs at least {min_length} item(s)",
    "missing": "required field is missing",
    "extra_forbidden": "unknown field (not part of the scenario schema)",
}


def _describe(source: str, err: Mapping[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind in _MESSAGES:
        problem = _MESSAGES[kind].format(**ctx)
    elif kind == "value_error":
        problem = str(ctx.get("error", err["msg"]))
    else:
        problem = err["msg"][0].lower() + err["msg"][1:]
    # A tagged distribution reports its tag as a path element: drop it (it is not a field).
    loc = [p for p in loc if p not in _TAGS]
    where = ".".join(loc) or "(top level)"
    value = err.get("input")
    got = "" if kind == "missing" or isinstance(value, dict) else f" (got {value!r})"
    return f"{source}: {where}: {problem}{got}"


_TAGS = frozenset({"constant", "exponential", "lognormal", "gamma", "triangular", "uniform"})
