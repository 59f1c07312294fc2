"""Training progress: a rich progress bar (step, loss, learning rate, speed, time left) on stderr."""
from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainProgress:
    """Context manager showing one bar for a run; ``quiet`` shows nothing."""

    def __init__(self, title: str, total: int, start: int, quiet: bool = False) -> None:
        self.console = Console(stderr=True, quiet=quiet)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("lr {task.fields[lr]}"),
            TextColumn("{task.fields[speed]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task(title, total=total, completed=start, loss="-", lr="-", speed="")

    def __enter__(self) -> "TrainProgress":
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def update(self, step: int, loss: float, lr: float, seconds_per_step: float) -> None:
        """Show the state after optimiser step ``step``."""
        self._progress.update(self._task, completed=step, loss=f"{loss:.3f}", lr=f"{lr:.2e}",
                              speed=f"{seconds_per_step:.2f} s/step")

    def note(self, message: str) -> None:
        """A line above the bar (checkpoints, skipped steps)."""
        self.console.print(message)
