"""One self-contained HTML page: inline CSS, inline SVG charts, no scripts, no network.

The page opens from disk anywhere (a CI artifact, an e-mail attachment) and renders the same.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from reports.evaluate import Evaluation

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #ddd}
.meta{color:#555;font-size:13px}.note{color:#555;font-size:13px;margin:2px 0 8px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:12px 0}
.pass{background:#e6f4ea;color:#1e6b34}.fail{background:#fde7e7;color:#9b1c1c}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0;background:#fff}
th,td{border:1px solid #e2e2e2;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f1f1f1}
td.breach{color:#9b1c1c;font-weight:600}td.pass{color:#1e6b34}
figure{margin:8px 0;background:#fff;border:1px solid #eee;padding:4px}
figure svg{max-width:100%;height:auto}
nav a{margin-right:12px;font-size:13px}.scroll{overflow-x:auto;max-width:100%}
"""


@dataclass
class Section:
    anchor: str
    title: str
    parts: list[str] = field(default_factory=list)

    def note(self, text: str) -> Section:
        self.parts.append(f'<p class="note">{html.escape(text)}</p>')
        return self

    def chart(self, svg: str, name: str) -> Section:
        self.parts.append(f'<figure class="chart" data-chart="{html.escape(name)}">{svg}</figure>')
        return self

    def table(self, frame: pd.DataFrame, index: bool = True) -> Section:
        self.parts.append(frame_html(frame, index=index))
        return self

    def raw(self, text: str) -> Section:
        self.parts.append(text)
        return self


def fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100 or value == int(value):
            return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def frame_html(frame: pd.DataFrame, index: bool = True) -> str:
    head_cells = ([html.escape(str(frame.index.name or ""))] if index else []) + [
        html.escape(str(c)) for c in frame.columns
    ]
    rows = []
    for key, row in frame.iterrows():
        cells = [f"<td>{html.escape(str(key))}</td>"] if index else []
        cells += [f"<td>{html.escape(fmt(v))}</td>" for v in row.tolist()]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{c}</th>" for c in head_cells)
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def thresholds_html(ev: Evaluation) -> str:
    if not ev.results:
        return '<p class="note">No thresholds were set (scenario [thresholds] or --threshold).</p>'
    rows = []
    for r in sorted(ev.results, key=lambda r: (not r.breached, r.metric)):
        cls = "breach" if r.breached else ("pass" if r.status == "pass" else "")
        rows.append(
            f"<tr><td>{html.escape(r.metric)}</td><td>{html.escape(r.condition)}</td>"
            f'<td>{html.escape(r.shown)}</td><td class="{cls}">{html.escape(r.status)}</td>'
            f"<td>{html.escape(r.source)}</td></tr>"
        )
    return (
        '<table class="thresholds"><thead><tr><th>metric</th><th>condition</th><th>value</th>'
        f"<th>result</th><th>from</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render(
    title: str,
    meta: list[tuple[str, str]],
    ev: Evaluation,
    sections: list[Section],
    verdict_note: str | None = None,
) -> str:
    breaches = ev.breaches
    if verdict_note is not None:
        verdict = f'<div class="verdict pass" id="verdict">{html.escape(verdict_note)}</div>'
    elif breaches:
        verdict = (
            f'<div class="verdict fail" id="verdict">FAIL: {len(breaches)} threshold '
            f"condition(s) breached</div>"
        )
    elif ev.results:
        verdict = '<div class="verdict pass" id="verdict">PASS: every threshold holds</div>'
    else:
        verdict = '<div class="verdict pass" id="verdict">No thresholds set</div>'
    thresholds = (
        ""
        if verdict_note is not None
        else f'<section id="thresholds"><h2>Thresholds</h2>{thresholds_html(ev)}</section>'
    )
    return document(title, meta, verdict, sections, thresholds)


def document(
    title: str,
    meta: list[tuple[str, str]],
    verdict_html: str,
    sections: list[Section],
    lead_html: str = "",
) -> str:
    """The page skeleton every report shares: title, meta line, verdict, navigation, then
    ``lead_html`` (not in the navigation) and the sections."""
    meta_html = " · ".join(f"{html.escape(k)}: <b>{html.escape(v)}</b>" for k, v in meta)
    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(s.parts)}</section>'
        for s in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>"
        f'<body><main><h1>{html.escape(title)}</h1><p class="meta">{meta_html}</p>'
        f"{verdict_html}<nav>{nav}</nav>{lead_html}{body}</main></body></html>\n"
    )
