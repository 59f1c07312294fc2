"""Training batches: random windows of procedural clips (random stride, crop, mirror, time reversal, colour)."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from ..data.dataset import ProceduralVideoDataset
from ..data.procedural import SceneConfig
from .config import DataConfig

DISPARITY_SCALE = 100.0
"""Training target: ``100 / depth_m``, the official recipe's scaled ground-truth disparity."""


@dataclass
class Batch:
    """``video`` (B, T, 3, H, W) display sRGB in [0, 1]; ``disparity`` (B, T, H, W) = 100 / depth, 0 where invalid."""

    video: torch.Tensor
    disparity: torch.Tensor

    def to(self, device: torch.device) -> "Batch":
        """The same batch on ``device``."""
        return Batch(self.video.to(device, non_blocking=True), self.disparity.to(device, non_blocking=True))


def depth_to_disparity(depth: torch.Tensor) -> torch.Tensor:
    """``100 / depth`` where depth is finite and > 0, else 0 (masked out of the loss)."""
    valid = torch.isfinite(depth) & (depth > 0)
    return torch.where(valid, DISPARITY_SCALE / torch.where(valid, depth, torch.ones_like(depth)), torch.zeros_like(depth))


class ClipSampler:
    """Draws training batches from ``config.scenes`` procedural scenes.

    Each scene is rendered on first use and kept compactly (8-bit colour, half-float depth). A batch is a pure
    function of the step number and ``seed``, so a resumed run sees exactly the batches it would have seen.
    """

    def __init__(self, config: DataConfig, seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        scene = SceneConfig(height=config.render_size[0], width=config.render_size[1], num_frames=config.clip_frames,
                            noise=config.noise, exposure_pops=config.exposure_pops)
        self._dataset = ProceduralVideoDataset(config.scenes, scene, base_seed=config.base_seed)
        self._clips: OrderedDict[int, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        clip_bytes = config.clip_frames * config.render_size[0] * config.render_size[1] * 5  # 3 x uint8 + float16
        self._capacity = max(1, config.cache_mb * 2**20 // clip_bytes)

    def clip(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Scene ``index``: colour (F, 3, H, W) uint8 and depth (F, H, W) float16, rendered on first use.

        At most ``cache_mb`` of clips stay in memory (least recently used ones go; rendering again is exact).
        """
        if index in self._clips:
            self._clips.move_to_end(index)
            return self._clips[index]
        item = self._dataset[index]
        rgb = (item["rgb"] * 255.0 + 0.5).clamp_(0, 255).to(torch.uint8)
        self._clips[index] = (rgb, item["depth"].to(torch.float16))
        if len(self._clips) > self._capacity:
            self._clips.popitem(last=False)
        return self._clips[index]

    def sample(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One window: video (T, 3, h, w) float32 in [0, 1] and disparity (T, h, w)."""
        c = self.config
        rgb, depth = self.clip(int(rng.integers(c.scenes)))
        stride = int(rng.integers(1, c.max_stride + 1))
        span = (c.frames - 1) * stride + 1
        start = int(rng.integers(0, c.clip_frames - span + 1))
        frames = torch.arange(start, start + span, stride)
        if c.reverse and rng.random() < 0.5:
            frames = frames.flip(0)
        (h, w), (H, W) = c.crop, c.render_size
        top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        video = rgb[frames, :, top:top + h, left:left + w].float() / 255.0
        disparity = depth_to_disparity(depth[frames, top:top + h, left:left + w].float())
        if c.flip and rng.random() < 0.5:
            video, disparity = video.flip(-1), disparity.flip(-1)
        if c.colour_jitter > 0:
            j = c.colour_jitter
            gain = torch.tensor(rng.uniform(1 - j, 1 + j, 3), dtype=torch.float32).view(1, 3, 1, 1)
            gamma = float(np.exp(rng.uniform(-j, j)))
            video = (video.clamp(min=0) ** gamma * gain).clamp_(0, 1)
        return video, disparity

    def batch(self, step: int, batch_size: int) -> Batch:
        """The batch of training step ``step`` (deterministic for a given seed)."""
        rng = np.random.default_rng([self.seed, step])
        samples = [self.sample(rng) for _ in range(batch_size)]
        return Batch(torch.stack([s[0] for s in samples]), torch.stack([s[1] for s in samples]))
