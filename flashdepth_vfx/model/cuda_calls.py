"""The CUDA calls of the streaming path, in one place: graph capture, side streams, events and pinned memory.

The render's model loop, its reader (uploads, colour) and its writers (copies back) reach CUDA only through a
:class:`CudaCalls`, found by :func:`for_device`. Tests replace ``for_device`` with a fake that runs on the CPU and
checks the discipline: which thread calls what, in which order, and that nothing else touches CUDA while a graph
is being captured (tests/fakes/cuda.py).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch


class CudaCalls:
    """``torch.cuda`` as the streaming path uses it."""

    def stream(self, device: torch.device) -> Any:
        """A new stream on ``device`` (uploads and colour run on one, the graph warm-up on another)."""
        return torch.cuda.Stream(device)

    def current_stream(self, device: torch.device) -> Any:
        """The stream the calling thread issues work to."""
        return torch.cuda.current_stream(device)

    @contextmanager
    def use(self, stream: Any) -> Iterator[None]:
        """Issue the block's work to ``stream``."""
        with torch.cuda.stream(stream):
            yield

    def event(self) -> Any:
        """An event whose ``synchronize()`` sleeps until it has passed (``blocking``), instead of spinning a core."""
        return torch.cuda.Event(blocking=True)

    def pinned(self, shape: tuple[int, ...] | torch.Size, dtype: torch.dtype) -> torch.Tensor:
        """Page-locked host memory (asynchronous copies to and from the device need it)."""
        return torch.empty(shape, dtype=dtype, pin_memory=True)

    def to_device(self, host: torch.Tensor, device: torch.device) -> torch.Tensor:
        """An asynchronous copy of pinned ``host`` memory to ``device`` on the current stream."""
        return host.to(device, non_blocking=True)

    def hand_over(self, tensor: torch.Tensor, stream: Any) -> None:
        """``tensor``, made on one stream, is used on ``stream``: its memory is not reused before that use is done."""
        tensor.record_stream(stream)

    def capture(self, device: torch.device, step: Callable[[], torch.Tensor]) -> tuple[Any, torch.Tensor]:
        """Capture ``step`` into a CUDA graph: (graph, its output tensor, rewritten by every ``graph.replay()``).

        Thread-local capture mode: CUDA calls of other threads (the render's reader and writers) are not
        prohibited by this capture; the render still captures before it starts them.
        """
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            output = step()
        return graph, output


def for_device(device: torch.device) -> CudaCalls | None:
    """The CUDA calls for ``device``, or None off CUDA (plain synchronous tensors there)."""
    return CudaCalls() if device.type == "cuda" else None
