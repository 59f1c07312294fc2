"""Running the engine as a subprocess: JSON progress events in, a RenderResult out, polite cancel."""
from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import threading
import types
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Deque, List, Mapping, Optional, Sequence

from . import engine
from .engine import EngineNotFound, engine_environment, engine_process_flags, find_engine
from .job import RenderJob

CANCELLED_EXIT_CODE = 130
STDERR_TAIL_LINES = 20
CTRL_BREAK_EVENT = 1
"""Windows' console Ctrl-Break event (``signal.CTRL_BREAK_EVENT`` exists only there)."""


def _as_int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _as_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class RenderEvent:
    """One engine event: ``kind`` is the JSON ``event`` name, or ``"log"`` for any other output line."""

    kind: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_line(cls, line: str, stream: str = "stdout") -> RenderEvent:
        """Parse one output line; anything that is not a JSON event object becomes a ``log`` event."""
        text = line.rstrip("\r\n")
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("event"), str):
            return cls(obj["event"], types.MappingProxyType(obj))
        return cls("log", types.MappingProxyType({"message": text, "stream": stream}))

    @property
    def frame(self) -> Optional[int]:
        """Frame number, where the event has one."""
        return _as_int(self.data.get("frame"))

    @property
    def index(self) -> Optional[int]:
        """1-based position of the frame in the render."""
        return _as_int(self.data.get("index"))

    @property
    def total(self) -> Optional[int]:
        """Number of frames in the render."""
        return _as_int(self.data.get("total"))

    @property
    def message(self) -> Optional[str]:
        """The warning/error/cancel message, or the text of a log line."""
        return _as_str(self.data.get("message"))

    @property
    def path(self) -> Optional[str]:
        """The file written for a ``frame`` event."""
        return _as_str(self.data.get("path"))

    @property
    def fraction(self) -> Optional[float]:
        """Progress in [0, 1] (index / total), or None when the event carries no progress."""
        index, total = self.index, self.total
        if index is None or not total:
            return None
        return index / total


@dataclass
class RenderResult:
    """How a render ended. Finished frames stay on disk whatever the outcome."""

    returncode: int
    cancelled: bool
    error: Optional[str]
    written: List[str] = field(default_factory=list)
    output: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    stderr_tail: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every frame was rendered."""
        return self.returncode == 0 and not self.cancelled and self.error is None


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (unknown, as on Windows, counts as alive): the
    engine's stale-temporary rule and the hosts' pruning both ask."""
    if os.name == "nt" or pid <= 0:  # os.kill(pid, 0) would terminate it on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _exit_message(returncode: int, stderr_tail: Sequence[str]) -> str:
    """One-line error for an engine that died without an error event."""
    if returncode < 0:
        how = f"was killed by signal {-returncode}"
    else:
        how = f"exited with code {returncode}"
    last = next((line.strip() for line in reversed(stderr_tail) if line.strip()), None)
    detail = f": {last}" if last else " without a message"
    return f"render engine {how}{detail} (run the same render from a shell with --debug for the full log)"


class RenderProcess:
    """One engine render. ``on_event`` is called from a reader thread (never two calls at once),
    so GUI hosts must hand events over to their GUI thread themselves."""

    def __init__(
        self,
        job: RenderJob,
        engine: Optional[Sequence[str]] = None,
        on_event: Optional[Callable[[RenderEvent], None]] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.job = job
        self.engine = list(engine) if engine else None
        self.on_event = on_event
        self.env = env
        self._proc: Optional[subprocess.Popen[str]] = None
        self._readers: List[threading.Thread] = []
        self._event_lock = threading.Lock()
        self._cancel_requested = False
        self._callback_error: Optional[BaseException] = None
        self._written: List[str] = []
        self._warnings: List[str] = []
        self._output: Optional[str] = None
        self._error: Optional[str] = None
        self._cancel_event = False
        self._stderr_tail: Deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)

    @property
    def argv(self) -> List[str]:
        """The full command line (finds the engine if none was given)."""
        if self.engine is None:
            self.engine = find_engine()
        return self.engine + self.job.to_args()

    @property
    def running(self) -> bool:
        """True between start() and the engine's exit."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Launch the engine; raises :class:`EngineNotFound` when it cannot be started."""
        if self._proc is not None:
            raise RuntimeError("this render was already started; make a new RenderProcess")
        argv = self.argv
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=engine_environment(self.env),
                encoding="utf-8",
                errors="replace",
                **engine_process_flags(new_group=True),
            )
        except OSError as exc:
            raise EngineNotFound(
                f"cannot start render engine {argv[0]!r} ({exc.strerror or exc}): check $FLASHDEPTH_VFX_BIN"
            ) from None
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self._proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._read, args=(self._proc.stderr, "stderr"), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], name: str) -> None:
        for line in stream:
            if name == "stderr":
                event = RenderEvent("log", types.MappingProxyType({"message": line.rstrip("\r\n"), "stream": name}))
            else:
                event = RenderEvent.from_line(line, name)
            self._handle(event)
        stream.close()

    def _handle(self, event: RenderEvent) -> None:
        with self._event_lock:
            self._record(event)
            if self.on_event is None or self._callback_error is not None:
                return
            try:
                self.on_event(event)
            except BaseException as exc:  # re-raised from wait(); the pipes must keep draining
                self._callback_error = exc

    def _record(self, event: RenderEvent) -> None:
        data = event.data
        if event.kind == "log" and data.get("stream") == "stderr":
            self._stderr_tail.append(event.message or "")
        elif event.kind == "frame" and event.path:
            self._written.append(event.path)
        elif event.kind == "warning" and event.message:
            self._warnings.append(event.message)
        elif event.kind == "error":
            self._error = event.message or "render engine reported an error without a message"
        elif event.kind == "cancelled":
            self._cancel_event = True
        if event.kind in ("start", "done") and _as_str(data.get("output")):
            self._output = data["output"]

    def wait(self, timeout: Optional[float] = None) -> RenderResult:
        """Wait for the engine to exit (``subprocess.TimeoutExpired`` after ``timeout`` seconds)
        and return the result. An exception raised by ``on_event`` is re-raised here."""
        if self._proc is None:
            raise RuntimeError("render not started: call start() first")
        returncode = self._proc.wait(timeout)
        for reader in self._readers:
            reader.join()
        if self._callback_error is not None:
            raise self._callback_error
        cancelled = self._cancel_event or returncode == CANCELLED_EXIT_CODE or (
            self._cancel_requested and returncode != 0
        )
        error = self._error
        if error is None and returncode != 0 and not cancelled:
            error = _exit_message(returncode, self._stderr_tail)
        return RenderResult(
            returncode=returncode,
            cancelled=cancelled,
            error=None if cancelled else error,
            written=list(self._written),
            output=self._output,
            warnings=list(self._warnings),
            stderr_tail=list(self._stderr_tail),
        )

    def run(self) -> RenderResult:
        """start() then wait()."""
        self.start()
        return self.wait()

    def cancel(self, grace: float = 5.0) -> None:
        """Ask the engine to stop (SIGTERM; Ctrl-Break to its process group on Windows) and kill it if it is
        still running after ``grace`` seconds, whether or not the request could be delivered (Windows
        delivers Ctrl-Break only within a console, which GUI hosts lack). Returns at once; call wait()
        for the result."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        self._cancel_requested = True
        try:
            proc.send_signal(CTRL_BREAK_EVENT if engine.WINDOWS else signal.SIGTERM)
        except OSError:  # not delivered (no shared console) or already gone: the kill below still ends it
            pass
        threading.Thread(target=self._kill_after, args=(proc, grace), name="flashdepth-kill-after", daemon=True).start()

    @staticmethod
    def _kill_after(proc: subprocess.Popen[str], grace: float) -> None:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                proc.kill()
            except OSError:  # exited in between
                pass
