"""The project's version, read from the installed package's metadata so that pyproject.toml is
its only source. Here, in the lowest package, because run directories record it (``sim/``) and
the CLI prints it (``orderflow``), and the simulation must not import the CLI's package."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path


def _version() -> str:
    try:
        return metadata.version("orderflow")
    except metadata.PackageNotFoundError:  # a source checkout that was never installed
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        version: str = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
        return version


__version__ = _version()
