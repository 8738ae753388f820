"""The `isim` command line: the only place that knows terminals, arguments and exit codes.

Each subcommand lives in its own module of this package and registers itself on `main`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from isim.codecs.errors import CodecError
from isim.errors import CardContentError, InputError, ProfileError

# Exit codes shared by every subcommand (public contract).
EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2

SUBCOMMAND_MODULES = (
    "check",
    "build",
    "codec",
    "emulate",
    "aka",
    "personalize",
    "inspect",
    "trust_check",
    "saip",
    "register",
    "auc_gw",
)


@contextmanager
def reporting(source: str, command: str) -> Iterator[None]:
    """Turn the library's errors into one line each on stderr and the exit code:
    a profile or card that breaks a rule or format -> 1, an unreadable input -> 2."""
    try:
        yield
    except ProfileError as exc:
        for p in exc.problems:
            click.echo(f"{source}: {p.where}: {p.message}", err=True)
        sys.exit(EXIT_VIOLATION)
    except (CodecError, CardContentError) as exc:
        click.echo(f"{source}: {exc}", err=True)
        sys.exit(EXIT_VIOLATION)
    except InputError as exc:
        click.echo(f"isim {command}: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="isim")
def main() -> None:
    """A software ISIM: build, emulate, personalize and validate IMS cards."""


for _name in SUBCOMMAND_MODULES:  # a missing module is an error, not a hidden subcommand
    importlib.import_module(f"{__name__}.{_name}")
