"""Renders started from a host node: the engine run a host polls and cancels (:class:`NodeRender`), and the
background thread around a node's whole render (:class:`BackgroundRender`, one per node in
:class:`RenderSlots`).

A background render always ends cleanly: whatever its work raises (the project's one-line errors, or any
other exception from a host call or a bug), the node's slot is released first and the host's ``done``
callback then gets exactly one call with a one-line message, so no node stays "already rendering".

Standard library + :mod:`flashdepth_vfx.bridge` only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Callable, Dict, Optional, Sequence, Tuple

from flashdepth_vfx.bridge import RenderEvent, RenderJob, RenderProcess, RenderResult
from flashdepth_vfx.bridge.runner import CANCELLED_EXIT_CODE
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.solve.defaults import PHASES

from .cached import CachedRender

Report = Callable[[Optional[float], str], None]
"""``report(fraction done in [0, 1] or None, one-line message)``."""


def summary(result: RenderResult) -> str:
    """One line saying how a render ended."""
    if result.cancelled:
        text = f"Cancelled: {len(result.written)} frames kept"
    elif result.error is not None:
        text = f"Error: {result.error}"
    else:
        text = f"Done: {len(result.written)} frames in {result.output}"
    if result.warnings:
        text += f" ({len(result.warnings)} warnings, last: {result.warnings[-1]})"
    return text


def _int(value: object) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class NodeRender:
    """One engine run started from a host node. The engine runs through the bridge; this keeps its latest
    progress so the host can poll it from its own thread, and cancel it."""

    def __init__(self, job: RenderJob, engine: Optional[Sequence[str]] = None) -> None:
        self.job = job
        self._process = RenderProcess(job, engine=engine, on_event=self._on_event)
        self._lock = threading.Lock()
        self._fraction: Optional[float] = None
        self._message = "Starting the depth engine"
        self._start: Optional[RenderEvent] = None
        self.cancel_requested = False

    def _on_event(self, event: RenderEvent) -> None:
        with self._lock:
            if event.kind == "start":
                self._start = event
                self._fraction = 0.0
                self._message = f"Rendering {event.data.get('plate')} ({event.total} frames)"
            elif event.kind == "frame":
                self._fraction = event.fraction
                fps = event.data.get("fps")
                speed = f", {fps:.1f} fps" if isinstance(fps, (int, float)) else ""
                self._message = f"Frame {event.frame} ({event.index}/{event.total}){speed}"
            elif event.kind == "solve":
                self._fraction = event.fraction
                self._message = f"Solving to the camera: frame {event.index}/{event.total}"
            elif event.kind == "solve_step":
                self._fraction = event.fraction
                phase = PHASES.get(str(event.data.get("phase")), "solving")
                where = f", {(event.index or 0) + 1}/{event.total}" if event.total and event.total > 1 else ""
                self._message = f"Solving to the camera: {phase}{where}"
            elif event.kind in ("warning", "cancelled", "error") and event.message:
                prefix = "Warning: " if event.kind == "warning" else ""
                self._message = prefix + event.message

    def progress(self) -> Tuple[Optional[float], str]:
        """(fraction done in [0, 1] or None before the first frame, one-line message)."""
        with self._lock:
            return self._fraction, self._message

    def start(self) -> None:
        """Launch the engine (raises :class:`flashdepth_vfx.bridge.EngineNotFound`)."""
        self._process.start()

    @property
    def running(self) -> bool:
        """Whether the engine process is still running (hosts with their own event loop poll this)."""
        return self._process.running

    def cancel(self) -> None:
        """Ask the engine to stop; finished frames are kept."""
        self.cancel_requested = True
        self._process.cancel()

    def wait(self) -> RenderResult:
        """Wait for the engine to exit and return the result."""
        return self._process.wait()

    def run(self, report: Report, is_cancelled: Callable[[], bool] = lambda: False, poll: float = 0.1) -> RenderResult:
        """Start, then call ``report(fraction, message)`` every ``poll`` seconds until the engine exits,
        cancelling once ``is_cancelled()`` turns true. If ``report`` raises (a host's interrupt), the
        render is cancelled and the exception propagates: call :meth:`wait` for the result."""
        self.start()
        try:
            while self.running:
                if not self.cancel_requested and is_cancelled():
                    self.cancel()
                report(*self.progress())
                time.sleep(poll)
        except BaseException:
            self.cancel()
            raise
        result = self.wait()
        report(*self.progress())
        return result

    def cached(self, result: RenderResult) -> Optional[CachedRender]:
        """The single-folder record of ``result`` (see :mod:`.cached`); None when no frame was written."""
        with self._lock:
            start = self._start
        if start is None or not result.written or result.output is None:
            return None
        first, last, total = (_int(start.data.get(key)) for key in ("first", "last", "total"))
        if first is None or last is None or total is None:
            return None
        return CachedRender(self.job.fingerprint(), result.output, first, last, len(result.written), total)


def error_line(exc: BaseException) -> str:
    """The status line for an exception that ended a render: the project's errors as they are, anything
    else with its type (it is a bug or a host failure; the traceback goes to stderr)."""
    if isinstance(exc, FlashDepthError):
        return f"Error: {exc}"
    text = " ".join(str(exc).split()) or "no message"
    return f"Error: unexpected {type(exc).__name__}: {text} (details in the script editor / console)"


Work = Callable[["BackgroundRender"], RenderResult]
Done = Callable[["BackgroundRender", Optional[RenderResult], str], None]


class BackgroundRender(threading.Thread):
    """A node's render off the host's main thread.

    ``work(render)`` does the steps (an upstream export, then the engine through :meth:`run_engine`) and
    returns the engine's result. Afterwards ``done(render, result, message)`` is called exactly once from this
    thread, whatever happened: ``result`` is None when ``work`` raised, and ``message`` is :func:`summary` or
    :func:`error_line`. GUI hosts hand ``done`` over to their main thread themselves.
    """

    def __init__(self, key: str, work: Work, done: Done, slots: Optional[RenderSlots] = None) -> None:
        super().__init__(name=f"FlashDepth {key}", daemon=True)
        self.key = key
        self._work = work
        self._done = done
        self._slots = slots
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self.engine: Optional[NodeRender] = None
        """The engine run in progress, once :meth:`run_engine` has started it."""
        self.result: Optional[RenderResult] = None
        self.message = ""

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop the render: the export between frames, the engine politely (finished frames are kept)."""
        self._cancel.set()
        with self._lock:
            engine = self.engine
        if engine is not None:
            engine.cancel()

    def run_engine(self, job: RenderJob, report: Report, engine: Optional[Sequence[str]] = None,
                   poll: float = 0.1) -> RenderResult:
        """Run the engine for ``job`` from the worker, cancelled with this render."""
        work = NodeRender(job, engine=engine)
        with self._lock:
            if self._cancel.is_set():
                return RenderResult(CANCELLED_EXIT_CODE, True, None)
            self.engine = work
        return work.run(report, self._cancel.is_set, poll=poll)

    def run(self) -> None:
        result: Optional[RenderResult] = None
        try:
            result = self._work(self)
            message = summary(result)
        except BaseException as exc:  # noqa: BLE001 - whatever happens, the render must end cleanly
            result = None
            message = error_line(exc)
            if not isinstance(exc, FlashDepthError):
                traceback.print_exc(file=sys.stderr)
        finally:
            if self._slots is not None:
                self._slots.release(self)
        self.result, self.message = result, message
        try:
            self._done(self, result, message)
        except BaseException:  # noqa: BLE001 - a failing host callback must not leave a dead thread's traceback only
            traceback.print_exc(file=sys.stderr)


class RenderSlots:
    """The renders in progress, one per node key (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._renders: Dict[str, BackgroundRender] = {}

    def start(self, render: BackgroundRender) -> bool:
        """Start ``render`` unless its node is rendering already (then False, and nothing starts)."""
        with self._lock:
            if render.key in self._renders:
                return False
            self._renders[render.key] = render
        try:
            render.start()
        except BaseException:
            self.release(render)
            raise
        return True

    def get(self, key: str) -> Optional[BackgroundRender]:
        with self._lock:
            return self._renders.get(key)

    def release(self, render: BackgroundRender) -> None:
        """Free ``render``'s node (done by the render itself when it ends)."""
        with self._lock:
            if self._renders.get(render.key) is render:
                del self._renders[render.key]
