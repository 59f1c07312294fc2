"""Streaming inference: the temporal state, frame sizing and the snapshot format."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import FlashDepthError, PlateError
from . import cuda_calls
from .config import OFFICIAL_MAX_SIDE, FlashDepthConfig
from .temporal import TemporalModule, TemporalState

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


MAX_ASPECT = 100
"""Longest frame shape the model takes (long side : short side). A thinner strip, scaled up to the model's
smallest side, would be a model input over 7000 pixels long for every 70 high (and the official sizing divides by
zero from ``max_side`` : 1)."""


def inference_size(height: int, width: int, max_side: int | None = OFFICIAL_MAX_SIDE, min_side: int = 70,
                   multiple: int = 14) -> tuple[int, int]:
    """The model resolution for a frame, as the official inference chooses it.

    The long side is capped at ``max_side`` (aspect kept, sizes truncated), then each side is rounded up to a
    multiple of 14. Frames whose short side is below ``min_side`` are scaled up first (the temporal module's
    pooling grid needs it). An empty frame, one thinner than :data:`MAX_ASPECT` or one the cap would make less than
    a pixel thin is a :class:`~flashdepth_vfx.errors.PlateError` (without the plate's name: callers add it).
    """
    if height < 1 or width < 1:
        raise PlateError(f"a {width}x{height} frame has no pixels; check its data window")
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT:
        raise PlateError(f"a {width}x{height} frame ({ratio:.0f}:1) is too thin for the model (at most {MAX_ASPECT}:1); "
                         "crop it into parts or pad it to a less extreme shape")
    h, w = float(height), float(width)
    if max_side is not None and max(h, w) > max_side:
        scale = max_side / max(h, w)
        h, w = float(int(h * scale)), float(int(w * scale))
        if min(h, w) < 1:
            raise PlateError(f"--max-size {max_side} leaves a {width}x{height} frame less than a pixel thin; "
                             f"use --max-size {math.floor(ratio) + 1} or more")
    if min(h, w) < min_side:
        scale = min_side / min(h, w)
        h, w = h * scale, w * scale
    return multiple * math.ceil(round(h, 6) / multiple), multiple * math.ceil(round(w, 6) / multiple)


@dataclass
class StreamState:
    """A snapshot of a stream: the SSM state of every Mamba2 layer and how many frames produced it."""

    states: list[torch.Tensor]
    frames_seen: int
    meta: dict[str, str] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Write as safetensors (1 MiB for S and Full, 2 MiB for L)."""
        from safetensors.torch import save_file

        tensors = {f"state.{i}": s.detach().cpu().contiguous() for i, s in enumerate(self.states)}
        save_file(tensors, str(path), metadata={**self.meta, "frames_seen": str(self.frames_seen)})

    @classmethod
    def load(cls, path: str | Path) -> "StreamState":
        """Read a snapshot written by :meth:`save`."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            states = [f.get_tensor(f"state.{i}") for i in range(len(list(f.keys())))]
        frames_seen = int(meta.pop("frames_seen", "0"))
        return cls(states, frames_seen, meta)


class StreamNetwork(Protocol):
    """What a stream needs of its network. ``FlashDepth`` provides it and makes streams (``model.stream()``); this
    module does not import it, so the network's module sits above this one."""

    cfg: FlashDepthConfig
    mamba: TemporalModule

    @property
    def patch_size(self) -> int: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def __call__(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]: ...


class DepthStream:
    """Feeds frames through one FlashDepth network strictly in order, carrying the temporal state.

    ``step`` takes RGB in [0, 1] (display-referred sRGB) and does the ImageNet normalisation itself, in float32
    whatever the network's precision; the normalised frame is then cast to the network's dtype.
    """

    def __init__(self, model: StreamNetwork) -> None:
        self.model = model
        self._state: TemporalState | None = None
        self.frames_seen = 0
        param = next(model.parameters())
        self.dtype = param.dtype
        self._mean = torch.tensor(IMAGENET_MEAN, device=param.device, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=param.device, dtype=torch.float32).view(1, 3, 1, 1)

    @property
    def device(self) -> torch.device:
        """Where the network runs."""
        return self._mean.device

    def normalise(self, frame: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the network's input: ImageNet mean/std in float32, then the network's dtype."""
        return ((frame.to(self._mean) - self._mean) / self._std).to(self.dtype)

    def step(self, frame: torch.Tensor) -> torch.Tensor:
        """One frame (1, 3, H, W) or (3, H, W), sides multiples of 14 -> output (1, H, W) float32."""
        if frame.dim() == 3:
            frame = frame.unsqueeze(0)
        p = self.model.patch_size
        if frame.shape[-2] % p or frame.shape[-1] % p:
            raise ValueError(f"frame size {tuple(frame.shape[-2:])} is not a multiple of {p}; use step_any_size()")
        out = self._forward(frame)
        self.frames_seen += 1
        return out

    def _forward(self, frame: torch.Tensor) -> torch.Tensor:
        """The network on one checked frame, advancing the state; output float32 (a tensor the caller owns)."""
        out, self._state = self.model(self.normalise(frame), self._state)
        return out.float()

    def step_any_size(self, frame: torch.Tensor, max_side: int | None = None) -> torch.Tensor:
        """A frame of any size: resized (bicubic, float32) to the model resolution, output resized back (bilinear).

        ``max_side`` caps the model input's long side (default: the model's own cap, ``cfg.max_side``).
        """
        if frame.dim() == 3:
            frame = frame.unsqueeze(0)
        h, w = frame.shape[-2:]
        size = inference_size(h, w, max_side or self.model.cfg.max_side, self.model.cfg.min_side, self.model.patch_size)
        x = frame.to(self._mean)
        if size != (h, w):
            x = F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp_(0, 1)
        out = self.step(x)
        if size != (h, w):
            out = F.interpolate(out[:, None], size=(h, w), mode="bilinear", align_corners=False)[:, 0]
        return out

    def snapshot(self) -> StreamState:
        """A copy of the temporal state; restoring it continues exactly from here."""
        states = [] if self._state is None else [s.detach().clone() for s in self._state]
        return StreamState(states, self.frames_seen, {"model": self.model.cfg.name})

    def restore(self, snap: StreamState) -> None:
        """Continue from a snapshot (taken from a stream of the same model)."""
        self._check(snap)
        self._state = [s.to(self.device) for s in snap.states] or None
        self.frames_seen = snap.frames_seen

    def _check(self, snap: StreamState) -> None:
        expected = self.model.cfg.temporal.num_blocks
        if snap.states and len(snap.states) != expected:
            raise ValueError(f"snapshot holds {len(snap.states)} layer states, this model has {expected}")

    def state_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the temporal state's tensors (one per Mamba2 layer), as :meth:`snapshot` holds them."""
        return [tuple(block.mamba.state_shape(1)) for block in self.model.mamba.blocks[0]]

    def reset(self) -> None:
        """Start a new sequence (forget the temporal state)."""
        self._state = None
        self.frames_seen = 0


class GraphedDepthStream(DepthStream):
    """A :class:`DepthStream` replaying one CUDA graph per frame size: no Python or kernel-launch cost per frame.

    The network reads its frame from a static input buffer and its temporal state from static float32 state
    buffers, and writes the new state back into them in place; a reset zeroes them (a zero state is exactly
    the empty state of a fresh stream). On the first frame of each size the step is warmed up on a side stream
    (the state is put back afterwards) and captured; later frames of that size only copy in and replay.

    A render captures its frame size with :meth:`prepare` before its reader and writer threads start, then
    seals the stream (:meth:`seal`): a frame of another size runs eagerly through the same buffers (no capture while
    other threads use CUDA). Capturing goes through :mod:`.cuda_calls` (a fake there tests it on the CPU); with
    ``capture=False`` (the default off CUDA) the same buffer logic runs eagerly.
    """

    def __init__(self, model: StreamNetwork, *, capture: bool | None = None, warmup: int = 2) -> None:
        super().__init__(model)
        self._calls = cuda_calls.for_device(self.device)
        self.capture = self._calls is not None if capture is None else capture
        if self.capture and self._calls is None:
            raise ValueError(f"CUDA graphs need a CUDA device; the network is on {self.device}")
        self.warmup = warmup
        self.sealed = False
        self._buffers: list[torch.Tensor] = []  # one float32 SSM state per Mamba2 layer, updated in place
        self._has_state = False
        self._runners: dict[tuple[int, ...], _FrameRunner] = {}

    def prepare(self, shape: tuple[int, ...]) -> None:
        """Capture the graph of frames of ``shape`` (N, 3, H, W) now (raises :class:`CaptureError` when it fails)."""
        self._runner(tuple(shape))

    def seal(self) -> None:
        """From now on, frames of a size not prepared run eagerly (through the same buffers) instead of capturing."""
        self.sealed = True

    def graphed(self, shape: tuple[int, ...]) -> bool:
        """Whether frames of ``shape`` replay a captured graph."""
        runner = self._runners.get(tuple(shape))
        return runner is not None and runner.graph is not None

    def _runner(self, shape: tuple[int, ...]) -> "_FrameRunner":
        if not self._buffers or self._buffers[0].shape[0] != shape[0]:
            if self._has_state:
                raise ValueError(f"batch of {shape[0]} frames: this stream carries a state for {self._buffers[0].shape[0]}")
            self._buffers = [_static(s, self.device) for s in self.model.mamba.state_shapes(shape[0])]
            self._runners.clear()
        runner = self._runners.get(shape)
        if runner is None:
            runner = self._runners[shape] = _FrameRunner(self, shape, self.capture and not self.sealed)
        return runner

    def _forward(self, frame: torch.Tensor) -> torch.Tensor:
        runner = self._runner(tuple(frame.shape))
        runner.input.copy_(frame)
        out = runner.run()
        self._has_state = True
        return out.to(torch.float32, copy=True)  # the static output is overwritten by the next frame

    def _advance(self, frame: torch.Tensor) -> torch.Tensor:
        """The captured step: the network from the state buffers, the new state written back into them."""
        with torch.no_grad():
            out, new_state = self.model(self.normalise(frame), self._buffers)
            for buffer, state in zip(self._buffers, new_state):
                buffer.copy_(state)
        return out

    def snapshot(self) -> StreamState:
        states = [b.detach().clone() for b in self._buffers] if self._has_state else []
        return StreamState(states, self.frames_seen, {"model": self.model.cfg.name})

    def restore(self, snap: StreamState) -> None:
        self._check(snap)
        if not snap.states:
            self.reset()
        else:
            if not self._buffers or self._buffers[0].shape != snap.states[0].shape:
                self._buffers = [_static(s.shape, self.device) for s in snap.states]
                self._runners.clear()
            for buffer, state in zip(self._buffers, snap.states):
                buffer.copy_(state)
            self._has_state = True
        self.frames_seen = snap.frames_seen

    def reset(self) -> None:
        for buffer in self._buffers:
            buffer.zero_()
        self._has_state = False
        self.frames_seen = 0


def _static(shape: tuple[int, ...] | torch.Size, device: torch.device) -> torch.Tensor:
    """A zeroed float32 buffer, a normal tensor even under inference mode (it is updated in place in any mode)."""
    with torch.inference_mode(False):
        return torch.zeros(shape, device=device, dtype=torch.float32)


class CaptureError(FlashDepthError):
    """A CUDA graph could not be captured; ``summary`` says for which frame size and why."""

    def __init__(self, summary: str) -> None:
        super().__init__(f"{summary}; render with --no-cuda-graphs")
        self.summary = summary


class _FrameRunner:
    """The static input buffer of one frame shape and the step over it: a captured CUDA graph, or eager."""

    def __init__(self, stream: GraphedDepthStream, shape: tuple[int, ...], capture: bool) -> None:
        self.input = _static(shape, stream.device)
        self.graph: Any = None
        self._step = lambda: stream._advance(self.input)
        self.output: torch.Tensor | None = None
        if capture:
            self._capture(stream)

    def _capture(self, stream: GraphedDepthStream) -> None:
        device = stream.device
        saved = [b.clone() for b in stream._buffers]
        try:
            calls = stream._calls
            if calls is None:
                raise RuntimeError(f"no CUDA on {device}")
            side = calls.stream(device)
            side.wait_stream(calls.current_stream(device))
            with calls.use(side):  # warm-up: lazy initialisation and caches happen outside the capture
                for _ in range(stream.warmup):
                    self._step()
            calls.current_stream(device).wait_stream(side)
            self.graph, self.output = calls.capture(device, self._step)
        except Exception as exc:  # noqa: BLE001 - whatever stops the capture, the render gets one clear line
            self.graph = None
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise CaptureError(f"CUDA graph capture failed for {self.input.shape[-1]}x{self.input.shape[-2]} frames "
                               f"({reason})") from exc
        finally:
            for buffer, state in zip(stream._buffers, saved):  # the warm-up advanced the state: put it back
                buffer.copy_(state)

    def run(self) -> torch.Tensor:
        """One step over the current input buffer; the output tensor is reused by the next run."""
        if self.graph is None:
            return self._step()
        self.graph.replay()
        assert self.output is not None
        return self.output
