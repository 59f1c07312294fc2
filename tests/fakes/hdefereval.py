"""A fake of SideFX's ``hdefereval`` (graphical Houdini only): ``executeDeferred`` queues a call for the next time
Houdini's event loop is idle; ``executeInMainThreadWithResult`` runs a call in the main thread and blocks the
calling (worker) thread until it returns, passing its result or exception back. The queue runs when the fake
``hou.run_event_loop`` plays the event loop; from the main thread itself the call runs at once."""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, List, Tuple

_calls: "queue.Queue[Tuple[Callable[..., Any], Tuple[Any, ...], Any]]" = queue.Queue()
main_thread = threading.main_thread()
ran: List[str] = []


class _Waiter:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: Any = None


def executeDeferred(fn: Callable[..., Any], *args: Any) -> None:
    _calls.put((fn, args, None))


def executeInMainThreadWithResult(fn: Callable[..., Any], *args: Any) -> Any:
    if threading.current_thread() is main_thread:
        return fn(*args)
    waiter = _Waiter()
    _calls.put((fn, args, waiter))
    if not waiter.done.wait(30.0):
        raise RuntimeError("the fake event loop never ran the main-thread call")
    if waiter.error is not None:
        raise waiter.error
    return waiter.result


def pending() -> int:
    return _calls.qsize()


def run_pending() -> None:
    """Run the queued calls (the fake event loop calls this in the main thread)."""
    while True:
        try:
            fn, args, waiter = _calls.get_nowait()
        except queue.Empty:
            return
        ran.append(getattr(fn, "__name__", repr(fn)))
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the waiting thread
            if waiter is None:
                raise
            waiter.error = exc
        else:
            if waiter is not None:
                waiter.result = result
        if waiter is not None:
            waiter.done.set()


def reset() -> None:
    while not _calls.empty():
        _calls.get_nowait()
    ran.clear()
