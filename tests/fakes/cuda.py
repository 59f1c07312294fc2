"""A fake of :class:`flashdepth_vfx.model.cuda_calls.CudaCalls` that runs on the CPU and checks the discipline.

It behaves as CUDA documents where it matters here: work is issued to the calling thread's current stream
(``use`` sets it per thread), an event records a point on a stream and ``synchronize`` waits for it on the host,
``stream.wait_event`` makes a stream wait on the device, and a graph capture (``capture_error_mode="thread_local"``
or global) makes the *capturing* thread's unsafe calls fail - and here, stricter, any call of another thread
during the capture fails too ("operation not permitted when stream is capturing"), as the global mode does.
Every call is logged as (thread name, operation, names...) so tests can check the order.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


class FakeStream:
    def __init__(self, fake: "FakeCuda", name: str) -> None:
        self.fake, self.name = fake, name

    def wait_stream(self, other: "FakeStream") -> None:
        self.fake.log_call("wait_stream", self.name, other.name)

    def wait_event(self, event: "FakeEvent") -> None:
        if event.stream is None:
            raise AssertionError(f"{self.name} waits for {event.name}, which was never recorded")
        self.fake.log_call("wait_event", self.name, event.name)

    def __repr__(self) -> str:
        return f"<stream {self.name}>"


class FakeEvent:
    def __init__(self, fake: "FakeCuda", name: str) -> None:
        self.fake, self.name = fake, name
        self.stream: str | None = None

    def record(self, stream: FakeStream | None = None) -> None:
        self.stream = (stream or self.fake.current_stream(torch.device("cpu"))).name
        self.fake.log_call("record", self.name, self.stream)

    def synchronize(self) -> None:
        if self.stream is None:
            raise AssertionError(f"synchronize on {self.name}, which was never recorded")
        self.fake.log_call("synchronize", self.name, self.stream)


class FakeGraph:
    def __init__(self, fake: "FakeCuda", step: Callable[[], torch.Tensor], output: torch.Tensor) -> None:
        self.fake, self.step, self.output = fake, step, output

    def replay(self) -> None:
        self.fake.log_call("replay", self.fake.current_stream(torch.device("cpu")).name)
        self.output.copy_(self.step())


class FakeCuda:
    """CudaCalls on the CPU, logging every call and failing foreign calls during a capture."""

    def __init__(self, capture_seconds: float = 0.2, fail_capture: bool = False) -> None:
        self.log: list[tuple[str, ...]] = []
        self.violations: list[str] = []
        self.capture_seconds = capture_seconds  # a capture this long gives other threads time to call in
        self.fail_capture = fail_capture
        self.default = FakeStream(self, "model")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._names = itertools.count()
        self._capturing: threading.Thread | None = None

    # ------------------------------------------------------------------ bookkeeping
    def log_call(self, op: str, *names: str) -> None:
        thread = threading.current_thread()
        with self._lock:
            if self._capturing is not None and thread is not self._capturing:
                self.violations.append(f"{thread.name}: {op} during a capture")
                raise RuntimeError("operation not permitted when stream is capturing")
            self.log.append((thread.name, op, *names))

    def calls(self, op: str) -> list[tuple[str, ...]]:
        return [entry for entry in self.log if entry[1] == op]

    def _name(self, kind: str) -> str:
        return f"{kind}{next(self._names)}"

    # ------------------------------------------------------------------ CudaCalls
    def stream(self, device: torch.device) -> FakeStream:
        stream = FakeStream(self, self._name("stream"))
        self.log_call("stream", stream.name)
        return stream

    def current_stream(self, device: torch.device) -> FakeStream:
        return getattr(self._local, "stream", None) or self.default

    @contextmanager
    def use(self, stream: FakeStream) -> Iterator[None]:
        previous = getattr(self._local, "stream", None)
        self._local.stream = stream
        try:
            yield
        finally:
            self._local.stream = previous

    def event(self) -> FakeEvent:
        event = FakeEvent(self, self._name("event"))
        self.log_call("event", event.name)
        return event

    def pinned(self, shape: tuple[int, ...] | torch.Size, dtype: torch.dtype) -> torch.Tensor:
        self.log_call("pinned", "x".join(map(str, shape)))
        return torch.empty(shape, dtype=dtype)

    def to_device(self, host: torch.Tensor, device: torch.device) -> torch.Tensor:
        self.log_call("to_device", self.current_stream(device).name)
        return host.clone()

    def hand_over(self, tensor: torch.Tensor, stream: FakeStream) -> None:
        self.log_call("hand_over", stream.name)

    def capture(self, device: torch.device, step: Callable[[], torch.Tensor]) -> tuple[FakeGraph, torch.Tensor]:
        self.log_call("capture", self.current_stream(device).name)
        if self.fail_capture:
            raise RuntimeError("CUDA error: operation failed due to a previous error during capture")
        with self._lock:
            self._capturing = threading.current_thread()
        try:
            time.sleep(self.capture_seconds)
            output = step()
            time.sleep(self.capture_seconds)
        finally:
            with self._lock:
                self._capturing = None
        return FakeGraph(self, step, output), output
