"""Packages for a batch (`isim personalize --format saip`): a validated profile -> its DER."""

from __future__ import annotations

from isim.contents import CardContents
from isim.image import build_image
from isim.profile import Profile

from .export import export_image

__all__ = ["profile_package"]


def profile_package(profile: Profile, contents: CardContents | None = None) -> bytes:
    return export_image(build_image(profile, contents))
