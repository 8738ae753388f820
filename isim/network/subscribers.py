"""The AuC gateway's subscribers: IMSI, K, OPc, AMF and the initial SQN_HE, read from an HSS
file (`isim personalize`'s CSV, plain or AES-GCM under the transport key, or the hlr_auc_gw
Milenage database) or from cards (profiles, images, emulator state files)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from isim.aka.sqn import SqnArray, SqnConfig
from isim.card.image import CardImage, is_card_image, load_image
from isim.codecs import codec_for
from isim.codecs.errors import CodecError
from isim.errors import InputError, Problem, ProfileError
from isim.personalize.hss import MILENAGE_DB_AMF, TransportKey, read_hss
from isim.profile.model import load_profile

__all__ = ["Subscriber", "from_cards", "from_hss", "index"]

IMSI_EF = "EF.IMSI"


@dataclass(frozen=True)
class Subscriber:
    imsi: str
    k: bytes = field(repr=False)
    opc: bytes = field(repr=False)
    amf: bytes = MILENAGE_DB_AMF
    sqn: int = 0  # SQN_HE until the store has one: the card's SQN_MS (the last SQN used)
    sqn_config: SqnConfig = field(default_factory=SqnConfig)


def from_hss(path: str | Path, transport_key: str | Path | None = None) -> list[Subscriber]:
    """The subscribers of an HSS file (the CSV's rows without an IMSI are skipped)."""
    transport = TransportKey.from_file(transport_key) if transport_key is not None else None
    return [Subscriber(r.imsi, r.k, r.opc, r.amf, r.sqn) for r in read_hss(path, transport)]


def from_cards(paths: Iterable[str | Path]) -> list[Subscriber]:
    """One subscriber per profile, card image or state file (its IMSI, K, OPc, SQN_MS)."""
    return [_from_card(Path(p)) for p in paths]


def index(subscribers: Sequence[Subscriber], source: str) -> dict[str, Subscriber]:
    """By IMSI; an IMSI given twice is a ProfileError (which of the two is right?)."""
    out: dict[str, Subscriber] = {}
    problems: list[Problem] = []
    for s in subscribers:
        if s.imsi in out:
            problems.append(Problem("imsi", f"{s.imsi} given twice"))
        out[s.imsi] = s
    if problems:
        raise ProfileError(problems, source=source)
    return out


def _from_card(path: Path) -> Subscriber:
    if not path.exists():
        raise InputError("no such file", source=str(path))
    if not is_card_image(path):
        profile = load_profile(path)
        if profile.imsi is None:
            raise ProfileError([Problem("imsi", "the gateway needs the card's IMSI")],
                               source=str(path))
        config = SqnConfig(profile.sqn_ind_bits, profile.sqn_delta, profile.sqn_limit)
        return Subscriber(profile.imsi, profile.k, profile.opc, sqn=profile.sqn,
                          sqn_config=config)
    image = load_image(path)
    try:
        sqn = SqnArray.from_dict(image.isim["state"]["sqn"])
        k, opc = bytes.fromhex(image.isim["k"]), bytes.fromhex(image.isim["opc"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"not a usable card image ({exc.__class__.__name__})",
                         source=str(path)) from None
    return Subscriber(_image_imsi(image, path), k, opc, sqn=sqn.sqn_ms, sqn_config=sqn.config)


def _image_imsi(image: CardImage, path: Path) -> str:
    """The IMSI in the image's EF.IMSI (TS 31.102 4.2.2), in whichever ADF holds it."""
    for adf in image.card.get("adfs", []):
        for ef in adf.get("files", []):
            if ef.get("name") == IMSI_EF:
                try:
                    value = codec_for(IMSI_EF).decode(bytes.fromhex(ef["content"]))
                except (CodecError, KeyError, TypeError, ValueError):
                    break
                imsi = value.get("imsi") if isinstance(value, dict) else value
                if isinstance(imsi, str) and imsi.isdigit():
                    return imsi
    raise InputError("the image has no readable EF.IMSI (no USIM): give its profile",
                     source=str(path))
