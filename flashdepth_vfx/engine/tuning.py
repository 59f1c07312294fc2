"""Process-wide CUDA settings turned on for a block (a render, a measurement), and put back after."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch

from .settings import ATTENTION_CHOICES

ATTENTION_BACKENDS = dict(zip(ATTENTION_CHOICES[1:], ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "MATH")))
"""torch's names (``SDPBackend``) of the ``--attention`` choices besides ``auto``."""


@contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """TF32 for float32 matmuls and convolutions on (or off) within the block, restored after (CUDA's flags)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@contextmanager
def render_tuning(device: torch.device, attention: str = "auto") -> Iterator[None]:
    """For a render on ``device``: cuDNN picks the fastest convolution algorithms for each input size once
    (``cudnn.benchmark``: a render's frames have one size), and ``attention`` pins the scaled-dot-product attention
    backend (the GPU check's attention sweep says which is fastest). Nothing changes off CUDA."""
    if device.type != "cuda":
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        with ExitStack() as stack:
            if attention != "auto":
                stack.enter_context(sdpa_kernel(getattr(SDPBackend, ATTENTION_BACKENDS[attention])))
            yield
    finally:
        torch.backends.cudnn.benchmark = previous
