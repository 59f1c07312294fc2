"""Project exceptions. Every message is one line an artist can act on."""
from __future__ import annotations

import threading


class FlashDepthError(Exception):
    """Base class: a one-line, user-facing error (no traceback is shown for it)."""


class PlateError(FlashDepthError):
    """A plate file or sequence cannot be read (missing frames, damaged file, unsupported layout)."""


class ColourError(FlashDepthError):
    """Colour management failed (unknown colour space, unreadable OCIO config)."""


class CheckpointError(FlashDepthError):
    """A checkpoint file is missing, damaged or does not match a FlashDepth configuration."""


class OutputError(FlashDepthError):
    """An output file or folder cannot be written."""


class OptionError(FlashDepthError):
    """An option's value is out of range or clashes with another: a usage error (the command line exits 2)."""


class SolveError(FlashDepthError):
    """A shot solve cannot run: a camera, point or anchor file is unusable, or the inputs do not fit together."""


class Cancelled(Exception):
    """Work stopped by a cancel request (Ctrl-C / SIGTERM, a host's Cancel). Not an error: what was finished is
    kept, and ``--resume`` finishes the job. Raised inside long library calls that take a ``cancel`` event."""


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled
