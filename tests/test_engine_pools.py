"""The ordered worker pool of the decode and encode stages (order, bounded look-ahead, cancellation, one failure),
and the decode stage's bicubic tap set."""
from __future__ import annotations

import random
import threading
import time

import pytest

from flashdepth_vfx.engine.pools import OrderedPool, default_io_workers


def _jittered(x: int) -> int:
    time.sleep(random.Random(x).uniform(0.0, 0.01))  # later items often finish first
    return x * x


def test_results_come_back_in_input_order() -> None:
    pool = OrderedPool(_jittered, workers=4, ahead=2)
    got = list(pool.map(range(40)))
    assert got == [(x, x * x) for x in range(40)]


def test_at_most_workers_plus_ahead_items_are_in_flight() -> None:
    taken: list[int] = []
    lock = threading.Lock()
    peak = [0]

    def source():
        for x in range(30):
            taken.append(x)
            yield x

    def work(x: int) -> int:
        time.sleep(0.002)
        return x

    pool = OrderedPool(work, workers=3, ahead=2)
    for item, _ in pool.map(source()):
        with lock:
            peak[0] = max(peak[0], len(taken) - item)  # taken but not yet handed back, this one included
    assert peak[0] == 5


def test_stopping_takes_no_new_items_and_finishes_those_running() -> None:
    started: list[int] = []
    finished: list[int] = []
    stop = threading.Event()

    def work(x: int) -> int:
        started.append(x)
        time.sleep(0.01)
        finished.append(x)
        return x

    pool = OrderedPool(work, workers=2, ahead=1)
    got = []
    for item, _ in pool.map(range(100), stopping=stop.is_set):
        got.append(item)
        if item == 4:
            stop.set()
    assert 5 <= len(got) <= 8 and got == list(range(len(got)))  # at most the 3 already taken come after the stop
    assert sorted(finished) == sorted(started)  # nothing left running after map returned
    assert len(started) < 10


def test_closing_the_consumer_waits_for_running_work_and_never_starts_the_rest() -> None:
    started: list[int] = []
    finished: list[int] = []

    def work(x: int) -> int:
        started.append(x)
        time.sleep(0.02)
        finished.append(x)
        return x

    pool = OrderedPool(work, workers=2, ahead=2)
    results = pool.map(range(100))
    assert next(results) == (0, 0)
    results.close()  # the consumer gives up (cancel): running items finish, queued ones never start
    assert sorted(finished) == sorted(started)
    time.sleep(0.05)
    assert len(started) <= 4 and sorted(finished) == sorted(started)


def test_a_failing_item_is_raised_in_order_after_the_items_before_it() -> None:
    def work(x: int) -> int:
        if x == 5:
            raise ValueError("frame 5 is damaged")
        time.sleep(0.005)
        return x

    taken: list[int] = []

    def source():
        for x in range(1000):
            taken.append(x)
            yield x

    pool = OrderedPool(work, workers=3, ahead=1)
    got = []
    with pytest.raises(ValueError, match="frame 5 is damaged"):
        for item, _ in pool.map(source()):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]
    assert len(taken) <= 5 + 4  # the failure stops the stream: at most workers + ahead items past it were taken


def test_default_workers() -> None:
    assert default_io_workers(1) == 2
    assert default_io_workers(16) == 16
    assert default_io_workers() >= 2
    with pytest.raises(ValueError):
        OrderedPool(abs, workers=0)


@pytest.mark.parametrize(("n_in", "n_out"), [(1152, 126), (2048, 224), (1080, 518), (100, 99), (84, 126), (7, 3)])
def test_bicubic_taps_are_exactly_the_pixels_the_resize_reads(n_in, n_out) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from flashdepth_vfx.engine.decode import bicubic_taps

    probe = torch.eye(n_in).reshape(n_in, 1, n_in, 1)  # one one-hot column per input row
    read = F.interpolate(probe, size=(n_out, 1), mode="bicubic", align_corners=False).abs().sum(dim=(1, 2, 3)) > 0
    np.testing.assert_array_equal(bicubic_taps(n_in, n_out), np.flatnonzero(read.numpy()))
