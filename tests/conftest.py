"""Suite-wide settings. Under CI (``CI=true``) Hypothesis runs derandomized: the same examples on
every run, so a red CI names a reproducible failure rather than a lucky draw; locally it keeps
exploring new examples each run."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")
