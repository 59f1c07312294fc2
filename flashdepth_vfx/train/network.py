"""The network a run starts from: seeded initialisation, then the initial and teacher checkpoints of the config."""
from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from ..errors import CheckpointError
from ..model import FlashDepth, get_config, read_state_dict
from ..model.mamba2 import Mamba2
from .config import TrainConfig

ENCODER_DECODER = ("pretrained.", "depth_head.")
"""Key prefixes a checkpoint must cover to initialise a network (the temporal module may start fresh)."""
INITIAL_DISPARITY = 5.0
"""Output bias of a fresh network: a typical target (100 / 20 m), so the final ReLU starts open."""
MAMBA_DT_RANGE = (1e-3, 1e-1)


def reference_initialisation(model: FlashDepth, a_range: tuple[float, float]) -> None:
    """The initialisation each part is designed with, for the weights no checkpoint provides.

    The modules' defaults are placeholders for loaded weights. Here the encoder gets DINOv2's initialisation
    (truncated-normal linear layers and position embedding), every Mamba2 layer mamba-ssm's (step sizes
    log-uniform in [0.001, 0.1], decay rates uniform in ``a_range``: mamba-ssm's ``A_init_range``, given by
    ``TrainConfig.temporal_a_init``; the placeholder zeros forget within two tokens), and the last output
    convolution a positive bias (with PyTorch's default a random network often outputs 0 everywhere and the final
    ReLU passes no gradient).
    """
    vit = model.pretrained
    nn.init.trunc_normal_(vit.pos_embed, std=0.02)
    nn.init.normal_(vit.cls_token, std=1e-6)
    for module in vit.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
    for module in model.mamba.modules():
        if isinstance(module, Mamba2):
            low, high = (math.log(v) for v in MAMBA_DT_RANGE)
            dt = torch.exp(torch.rand(module.nheads) * (high - low) + low)
            with torch.no_grad():
                module.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus(dt_bias) == dt
                module.A_log.copy_(torch.log(torch.empty(module.nheads).uniform_(*a_range)))
                module.D.fill_(1.0)
    last = model.depth_head.scratch.output_conv2[2]
    assert isinstance(last, nn.Conv2d) and last.bias is not None
    nn.init.constant_(last.bias, INITIAL_DISPARITY)


def load_matching(module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str,
                  required: tuple[str, ...] = ENCODER_DECODER) -> None:
    """Copy the tensors of ``state`` whose names and shapes ``module`` has.

    Every parameter of ``module`` under a ``required`` prefix must be covered, else :class:`CheckpointError`.
    """
    own = module.state_dict()
    matching = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    missing = [k for k in own if k.startswith(required) and k not in matching]
    if missing:
        raise CheckpointError(
            f"{source}: does not fit {type(module).__name__} ({len(missing)} encoder/decoder weights missing or "
            f"wrongly shaped, e.g. {missing[0]}); pass a checkpoint of the matching model"
        )
    module.load_state_dict(matching, strict=False)


def build_training_model(config: TrainConfig) -> FlashDepth:
    """The network of ``config`` with its seeded initial weights, in train mode on the CPU.

    Every part starts from :func:`reference_initialisation`; ``init_checkpoint`` then overwrites whatever it covers
    (a stage-1 model, or Depth Anything v2's encoder and decoder, leaving a fresh temporal module); for stage 2,
    ``teacher_checkpoint`` (a trained single-network model) becomes the frozen teacher.
    """
    torch.manual_seed(config.seed)
    model = FlashDepth(get_config(config.model)).train()
    reference_initialisation(model, config.temporal_a_init)
    initial = read_state_dict(config.init_checkpoint) if config.init_checkpoint else {}
    if initial:
        load_matching(model, initial, str(config.init_checkpoint))
    if model.cfg.hybrid:
        if config.teacher_checkpoint:
            teacher = read_state_dict(config.teacher_checkpoint)
            load_matching(model.teacher_model, {k: v for k, v in teacher.items() if k.startswith(ENCODER_DECODER)},
                          config.teacher_checkpoint)
        elif not any(k.startswith("teacher_model.") for k in initial):
            raise CheckpointError(
                f"{config.model}: stage 2 needs a trained teacher; set teacher_checkpoint to a trained "
                "single-network model (or init_checkpoint to a hybrid checkpoint)"
            )
        model.teacher_model.eval()
    return model
