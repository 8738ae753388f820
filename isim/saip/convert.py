"""The operations behind `isim saip` and `isim inspect --saip`, without the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from isim.card.image import CardImage, build_image, load_card_source, save_image
from isim.errors import InputError, Problem, ProfileError
from isim.fileio import atomic_write
from isim.profile.model import Profile, profile_from_mapping

from .export import ExportError, export_image
from .extract import Extracted, extract, package_image
from .package import load_package, read_package

__all__ = ["export_card", "import_package", "inspection_image", "write_profile_yaml"]

_PLACEHOLDER_KEY = "00" * 16


def export_card(card: str | Path, output: Path) -> int:
    """CARD (profile or image) -> a package at `output` (0600, atomic). Returns its size.
    The card's identities must keep the trust rule (ProfileError / CardContentError)."""
    image = load_card_source(card)  # a profile is validated (rule included) on loading
    try:
        _check_image_rule(image, str(card))
        data = export_image(image)
    except ExportError as exc:
        raise InputError(str(exc), source=str(card)) from None
    atomic_write(output, data)
    return len(data)


def _check_image_rule(image: CardImage, source: str) -> None:
    """An image was validated when built, but may have been edited since: check again, on
    the identities its ISIM files hold, through the profile rules."""
    ex = extract(read_package(export_image(image), source=source),
                 list(image.isim.get("trust_domains") or []))
    mapping = dict(ex.mapping)
    mapping.setdefault("k", _PLACEHOLDER_KEY)
    mapping.setdefault("opc", _PLACEHOLDER_KEY)
    profile_from_mapping(mapping, source=source)


def import_package(path: str | Path, trust_domains: list[str] | None) -> tuple[Extracted,
                                                                                 Profile | None]:
    """Read and validate. Returns (what was read, the profile) — the profile is None when the
    package's algorithm is not Milenage (no K/OPc); raises ProfileError for violations
    (the trust rule included) and PackageError for an unreadable package."""
    ex = extract(load_package(path), trust_domains)
    mapping = dict(ex.mapping)
    if not ex.milenage:  # check the rest with stand-in keys, which are never written
        mapping["k"] = _PLACEHOLDER_KEY
        mapping["opc"] = _PLACEHOLDER_KEY
    try:
        profile = profile_from_mapping(mapping, source=f"{path}")
    except ProfileError as exc:
        raise ProfileError([_in_pe(p, ex) for p in exc.problems], source=exc.source) from None
    if not mapping.get("trust_domains"):
        raise ProfileError([Problem("trust_domains", "none given and the package has no "
                                    "home domain: give --trust-domain")], source=str(path))
    return ex, (profile if ex.milenage else None)


def _in_pe(problem: Problem, ex: Extracted) -> Problem:
    """The problem, its file named with the PE it came from."""
    where = ex.sources.get(problem.field)
    if where is None or problem.file is None:
        return problem
    return Problem(problem.field, problem.message, f"{problem.file} ({where})", problem.record)


def write_profile_yaml(ex: Extracted, output: Path, source: str) -> None:
    """The imported profile as YAML (0600: it holds K, OPc and the PINs)."""
    head = [f"# imported by `isim saip import` from {Path(source).name}"]
    head += [f"# note: {n}" for n in ex.notes if "not Milenage" in n or "K and OPc" in n]
    text = "\n".join(head) + "\n" + yaml.safe_dump(_yaml_mapping(ex.mapping),
                                                   sort_keys=False, allow_unicode=True)
    atomic_write(output, text.encode("utf-8"))


def _yaml_mapping(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def write_image(profile: Profile, output: Path) -> None:
    save_image(output, build_image(profile))


def inspection_image(path: str | Path, trust_domains: list[str] | None) -> tuple[CardImage,
                                                                                 Extracted]:
    """The package as a card image (exactly its MF and ISIM files) for `isim inspect`."""
    ex = extract(load_package(path), trust_domains)
    domains = list(ex.mapping.get("trust_domains") or [])
    return package_image(ex, domains), ex
