"""The specifications as data: ASN.1 modules and the card's file-system layout.

Code reads these files; it does not restate what they say.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

# libyaml's safe loader when built in (same documents, several times faster: the layout is
# read on a personalization run's path); the pure-Python one otherwise
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SPECS_DIR = Path(__file__).resolve().parent


def path(name: str) -> Path:
    """Path of a spec data file shipped in this package."""
    return SPECS_DIR / name


@cache
def filesystem() -> dict[str, Any]:
    """The raw file-system layout (specs/filesystem.yaml)."""
    with path("filesystem.yaml").open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_SafeLoader)  # a safe loader, see _SafeLoader
