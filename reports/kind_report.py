"""What each kind of run contributes to a report, so the writer in :mod:`reports.build` is one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from reports.page import Section


@dataclass
class KindReport:
    title: str
    meta: list[tuple[str, str]]
    sections: list[Section]
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    #: Replaces the pass/fail banner for kinds that are not gated (sweeps).
    verdict: str | None = None
