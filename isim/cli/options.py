"""Click callbacks that several subcommands share (their options' values checked once)."""

from __future__ import annotations

from typing import Any

import click

from isim.identity.trust import DomainError, trust_domain

__all__ = ["secret_callback", "trust_domains_callback"]


def secret_callback(parse: Any) -> Any:
    """A click callback parsing a secret (PIN, ADM) that never echoes the value in its error."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> bytes | None:
        if value is None:
            return None
        try:
            return parse(value)  # type: ignore[no-any-return]
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


def trust_domains_callback(ctx: click.Context, param: click.Parameter,
                           value: tuple[str, ...]) -> tuple[str, ...] | None:
    """Repeated `--trust-domain`: each a valid trust domain name; None when none is given."""
    for name in value:
        try:
            trust_domain(name)
        except DomainError as exc:
            raise click.BadParameter(f"{name!r}: {exc}") from None
    return value or None
