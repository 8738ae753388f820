"""The specifications as data: ASN.1 modules and the card's file-system layout.

Code reads these files; it does not restate what they say.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPECS_DIR = Path(__file__).resolve().parent


def path(name: str) -> Path:
    """Path of a spec data file shipped in this package."""
    return SPECS_DIR / name


@cache
def filesystem() -> dict[str, Any]:
    """The raw file-system layout (specs/filesystem.yaml)."""
    with path("filesystem.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)
