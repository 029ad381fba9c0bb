"""Data a scenario can take from files instead of drawing it: an order log (``[demand]
orders_file``), the restaurants it names (``[vendors] restaurants_file``) and a rider roster
(``[fleet] roster_file``), as CSV or Parquet.

Every file is read whole and checked before the run starts, so a bad cell is an error that names
the file, the row (1-based, header not counted) and the column, never a failure halfway through a
simulation. Positions are ``lat``/``lon`` degrees in a spherical city and ``x``/``y`` metres in a
planar one (``[city] geometry``); times are minutes from the start of the scenario's period.
The columns are documented in ``docs/real-data.md``.
"""

from __future__ import annotations

import csv
import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reference_api.geo import PLANAR_BOUND_M
from reference_api.money import MAX_PRICE

if TYPE_CHECKING:  # pandas is imported where files are read or written, not with the schema
    import pandas as pd

FloatArray = np.ndarray[tuple[int], np.dtype[np.float64]]
IntArray = np.ndarray[tuple[int], np.dtype[np.int64]]
BoolArray = np.ndarray[tuple[int], np.dtype[np.bool_]]

#: What the data files are called when written out (``write_inputs``), by scenario field.
CSV_NAMES = {
    "vendors.restaurants_file": "restaurants.csv",
    "demand.orders_file": "orders.csv",
    "fleet.roster_file": "couriers.csv",
}
#: Payment methods an order log may name (the API's, D3).
PAYMENTS = ("cod", "online")


class TraceError(ValueError):
    """A data file that cannot be used; the message names the file, row and column."""


@dataclass(frozen=True)
class Places:
    """Restaurants: ids in file order and their positions (``lat`` holds y in a planar city)."""

    ids: tuple[str, ...]
    lat: FloatArray
    lon: FloatArray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class OrderTrace:
    """One row per order, in placement order (ties keep file order)."""

    ids: tuple[str, ...]
    #: seconds from the period's start
    placed_s: FloatArray
    #: index into the restaurants
    restaurant: IntArray
    lat: FloatArray
    lon: FloatArray
    #: when the food is ready, seconds from the period's start (NaN: not given)
    ready_s: FloatArray
    #: preparation seconds from the start of cooking (NaN: not given; drawn from the scenario)
    prep_s: FloatArray
    #: paid online (None: the column is absent and the scenario's share decides)
    online: BoolArray | None
    #: basket value in the currency (None: absent; the scenario's basket is drawn)
    basket: FloatArray | None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class RosterShift:
    on_s: float
    off_s: float
    lat: float
    lon: float


@dataclass(frozen=True)
class Roster:
    """One entry per rider (first appearance order); a rider may work several shifts."""

    ids: tuple[str, ...]
    shifts: tuple[tuple[RosterShift, ...], ...]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Inputs:
    """What a scenario read from its data files."""

    orders: OrderTrace | None = None
    restaurants: Places | None = None
    roster: Roster | None = None


# ----------------------------------------------------------------------------- reading
def _check_widths(path: Path, sep: str) -> None:
    """Refuse a row with more cells than the header unless the extra ones are empty (a
    trailing separator), so no value in a file is silently dropped."""
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        rows = csv.reader(f, delimiter=sep)
        header = next(rows, [])
        for i, row in enumerate(rows, start=1):
            if len(row) > len(header) and any(c.strip() for c in row[len(header) :]):
                raise TraceError(
                    f"{path}: row {i}: {len(row)} cells but the header names {len(header)} "
                    f"columns (extra: {row[len(header)]!r})"
                )


def read_table(path: Path) -> pd.DataFrame:
    """A CSV (``,``; ``.tsv``/``.txt``: tab) or Parquet file, every CSV cell as text so the
    checks below see exactly what was written."""
    import pandas as pd

    if not path.is_file():
        raise TraceError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep = "\t" if suffix in (".tsv", ".txt") else ","
        _check_widths(path, sep)
        with warnings.catch_warnings():
            # index_col=False: a trailing separator must not turn the first column into the
            # index (and pandas warns that the empty cell it drops is lost: it was empty)
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            return pd.read_csv(
                path,
                sep=sep,
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
                index_col=False,
            )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise TraceError(f"{path}: cannot be read as a table: {exc}") from None


def _missing(value: object) -> bool:
    """A cell with nothing in it: None, NaN, or pandas' NA/NaT (a Parquet null)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT
    except TypeError:  # pandas.NA refuses to be a bool
        return True


class _Checker:
    """Turns a table's columns into typed arrays, naming the first bad cell."""

    def __init__(self, frame: pd.DataFrame, source: str) -> None:
        self.frame = frame
        self.source = source

    def fail(self, row: int, column: str, problem: str) -> TraceError:
        return TraceError(f"{self.source}: row {row + 1}, column {column}: {problem}")

    def has(self, column: str) -> bool:
        return column in self.frame.columns

    def require(self, *columns: str) -> None:
        missing = [c for c in columns if c not in self.frame.columns]
        if missing:
            have = ", ".join(map(str, self.frame.columns)) or "none"
            raise TraceError(
                f"{self.source}: missing column(s) {', '.join(missing)} (columns found: {have})"
            )
        if len(self.frame) == 0:
            raise TraceError(f"{self.source}: no rows")

    def text(self, column: str) -> list[str]:
        raw = self.frame[column].tolist()
        values = ["" if _missing(v) else str(v).strip() for v in raw]
        for i, v in enumerate(values):
            if not v or v.lower() == "nan":
                raise self.fail(i, column, "empty")
        return values

    def number(
        self,
        column: str,
        *,
        lo: float = -math.inf,
        hi: float = math.inf,
        optional: bool = False,
        what: str = "",
    ) -> FloatArray:
        out = np.empty(len(self.frame), dtype=np.float64)
        for i, raw in enumerate(self.frame[column].tolist()):
            text = "" if _missing(raw) else str(raw).strip()
            if text in ("", "nan", "NaN"):
                if optional:
                    out[i] = math.nan
                    continue
                raise self.fail(i, column, "empty")
            try:
                value = float(raw) if isinstance(raw, int | float) else float(text)
            except (TypeError, ValueError):
                raise self.fail(i, column, f"expected a number, got {text!r}") from None
            if not math.isfinite(value):
                raise self.fail(i, column, f"expected a finite number, got {text!r}")
            if value < lo or value > hi:
                span = what or f"between {lo:g} and {hi:g}"
                raise self.fail(i, column, f"must be {span}, got {text!r}")
            out[i] = value
        return out

    def position(self, planar: bool) -> tuple[FloatArray, FloatArray]:
        """``(lat, lon)``: degrees, or y and x metres in a planar city."""
        if planar:
            self.require("x", "y")
            x = self.number("x", lo=0.0, hi=PLANAR_BOUND_M, what="metres, 0 or more")
            y = self.number("y", lo=0.0, hi=PLANAR_BOUND_M, what="metres, 0 or more")
            return y, x
        self.require("lat", "lon")
        return self.number("lat", lo=-90, hi=90), self.number("lon", lo=-180, hi=180)

    def unique(self, column: str, ids: list[str]) -> None:
        seen: dict[str, int] = {}
        for i, v in enumerate(ids):
            if v in seen:
                raise self.fail(i, column, f"duplicate id {v!r} (first in row {seen[v] + 1})")
            seen[v] = i


def restaurants_from(frame: pd.DataFrame, source: str, *, planar: bool) -> Places:
    """Columns: ``restaurant`` (id), position."""
    c = _Checker(frame, source)
    c.require("restaurant")
    ids = c.text("restaurant")
    c.unique("restaurant", ids)
    lat, lon = c.position(planar)
    return Places(tuple(ids), lat, lon)


def orders_from(
    frame: pd.DataFrame, source: str, restaurants: Places, *, planar: bool, period_min: float
) -> OrderTrace:
    """Columns: ``placed_min``, ``restaurant``, position; optional ``order`` (id; default the
    row number), ``ready_min`` or ``prep_min``, ``payment`` (cod/online), ``basket``."""
    c = _Checker(frame, source)
    c.require("placed_min", "restaurant")
    n = len(frame)
    ids = c.text("order") if c.has("order") else [str(i + 1) for i in range(n)]
    c.unique("order", ids)
    placed = c.number(
        "placed_min",
        lo=0.0,
        hi=math.nextafter(period_min, 0.0),
        what=f"within the period (0 to before {period_min:g} min)",
    )
    index = {rid: k for k, rid in enumerate(restaurants.ids)}
    names = c.text("restaurant")
    restaurant = np.empty(n, dtype=np.int64)
    for i, name in enumerate(names):
        k = index.get(name)
        if k is None:
            raise c.fail(
                i, "restaurant", f"unknown restaurant id {name!r} (not in the restaurants)"
            )
        restaurant[i] = k
    lat, lon = c.position(planar)
    if c.has("ready_min") and c.has("prep_min"):
        raise TraceError(f"{source}: give ready_min or prep_min, not both")
    ready = np.full(n, math.nan)
    prep = np.full(n, math.nan)
    if c.has("ready_min"):
        ready = c.number("ready_min", lo=0.0, optional=True)
        early = np.flatnonzero(ready < placed)
        if early.size:
            i = int(early[0])
            raise c.fail(i, "ready_min", f"before placed_min ({ready[i]:g} < {placed[i]:g})")
        ready = ready * 60.0
    elif c.has("prep_min"):
        prep = c.number("prep_min", lo=0.0, hi=24 * 60, optional=True) * 60.0
    online: BoolArray | None = None
    if c.has("payment"):
        methods = [m.lower() for m in c.text("payment")]
        for i, m in enumerate(methods):
            if m not in PAYMENTS:
                raise c.fail(i, "payment", f"expected one of {', '.join(PAYMENTS)}, got {m!r}")
        online = np.array([m == "online" for m in methods], dtype=bool)
    basket = (
        c.number("basket", lo=0.01, hi=float(MAX_PRICE), what=f"from 0.01 to {MAX_PRICE}")
        if c.has("basket")
        else None
    )
    order = np.argsort(placed, kind="stable")
    pick: Callable[[Any], Any] = lambda a: None if a is None else a[order]  # noqa: E731
    return OrderTrace(
        tuple(ids[i] for i in order),
        placed[order] * 60.0,
        restaurant[order],
        lat[order],
        lon[order],
        ready[order],
        prep[order],
        pick(online),
        pick(basket),
    )


def roster_from(frame: pd.DataFrame, source: str, *, planar: bool, period_min: float) -> Roster:
    """Columns: ``courier`` (id; repeated for several shifts), position (where the shift
    starts), ``on_min``, ``off_min``."""
    c = _Checker(frame, source)
    c.require("courier", "on_min", "off_min")
    ids = c.text("courier")
    lat, lon = c.position(planar)
    on = c.number("on_min", lo=0.0, hi=period_min, what=f"within the period (0 to {period_min:g})")
    off = c.number("off_min", lo=0.0)
    rows: dict[str, list[int]] = {}
    for i, rid in enumerate(ids):
        if off[i] <= on[i]:
            raise c.fail(i, "off_min", f"must be later than on_min ({off[i]:g} <= {on[i]:g})")
        rows.setdefault(rid, []).append(i)
    shifts: list[tuple[RosterShift, ...]] = []
    for rid, idx in rows.items():
        idx.sort(key=lambda i: on[i])
        for a, b in itertools.pairwise(idx):
            if on[b] < off[a]:
                raise c.fail(b, "on_min", f"courier {rid!r}: overlaps the shift in row {a + 1}")
        shifts.append(
            tuple(
                RosterShift(float(on[i]) * 60.0, float(off[i]) * 60.0, float(lat[i]), float(lon[i]))
                for i in idx
            )
        )
    return Roster(tuple(rows), tuple(shifts))


def replayed_rows(
    trace: OrderTrace,
    scale: float,
    shift_min: float,
    duration_s: float,
    rng: np.random.Generator,
) -> tuple[IntArray, FloatArray]:
    """Which order-log rows are placed and when (seconds from the period's start): each row
    ``floor(scale)`` times, once more with probability ``frac(scale)`` (thinning below 1,
    duplicating above), moved by ``shift_min``; rows moved out of the period are dropped.
    Copies of a row are placed at its time. The simulation replays a log this way, and the load
    test takes its arrival times from here (its restaurants and customers are the target's)."""
    n = len(trace)
    whole, frac = divmod(scale, 1.0)
    copies = np.full(n, int(whole), dtype=np.int64)
    if frac > 0:
        copies += (rng.random(n) < frac).astype(np.int64)
    rows: IntArray = np.repeat(np.arange(n, dtype=np.int64), copies)
    times: FloatArray = trace.placed_s[rows] + shift_min * 60.0
    inside = (times >= 0.0) & (times < duration_s)
    return rows[inside], times[inside]


# ----------------------------------------------------------------------------- writing
def _position_columns(lat: FloatArray, lon: FloatArray, planar: bool) -> dict[str, Any]:
    return {"x": lon, "y": lat} if planar else {"lat": lat, "lon": lon}


def _plain(values: FloatArray) -> list[Any]:
    """Whole numbers as integers (so an MDRP file stays in its own integers), others as the
    shortest text that reads back to the same float; NaN (not given) as an empty cell."""
    return [
        None if v != v else int(v) if v == int(v) and abs(v) < 2**53 else float(v)
        for v in values.tolist()
    ]


def restaurants_frame(places: Places, planar: bool) -> pd.DataFrame:
    cols = _position_columns(places.lat, places.lon, planar)
    import pandas as pd

    return pd.DataFrame({"restaurant": list(places.ids), **{k: _plain(v) for k, v in cols.items()}})


def orders_frame(trace: OrderTrace, restaurants: Places, planar: bool) -> pd.DataFrame:
    data: dict[str, Any] = {
        "order": list(trace.ids),
        "placed_min": _plain(trace.placed_s / 60.0),
        "restaurant": [restaurants.ids[k] for k in trace.restaurant.tolist()],
    }
    for k, v in _position_columns(trace.lat, trace.lon, planar).items():
        data[k] = _plain(v)
    if not np.isnan(trace.ready_s).all():
        data["ready_min"] = _plain(trace.ready_s / 60.0)
    elif not np.isnan(trace.prep_s).all():
        data["prep_min"] = _plain(trace.prep_s / 60.0)
    if trace.online is not None:
        data["payment"] = [PAYMENTS[int(b)] for b in trace.online.tolist()]
    if trace.basket is not None:
        data["basket"] = trace.basket.tolist()
    import pandas as pd

    return pd.DataFrame(data)


def roster_frame(roster: Roster, planar: bool) -> pd.DataFrame:
    rows = [
        (rid, sh.lat, sh.lon, sh.on_s / 60.0, sh.off_s / 60.0)
        for rid, shifts in zip(roster.ids, roster.shifts, strict=True)
        for sh in shifts
    ]
    lat = np.array([r[1] for r in rows], dtype=float)
    lon = np.array([r[2] for r in rows], dtype=float)
    data: dict[str, Any] = {"courier": [r[0] for r in rows]}
    for k, v in _position_columns(lat, lon, planar).items():
        data[k] = _plain(v)
    data["on_min"] = _plain(np.array([r[3] for r in rows]))
    data["off_min"] = _plain(np.array([r[4] for r in rows]))
    import pandas as pd

    return pd.DataFrame(data)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Floats written with the shortest repr that reads back exactly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def write_inputs(
    inputs: Inputs, directory: Path, planar: bool, prefix: str = ""
) -> dict[str, Path]:
    """Each data file of ``inputs`` as a CSV in ``directory``: field path -> file written."""
    written: dict[str, Path] = {}
    if inputs.restaurants is not None:
        path = directory / f"{prefix}{CSV_NAMES['vendors.restaurants_file']}"
        write_csv(restaurants_frame(inputs.restaurants, planar), path)
        written["vendors.restaurants_file"] = path
        if inputs.orders is not None:
            path = directory / f"{prefix}{CSV_NAMES['demand.orders_file']}"
            frame = orders_frame(inputs.orders, inputs.restaurants, planar)
            write_csv(frame, path)
            written["demand.orders_file"] = path
    if inputs.roster is not None:
        path = directory / f"{prefix}{CSV_NAMES['fleet.roster_file']}"
        write_csv(roster_frame(inputs.roster, planar), path)
        written["fleet.roster_file"] = path
    return written
