"""Configurations of the FlashDepth variants, as small dataclasses, and the name registry."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

ModelName = Literal["flashdepth", "flashdepth-s", "flashdepth-l", "flashdepth-tiny", "flashdepth-tiny-hybrid"]


OFFICIAL_MAX_SIDE = 2044
"""The official inference caps the long side of its input here."""


@dataclass(frozen=True)
class ViTConfig:
    """A DINOv2 vision transformer (patch 14, learned 37x37 position grid, layer scale)."""

    embed_dim: int
    depth: int
    num_heads: int
    intermediate_layers: tuple[int, ...]
    mlp_ratio: float = 4.0
    patch_size: int = 14
    pos_grid: int = 37


@dataclass(frozen=True)
class DPTConfig:
    """A Depth Anything v2 DPT head."""

    features: int
    out_channels: tuple[int, int, int, int]
    head_features: int = 32


@dataclass(frozen=True)
class TemporalConfig:
    """The Mamba2 temporal module inserted into the DPT decoder."""

    dpt_layer: int  # 0: after refinenet4 (path_4) ... 3: after refinenet1 (path_1)
    num_blocks: int = 4
    expand: int = 2
    headdim: int = 64
    d_state: int = 256
    d_conv: int = 4
    downsample: float = 0.1


@dataclass(frozen=True)
class FusionConfig:
    """Cross-attention fusion of the ViT-L teacher's path_4 into the student's path_4."""

    num_blocks: int = 4
    num_heads: int = 2
    mlp_expand: int = 2
    context_dim: int = 256


@dataclass(frozen=True)
class FlashDepthConfig:
    """A complete FlashDepth network: encoder, DPT head, temporal module, optional hybrid teacher."""

    name: str
    vit: ViTConfig
    dpt: DPTConfig
    temporal: TemporalConfig
    teacher_vit: ViTConfig | None = None
    teacher_dpt: DPTConfig | None = None
    fusion: FusionConfig | None = None
    teacher_resolution: int = 490
    min_side: int = field(default=70)  # the temporal pooling grid needs >= 1 cell a side
    max_side: int = OFFICIAL_MAX_SIDE  # default cap on the input's long side (a small model: its training size)

    @property
    def hybrid(self) -> bool:
        """True for the student + teacher configuration."""
        return self.teacher_vit is not None


VIT_S = ViTConfig(embed_dim=384, depth=12, num_heads=6, intermediate_layers=(2, 5, 8, 11))
VIT_L = ViTConfig(embed_dim=1024, depth=24, num_heads=16, intermediate_layers=(4, 11, 17, 23))
DPT_S = DPTConfig(features=64, out_channels=(48, 96, 192, 384))
DPT_L = DPTConfig(features=256, out_channels=(256, 512, 1024, 1024))
TEMPORAL_S = TemporalConfig(dpt_layer=1, expand=4, headdim=32)
TEMPORAL_L = TemporalConfig(dpt_layer=3, expand=2, headdim=64)
VIT_TINY = ViTConfig(embed_dim=96, depth=4, num_heads=3, intermediate_layers=(0, 1, 2, 3))
DPT_TINY = DPTConfig(features=32, out_channels=(24, 48, 96, 96), head_features=16)
# After refinenet1 (as in L): at 126x224 it scans a 7x12 token grid, about what S scans at 518x924 (7x13);
# after refinenet3 (as in S) it would see 1x3 tokens.
TEMPORAL_TINY = TemporalConfig(dpt_layer=3, num_blocks=2, expand=2, headdim=16, d_state=32)

_REGISTRY: dict[str, FlashDepthConfig] = {
    "flashdepth-s": FlashDepthConfig("flashdepth-s", VIT_S, DPT_S, TEMPORAL_S),
    "flashdepth-l": FlashDepthConfig("flashdepth-l", VIT_L, DPT_L, TEMPORAL_L, min_side=14 * 3),
    "flashdepth": FlashDepthConfig(
        "flashdepth", VIT_S, DPT_S, TEMPORAL_S, teacher_vit=VIT_L, teacher_dpt=DPT_L, fusion=FusionConfig()
    ),
    # A small network of the same design, for tests, CPU training and the embedded default model.
    # Trained at 126x224 (the embedded model), it falls apart on much larger frames: cap its input there.
    "flashdepth-tiny": FlashDepthConfig("flashdepth-tiny", VIT_TINY, DPT_TINY, TEMPORAL_TINY, max_side=224),
    # The tiny network as student and as frozen low-resolution teacher: exercises stage-2 training on a CPU.
    "flashdepth-tiny-hybrid": FlashDepthConfig(
        "flashdepth-tiny-hybrid", VIT_TINY, DPT_TINY, TEMPORAL_TINY, teacher_vit=VIT_TINY, teacher_dpt=DPT_TINY,
        fusion=FusionConfig(num_blocks=2, context_dim=DPT_TINY.features), teacher_resolution=98,
    ),
}


def list_models() -> list[str]:
    """Names accepted by :func:`get_config` / ``build_model``."""
    return sorted(_REGISTRY)


def get_config(name: str, **overrides: object) -> FlashDepthConfig:
    """The configuration registered under ``name``, with top-level fields overridden."""
    try:
        cfg = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(list_models())}") from None
    return replace(cfg, **overrides) if overrides else cfg  # type: ignore[arg-type]
