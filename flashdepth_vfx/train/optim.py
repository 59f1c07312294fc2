"""Which parameters train at which rate (the paper's per-module groups), the optimiser and the schedule."""
from __future__ import annotations

import math

import torch

from ..model import FlashDepth
from .config import LearningRates, TrainConfig

GROUP_MODULES = {"vit": "pretrained", "dpt": "depth_head", "temporal": "mamba", "fusion": "hybrid_fusion"}
"""Learning-rate group -> the FlashDepth sub-module it covers (official parameter names)."""


def parameter_groups(model: FlashDepth, lr: LearningRates) -> list[dict]:
    """AdamW groups for the parts with a learning rate > 0; every other parameter (and the teacher) is frozen.

    Sets ``requires_grad`` accordingly. Each group carries its ``name`` and peak rate ``base_lr``.
    """
    model.requires_grad_(False)
    groups = []
    for name, attribute in GROUP_MODULES.items():
        rate = getattr(lr, name)
        module = getattr(model, attribute, None)
        if rate <= 0 or module is None:
            continue
        module.requires_grad_(True)
        groups.append({"name": name, "params": list(module.parameters()), "lr": rate, "base_lr": rate})
    return groups


def build_optimizer(model: FlashDepth, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`, betas and weight decay from the config."""
    return torch.optim.AdamW(
        parameter_groups(model, config.lr), betas=config.betas, weight_decay=config.weight_decay
    )


def lr_factor(step: int, lr: LearningRates, total_steps: int) -> float:
    """Multiplier of the peak rates at optimiser step ``step`` (0-based): linear warm-up, then constant or cosine."""
    if step < lr.warmup_steps:
        return (step + 1) / lr.warmup_steps
    if lr.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - lr.warmup_steps) / max(1, total_steps - 1 - lr.warmup_steps))
    return lr.min_ratio + (1 - lr.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def set_learning_rates(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Scale every group's peak rate by ``factor``."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
