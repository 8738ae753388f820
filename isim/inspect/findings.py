"""`Finding`: one problem of an inspected card, an error or a warning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from isim.errors import ef_location

__all__ = ["ERROR", "WARNING", "Finding", "Level"]

Level = Literal["error", "warning"]
ERROR: Level = "error"
WARNING: Level = "warning"


@dataclass(frozen=True)
class Finding:
    """`check` groups findings: read, fcp, spec, format, padding, services, identities, rule,
    access."""

    level: Level
    check: str
    file: str | None
    record: int | None
    message: str

    @property
    def where(self) -> str:
        if self.file is None:
            return "card"
        return ef_location(self.file, self.record)

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "check": self.check, "file": self.file,
                "record": self.record, "message": self.message}

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"
