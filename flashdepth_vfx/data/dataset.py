"""A torch ``Dataset`` of procedural clips: item ``i`` is the scene drawn from seed ``base_seed + i``."""
from __future__ import annotations

from dataclasses import replace

import torch
from torch.utils.data import Dataset

from flashdepth_vfx.data.procedural import SceneConfig, render_sequence


class ProceduralVideoDataset(Dataset):
    """``length`` procedural clips rendered on demand (deterministic per index, so workers need no shared state).

    Items are dicts of float32 tensors: ``rgb`` (T, 3, H, W) display sRGB in [0, 1], ``depth`` (T, H, W) metres,
    ``intrinsics`` (3, 3) and ``poses`` (T, 4, 4) camera-to-world (OpenCV axes).
    """

    def __init__(self, length: int, config: SceneConfig | None = None, base_seed: int = 0) -> None:
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        self.length = length
        self.config = config or SceneConfig()
        self.base_seed = base_seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} clips")
        seq = render_sequence(replace(self.config, seed=self.base_seed + index % self.length))
        return {
            "rgb": torch.from_numpy(seq.rgb).permute(0, 3, 1, 2).contiguous(),
            "depth": torch.from_numpy(seq.depth),
            "intrinsics": torch.from_numpy(seq.intrinsics).float(),
            "poses": torch.from_numpy(seq.poses).float(),
        }
