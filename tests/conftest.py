"""Shared fixtures.  `pcsc_stack`: one pcscd + vpcd reader for the whole session (see
tools/pcsc_stack.py); tests that use it run through real PC/SC and fail, never skip, when the
stack cannot start."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import settings

import pcsc_stack as _stack

# Property tests: the suite (and CI) runs the same examples every time, so that a run fails
# for a change and not for the draw; `pytest --hypothesis-profile=explore` draws new ones.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", max_examples=1000)
settings.load_profile("repeatable")


@pytest.fixture(scope="session")
def pcsc_stack() -> Iterator[_stack.PcscStack]:
    """A running pcscd with a vpcd reader; this process's pyscard is pointed at it."""
    try:
        cm = _stack.pcsc_stack(activate=True)
        running = cm.__enter__()
    except _stack.StackError as exc:
        pytest.fail(
            f"cannot start the PC/SC stack (pcscd + vpcd): {exc}\n"
            "Run tools/setup-system as root, and run the tests as root (or with a running "
            "pcscd that has a vpcd reader).",
            pytrace=False,
        )
    try:
        yield running
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture(scope="module", autouse=True)
def _no_thread_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test module stops the non-daemon threads it started (after its module fixtures): a
    thread left running keeps the process alive at the end, and holds its locks through any
    later fork (isim.personalize.work.start_method spawns then, but other code may fork)."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and not t.daemon]
    for thread in left:
        thread.join(timeout=5)
    if alive := [t.name for t in left if t.is_alive()]:
        pytest.fail(f"{request.module.__name__} left threads running: {alive}", pytrace=False)
