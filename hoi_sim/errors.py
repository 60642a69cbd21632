"""User-facing errors: the CLI prints their message on one line and exits non-zero (no traceback)."""

from __future__ import annotations


class HoiSimError(Exception):
    """An error caused by the user's input or environment, with a message that names the file/field/frame at fault."""


class InputError(HoiSimError):
    """Malformed or inconsistent input data."""
