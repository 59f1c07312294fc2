"""What every command module shares: exit codes, one-line errors, and cancelling on Ctrl-C / SIGTERM.

Below every ``*/command.py`` and ``cli.py`` (which only assembles the top-level group): command modules import
this, never ``cli``. Exit codes: 0 success; 1 error (one line on stderr, or an ``error`` event with
``--progress json``); 2 usage error (a bad option value); 130 cancelled.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import click

from .errors import FlashDepthError, OptionError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130
OVERWRITE_HELP = "Replace existing output files that flashdepth-vfx did not write (an input is never replaced)."


def fail(message: str, json_events: Any = None, code: int = EXIT_ERROR) -> None:
    """One ``error:`` line on stderr (and an ``error`` event), then exit with ``code``."""
    if json_events is not None:
        json_events.error(message)
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def guarded(debug: bool, body: Callable[[], Any], json_events: Any = None) -> Any:
    """Runs ``body``; project errors become one line, other errors too unless --debug."""
    try:
        return body()
    except FlashDepthError as exc:
        if debug:
            raise
        fail(str(exc), json_events, EXIT_USAGE if isinstance(exc, OptionError) else EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("cancelled", err=True)
        sys.exit(EXIT_CANCELLED)
    except Exception as exc:  # noqa: BLE001 - an artist never sees a traceback
        if debug:
            raise
        fail(f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
             "(run again with --debug for details)", json_events)


def cancel_on_signals() -> threading.Event:
    """An event the first Ctrl-C / SIGTERM (SIGBREAK on Windows) sets, for the command to stop at its next cancel
    point and keep what it finished; a second signal exits at once (130)."""
    cancel = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if cancel.is_set():  # a second Ctrl-C: stop now (os.write: the main thread may be inside a stderr write)
            os.write(2, b"cancelled: stopped at once by a second signal; finished frames are kept, "
                        b"run the same command with --resume to finish\n")
            sys.exit(EXIT_CANCELLED)
        cancel.set()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)
    return cancel
