"""The layers (issue 10): `apdu/` is sans-IO and never imports `isim` or `transport`;
`transport/` never imports `isim`. Checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IO_MODULES = {"socket", "select", "selectors", "threading", "asyncio", "smartcard",
              "subprocess", "multiprocessing"}


def _imports(package: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        out[str(path.relative_to(ROOT))] = names
    return out


@pytest.mark.parametrize("package, forbidden", [
    ("apdu", {"isim", "transport"} | IO_MODULES),
    ("transport", {"isim"}),
])
def test_layers(package: str, forbidden: set[str]) -> None:
    modules = _imports(package)
    assert modules, package
    wrong = {m: sorted(names & forbidden) for m, names in modules.items() if names & forbidden}
    assert wrong == {}
