"""Ordered worker pools for the render's decode and encode stages.

OpenImageIO (EXR decode and encode) and OpenColorIO (``applyRGB``) release the GIL for the whole call
(measured: a pure-Python thread keeps running, its longest pause 3-21 ms, while another thread spends 60-210 ms
in ``read_image``, ``write_image`` or ``applyRGB``), so plain threads run them in parallel: no processes, no
pickling of 2K frames.
"""
from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Any, Generic, TypeVar, cast

In = TypeVar("In")
Out = TypeVar("Out")
_END = object()  # the input is exhausted
_EMPTY = object()  # nothing to take right now


def default_io_workers(cores: int | None = None, feeding_device: bool = False) -> int:
    """Workers per I/O stage: one per core the process may use, at least 2 (decode and encode then overlap).

    ``feeding_device``: the model runs on a GPU, fed by one thread that must not wait for a core: the decode and
    encode stages share the other cores, (cores - 1) // 2 each (at least 2)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, (cores - 1) // 2 if feeding_device else cores)


class _DaemonWorkers:
    """The pool's threads: daemon threads, so a call stuck for good (a plate on a dead network mount) never keeps
    the process from exiting after the render has given up on it (``ThreadPoolExecutor`` joins its threads at exit)."""

    def __init__(self, workers: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[Any], Any], Any] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[In], Out], item: In) -> Future[Out]:
        future: Future[Out] = Future()
        self._jobs.put((future, fn, item))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, item = job
            if not future.set_running_or_notify_cancel():
                continue  # cancelled before it started
            try:
                future.set_result(fn(item))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer in input order
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Let the running calls finish, then end the threads."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


class OrderedPool(Generic[In, Out]):
    """``fn`` over a stream of items on ``workers`` threads; results come back in input order.

    At most ``workers + ahead`` items are taken from the input and not yet handed back, so memory stays flat
    however fast the input is. :meth:`map` is a generator: when the consumer stops (returns, raises, or closes
    it), items not yet started are dropped and the ones already running are waited for, so nothing runs on after
    it (a write in flight finishes; a write never started never starts). The first failure, in input order, is
    raised from :meth:`map` when its turn comes: earlier items are all handed back first.
    """

    def __init__(self, fn: Callable[[In], Out], workers: int, ahead: int = 1, name: str = "flashdepth-io") -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.fn = fn
        self.workers = workers
        self.limit = workers + max(ahead, 0)
        self.name = name

    def map(self, items: Iterable[In], stopping: Callable[[], bool] = lambda: False) -> Iterator[tuple[In, Out]]:
        """Yield ``(item, fn(item))`` in the order of ``items``; stop taking new items once ``stopping()``."""
        source = iter(items)

        def take() -> object:
            return next(source, _END)

        return self._run(take, stopping)

    def map_queue(self, inbox: queue.Queue[In | None], stopping: Callable[[], bool] = lambda: False,
                  poll: float = 0.05) -> Iterator[tuple[In, Out]]:
        """As :meth:`map` over the items put in ``inbox`` until a ``None``; results already finished are handed back
        while the queue is empty, so a stalled producer never holds back work that is done (written frames are
        reported as they land)."""

        def take() -> object:
            try:
                item = inbox.get(timeout=poll)
            except queue.Empty:
                return _EMPTY
            return _END if item is None else item

        return self._run(take, stopping)

    def _run(self, take: Callable[[], object], stopping: Callable[[], bool]) -> Iterator[tuple[In, Out]]:
        pending: deque[tuple[In, Future[Out]]] = deque()
        executor = _DaemonWorkers(self.workers, self.name)
        exhausted = False
        try:
            while True:
                while pending and pending[0][1].done():  # hand back finished work before taking more
                    item, future = pending.popleft()
                    yield item, future.result()
                if not exhausted and len(pending) < self.limit and not stopping():
                    taken = take()
                    if taken is _END:
                        exhausted = True
                    elif taken is not _EMPTY:
                        pending.append((cast(In, taken), executor.submit(self.fn, cast(In, taken))))
                    continue
                if not pending:
                    return
                item, future = pending.popleft()
                yield item, future.result()
        finally:
            for _, future in pending:
                future.cancel()
            executor.shutdown()
