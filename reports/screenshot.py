"""Open a report in headless Chromium: collect console errors and network attempts, count the
charts, take a screenshot. Used by the browser tests and by ``make screenshots``
(``python -m orderflow.screenshots``), which regenerates the README's images under docs/images/.

Playwright drives the system's Chromium (Debian's ``/usr/bin/chromium``); it never downloads a
browser of its own.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """``ORDERFLOW_CHROMIUM`` if set, else the first Chromium on the system."""
    env = os.environ.get("ORDERFLOW_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageCheck:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    network: list[str] = field(default_factory=list)  # requests that left file://
    charts: int = 0
    title: str = ""
    verdict: str = ""


def check_pages(
    pages: Sequence[tuple[Path, Path | None]], width: int = 1280, height: int = 1000
) -> list[PageCheck]:
    """Load each ``(html, screenshot)`` from disk in one browser, every non-file request
    blocked, and report what happened; a screenshot is taken where a path is given."""
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError(
            "no Chromium found (apt-get install chromium, or set ORDERFLOW_CHROMIUM)"
        )
    results: list[PageCheck] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            for html, screenshot in pages:
                results.append(
                    _check(
                        browser.new_page(viewport={"width": width, "height": height}),
                        html,
                        screenshot,
                    )
                )
        finally:
            browser.close()
    return results


def _check(page: Page, html: Path, screenshot: Path | None) -> PageCheck:
    from playwright.sync_api import Request, Route

    out = PageCheck()
    page.on("console", lambda m: out.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: out.page_errors.append(str(e)))

    def route(r: Route, req: Request) -> None:
        if req.url.startswith("file://"):
            r.continue_()
        else:
            out.network.append(req.url)
            r.abort()

    page.route("**/*", route)
    page.goto(html.resolve().as_uri(), wait_until="load")
    out.charts = page.locator("figure.chart svg").count()
    out.title = page.title()
    out.verdict = page.locator("#verdict").inner_text()
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
    page.close()
    return out
