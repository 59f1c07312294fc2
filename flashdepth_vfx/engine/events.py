"""Progress reporting: a rich progress bar, JSON lines for the host adapters, or nothing."""
from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


class EventSink:
    """Receives the render's events in order (frame events come from the writer thread). Does nothing itself."""

    def start(self, plate: str, output: str, first: int, last: int, total: int) -> None:
        """The render begins: ``total`` frames to write, ``first``-``last``."""

    def frame(self, frame: int, index: int, total: int, path: str) -> None:
        """Frame ``frame`` (the ``index``-th of ``total``) was written to ``path``."""

    def warning(self, message: str, frame: int | None = None) -> None:
        """Something the artist should know; the render goes on."""

    def done(self, written: int, output: str) -> None:
        """All frames written."""

    def solved(self, index: int, total: int) -> None:
        """``render --camera/--points/--anchors/--stabilize``: the shot solve after the stream wrote its ``index``-th
        frame of ``total``."""

    def solve_step(self, phase: str, index: int, total: int) -> None:
        """The shot solve's phase ``phase`` (start, cuts, stabilize, references, fit, resume, write) takes on its
        ``index``-th item (0-based) of ``total``: every frame of each phase but ``write``, whose written frames are
        :meth:`solved` events, which reports only its start."""

    def cancelled(self, written: int, message: str) -> None:
        """Stopped by Ctrl-C / SIGTERM; ``written`` frames were kept."""

    def error(self, message: str) -> None:
        """The render failed (one line)."""


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def fps(self, index: int) -> float:
        elapsed = time.perf_counter() - self.t0
        return round(index / elapsed, 3) if elapsed > 0 else 0.0

    def seconds(self) -> float:
        return round(time.perf_counter() - self.t0, 3)


class JsonEvents(EventSink):
    """One JSON object per line on a stream (stdout), flushed at once: the contract the bridge reads."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.clock = _Clock()

    def _emit(self, event: str, **data: Any) -> None:
        self.stream.write(json.dumps({"event": event, **data}) + "\n")
        self.stream.flush()

    def start(self, plate: str, output: str, first: int, last: int, total: int) -> None:
        self.clock = _Clock()
        self._emit("start", plate=plate, output=output, first=first, last=last, total=total)

    def frame(self, frame: int, index: int, total: int, path: str) -> None:
        self._emit("frame", frame=frame, index=index, total=total, path=path, fps=self.clock.fps(index))

    def warning(self, message: str, frame: int | None = None) -> None:
        self._emit("warning", message=message, **({} if frame is None else {"frame": frame}))

    def done(self, written: int, output: str) -> None:
        self._emit("done", written=written, output=output, seconds=self.clock.seconds())

    def solved(self, index: int, total: int) -> None:
        self._emit("solve", index=index, total=total)

    def solve_step(self, phase: str, index: int, total: int) -> None:
        if phase != "write" or index == 0:
            self._emit("solve_step", phase=phase, index=index, total=total)

    def cancelled(self, written: int, message: str) -> None:
        self._emit("cancelled", written=written, message=message)

    def error(self, message: str) -> None:
        self._emit("error", message=message)


class RichProgress(EventSink):
    """A progress bar with frames/s and ETA on the terminal (stderr); warnings and the summary as lines."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.progress: Any = None
        self.task: Any = None
        self.clock = _Clock()

    def start(self, plate: str, output: str, first: int, last: int, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.clock = _Clock()
        self.console.print(f"[bold]{plate}[/] -> {output} ({total} frames, {first}-{last})")
        self.progress = Progress(
            TextColumn("frame {task.fields[frame]}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[fps]:.2f} fps"), TimeRemainingColumn(), console=self.console,
        )
        self.task = self.progress.add_task("render", total=total, frame=first, fps=0.0)
        self.progress.start()

    def frame(self, frame: int, index: int, total: int, path: str) -> None:
        self.progress.update(self.task, completed=index, frame=frame, fps=self.clock.fps(index))

    def warning(self, message: str, frame: int | None = None) -> None:
        self.console.print(f"[yellow]warning[/]: {message}")

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def done(self, written: int, output: str) -> None:
        self._stop()
        self.console.print(f"[green]done[/]: {written} frames written to {output} in {self.clock.seconds():.1f} s")

    def cancelled(self, written: int, message: str) -> None:
        self._stop()
        self.console.print(f"[yellow]cancelled[/]: {message}")

    def error(self, message: str) -> None:
        self._stop()


class QuietEvents(EventSink):
    """Prints nothing (the CLI still reports errors)."""
