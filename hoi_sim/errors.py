"""User-facing errors: the CLI prints their message on one line and exits non-zero (no traceback unless
``--debug`` / ``HOI_SIM_DEBUG=1``)."""

from __future__ import annotations

import os


class HoiSimError(Exception):
    """An error caused by the user's input or environment, with a message that names the file/field/frame at fault."""


class InputError(HoiSimError):
    """Malformed or inconsistent input data."""


def debug_enabled() -> bool:
    """``--debug`` was given (or ``HOI_SIM_DEBUG`` is set): failures show their traceback."""
    return os.environ.get("HOI_SIM_DEBUG", "") not in ("", "0")


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (a message never spreads over several lines of the terminal)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
