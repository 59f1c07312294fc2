"""Progress for scripts that have only the Fusion/Resolve console to talk to."""
from __future__ import annotations

from typing import Callable, Optional


def console_report(prefix: str) -> Callable[[Optional[float], str], None]:
    """A NodeRender ``report`` callback that prints each new progress message once."""
    shown = [""]

    def report(fraction: Optional[float], message: str) -> None:
        if message != shown[0]:
            shown[0] = message
            print(f"{prefix}: {message}")

    return report
