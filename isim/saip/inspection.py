"""`isim inspect --saip FILE.der`: the package's MF and ISIM files run in the engine as a
card image, inspected like a card; the findings name the PE each file came from, and what
isim did not read from the package is listed as warnings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from isim.inspect import CardSource, Finding, Inspection, inspect_source, open_image
from isim.inspect.findings import WARNING

from .convert import inspection_image
from .extract import Extracted

__all__ = ["inspect_package", "package_source"]


def package_source(path: str | Path,
                   trust_domains: Sequence[str] | None) -> tuple[CardSource, Extracted]:
    """Raises PackageError (an InputError) for a package that cannot be read."""
    image, ex = inspection_image(path, list(trust_domains) if trust_domains else None)
    return open_image(image, f"package {path}"), ex


def inspect_package(path: str | Path, trust_domains: Sequence[str] | None) -> tuple[
        Inspection, str]:
    src, ex = package_source(path, trust_domains)
    ins = inspect_source(src, src.trust_domains)
    pe_of = {f.spec.name: f.pe for f in ex.content.files.values()}
    findings = [dataclasses.replace(f, file=f"{f.file} ({pe_of[f.file]})")
                if f.file in pe_of else f for f in ins.findings]
    findings += [Finding(WARNING, "saip", None, None, note) for note in ex.notes]
    return dataclasses.replace(ins, findings=findings), src.description
