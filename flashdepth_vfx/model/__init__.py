"""FlashDepth in pure PyTorch: builders, checkpoints and the streaming session.

    from flashdepth_vfx.model import build_model, load_checkpoint
    model = build_model("flashdepth-s")
    with torch.inference_mode():
        stream = model.stream()
        for frame in frames:                # (1, 3, H, W) RGB in [0, 1], H and W multiples of 14
            disparity = stream.step(frame)  # (1, H, W)
"""
from __future__ import annotations

import torch

from .checkpoint import (
    KNOWN_CHECKPOINTS,
    convert_to_safetensors,
    detect_model,
    download_checkpoint,
    file_hash,
    load_checkpoint,
    read_state_dict,
)
from .config import FlashDepthConfig, get_config, list_models
from .flashdepth import FlashDepth
from .stream import DepthStream, GraphedDepthStream, StreamState, inference_size


def build_model(
    name: str = "flashdepth",
    *,
    teacher_resolution: int | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> FlashDepth:
    """A FlashDepth network with freshly initialised weights, in eval mode.

    ``name``: "flashdepth" (Full / hybrid), "flashdepth-s", "flashdepth-l" or "flashdepth-tiny".
    """
    overrides = {} if teacher_resolution is None else {"teacher_resolution": teacher_resolution}
    return FlashDepth(get_config(name, **overrides)).to(device=device, dtype=dtype).eval()


__all__ = [
    "KNOWN_CHECKPOINTS",
    "DepthStream",
    "FlashDepth",
    "FlashDepthConfig",
    "GraphedDepthStream",
    "StreamState",
    "build_model",
    "convert_to_safetensors",
    "detect_model",
    "download_checkpoint",
    "file_hash",
    "get_config",
    "inference_size",
    "list_models",
    "load_checkpoint",
    "read_state_dict",
]
