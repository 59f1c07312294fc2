"""The network a run starts from: seeded initialisation, then the initial and teacher checkpoints of the config."""
from __future__ import annotations

from collections.abc import Mapping
import torch

from ..errors import CheckpointError
from ..model import FlashDepth, get_config, read_state_dict
from .config import TrainConfig

ENCODER_DECODER = ("pretrained.", "depth_head.")
"""Key prefixes a checkpoint must cover to initialise a network (the temporal module may start fresh)."""


def load_matching(module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str,
                  required: tuple[str, ...] = ENCODER_DECODER) -> int:
    """Copy the tensors of ``state`` whose names and shapes ``module`` has; returns how many were copied.

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
    return len(matching)


def build_training_model(config: TrainConfig) -> FlashDepth:
    """The network of ``config`` with its seeded initial weights, in train mode on the CPU.

    ``init_checkpoint`` fills whatever it covers (a stage-1 model, or Depth Anything v2's encoder and decoder);
    for stage 2, ``teacher_checkpoint`` (a trained single-network model) becomes the frozen teacher.
    """
    torch.manual_seed(config.seed)
    model = FlashDepth(get_config(config.model)).train()
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
