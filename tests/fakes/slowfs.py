"""A slow file system, as network storage is to a host's main thread: every call that goes to the file server
(a path looked up, a folder listed, a file opened, created, renamed or removed) is counted and may be delayed.

``with SlowFileSystem(latency=0.002) as fs: ...`` patches ``os`` and ``open`` for the block (``os.path.isfile``,
``isdir``, ``exists``, ``getmtime`` go through ``os.stat``; ``islink`` through ``os.lstat``); ``fs.calls`` counts
them by name, ``fs.total`` in all. Calls on an open file (``read``, ``seek``) are not counted: the open was.
"""
from __future__ import annotations

import builtins
import os
import threading
import time
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple

PATH_CALLS = ("stat", "lstat", "listdir", "scandir", "mkdir", "replace", "rename", "remove", "unlink", "rmdir",
              "utime", "access")
"""The ``os`` functions that name a path (each one or more round trips to a file server)."""


class SlowFileSystem:
    """Counts (and delays by ``latency`` seconds) every path call made in this thread, or in any thread with
    ``all_threads``."""

    def __init__(self, latency: float = 0.0, all_threads: bool = False) -> None:
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self.paths: List[Tuple[str, str]] = []
        self._thread: Optional[int] = None if all_threads else threading.get_ident()
        self._saved: Dict[Tuple[Any, str], Any] = {}

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()
        self.paths.clear()

    def _wrap(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def slow(*args: Any, **kwargs: Any) -> Any:
            if self._thread is None or threading.get_ident() == self._thread:
                self.calls[name] += 1
                self.paths.append((name, str(args[0]) if args else "."))
                if self.latency:
                    time.sleep(self.latency)
            return call(*args, **kwargs)
        return slow

    def __enter__(self) -> SlowFileSystem:
        targets: List[Tuple[Any, str]] = [(os, name) for name in PATH_CALLS]
        targets.append((builtins, "open"))
        for owner, name in targets:
            self._saved[(owner, name)] = getattr(owner, name)
            setattr(owner, name, self._wrap(name, getattr(owner, name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for (owner, name), call in self._saved.items():
            setattr(owner, name, call)
        self._saved.clear()
