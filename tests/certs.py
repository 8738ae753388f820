"""A throw-away PKI for tests: root CAs, an intermediate, and P-CSCF leaf certificates.

Everything is generated in memory with ``cryptography`` (EC P-256, fast). A :class:`PKI` holds
a root, an intermediate under it, and an unrelated "other" root; :meth:`PKI.leaf` issues a leaf
with any mix of dNSName / URI SANs, CN, validity window and EKU.

    pki = PKI.create()
    good = pki.leaf(dns=["pcscf.ims.example.org"])
    chain = [good.cert]            # leaf first
    roots = [pki.root.cert]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _name(cn: str | None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "isim tests")]
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _builder(
    subject: x509.Name,
    issuer: Issued | None,
    key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.CertificateBuilder:
    issuer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    return builder


def make_ca(cn: str, issuer: Issued | None = None, now: dt.datetime | None = None) -> Issued:
    """A root CA (``issuer`` None) or an intermediate CA signed by ``issuer``."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(cn), issuer, key, now - 30 * DAY, now + 3650 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
    )
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def make_leaf(
    issuer: Issued,
    *,
    cn: str | None = "pcscf",
    dns: Sequence[str] = (),
    uris: Sequence[str] = (),
    san: bool | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.SERVER_AUTH,),
) -> Issued:
    """A P-CSCF leaf. A subjectAltName is added when ``dns``/``uris`` are given (or ``san``)."""
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(
            _name(cn),
            issuer,
            key,
            not_before or now - DAY,
            not_after or now + 365 * DAY,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
    names += [x509.DNSName(d) for d in dns]
    if san if san is not None else bool(names):
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


@dataclass(frozen=True)
class PKI:
    root: Issued
    intermediate: Issued  # signed by root
    other_root: Issued  # unrelated CA, not trusted by the tests

    @classmethod
    def create(cls) -> PKI:
        root = make_ca("isim test root")
        return cls(
            root=root,
            intermediate=make_ca("isim test intermediate", issuer=root),
            other_root=make_ca("isim other root"),
        )

    def leaf(self, *, issuer: Issued | None = None, **kwargs) -> Issued:
        """A leaf signed by the root (default), the intermediate or the other root."""
        return make_leaf(issuer or self.root, **kwargs)


def pem(*certs: x509.Certificate | Issued) -> bytes:
    out = b""
    for c in certs:
        cert = c.cert if isinstance(c, Issued) else c
        out += cert.public_bytes(serialization.Encoding.PEM)
    return out


def write_pem(path: Path, *certs: x509.Certificate | Issued) -> Path:
    path.write_bytes(pem(*certs))
    return path
