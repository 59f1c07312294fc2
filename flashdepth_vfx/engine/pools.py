"""Ordered worker pools for the render's decode and encode stages.

OpenImageIO (EXR decode and encode) and OpenColorIO (``applyRGB``) release the GIL for the whole call
(measured: a pure-Python thread keeps running, its longest pause 3-21 ms, while another thread spends 60-210 ms
in ``read_image``, ``write_image`` or ``applyRGB``), so plain threads run them in parallel: no processes, no
pickling of 2K frames.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


def default_io_workers(cores: int | None = None) -> int:
    """Workers per I/O stage: one per core the process may use, at least 2 (decode and encode then overlap)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, cores)


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
        pending: deque[tuple[In, Future[Out]]] = deque()
        executor = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < self.limit and not stopping() \
                        and not (pending and pending[0][1].done()):  # hand back a finished head before blocking on input
                    try:
                        item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append((item, executor.submit(self.fn, item)))
                if not pending:
                    return
                item, future = pending.popleft()
                yield item, future.result()
        finally:
            for _, future in pending:
                future.cancel()
            executor.shutdown(wait=True)
