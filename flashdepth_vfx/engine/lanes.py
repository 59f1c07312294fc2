"""The render's CUDA streams: the model's, one for uploads and colour, one for copies back.

The reader uploads a frame and converts its colour on the upload stream and hands it to the model's stream by an
event (the model's stream waits for it on the device; no thread waits on the host). Each frame's depth is copied
back on the copy stream after an event of the model's stream, into pinned memory, while the next frame runs; the
writer's wait for it sleeps (blocking events). Off CUDA there are no streams: every call here is a no-op.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..model import cuda_calls


class Lanes:
    """Streams, events and staging buffers of one render on ``device``; made in the thread that runs the model."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.calls = cuda_calls.for_device(device)
        self.model: Any = None
        self.upload: Any = None
        self.copy: Any = None
        if self.calls is not None:
            self.model = self.calls.current_stream(device)
            self.upload = self.calls.stream(device)
            self.copy = self.calls.stream(device)
        self._staging: list[torch.Tensor | None] = [None, None]  # pinned, used in turn
        self._staged: list[Any] = [None, None]  # the event after each staging buffer's last copy
        self._next = 0

    @contextmanager
    def uploading(self) -> Iterator[None]:
        """Issue the block's work (upload, colour, resize of one frame) to the upload stream."""
        if self.calls is None:
            yield
            return
        with self.calls.use(self.upload):
            yield

    def to_device(self, array: np.ndarray) -> torch.Tensor:
        """``array`` on the device. On CUDA (inside :meth:`uploading`): staged through the pinned buffer not used by
        the previous frame, after that buffer's previous copy has left it, and copied without waiting."""
        host = torch.from_numpy(array)
        if self.calls is None:
            return host.to(self.device)
        slot, self._next = self._next, 1 - self._next
        buffer = self._staging[slot]
        if buffer is None or buffer.shape != host.shape or buffer.dtype != host.dtype:
            buffer = self._staging[slot] = self.calls.pinned(host.shape, host.dtype)
        elif self._staged[slot] is not None:
            self._staged[slot].synchronize()  # the copy of two frames ago has left this buffer (a sleeping wait)
        buffer.copy_(host)
        on_device = self.calls.to_device(buffer, self.device)
        staged = self.calls.event()
        staged.record(self.upload)
        self._staged[slot] = staged
        return on_device

    def hand_to_model(self, frame: torch.Tensor) -> Any:
        """A frame made on the upload stream, for the model's stream: the event it waits for (None off CUDA)."""
        if self.calls is None:
            return None
        self.calls.hand_over(frame, self.model)
        ready = self.calls.event()
        ready.record(self.upload)
        return ready

    def wait_for(self, ready: Any) -> None:
        """The model's stream waits (on the device) for a frame handed over by :meth:`hand_to_model`."""
        if ready is not None:
            self.model.wait_event(ready)

    def copy_back(self, tensors: list[torch.Tensor]) -> tuple[list[torch.Tensor], Any]:
        """Pinned host copies of ``tensors`` (computed on the model's stream), made on the copy stream once the
        model's stream has computed them, and the event after the copies (None off CUDA: the tensors as they are)."""
        if self.calls is None:
            return tensors, None
        computed = self.calls.event()
        computed.record(self.model)
        with self.calls.use(self.copy):
            self.copy.wait_event(computed)
            hosts = []
            for tensor in tensors:
                host = self.calls.pinned(tensor.shape, tensor.dtype)
                host.copy_(tensor, non_blocking=True)
                self.calls.hand_over(tensor, self.copy)
                hosts.append(host)
            copied = self.calls.event()
            copied.record(self.copy)
        return hosts, copied
