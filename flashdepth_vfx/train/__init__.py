"""Two-stage FlashDepth training on procedural video (the paper's recipe, resumable).

    from flashdepth_vfx.train import load_train_config, train
    final = train(load_train_config("tiny"), Path("runs/tiny"))      # -> runs/tiny/iter_1500.pth

Stage 1 trains a single-network model (temporal module, optionally the rest at lower rates); stage 2 trains a
hybrid model's fusion and student with the teacher frozen. Importing this package imports torch.
"""
from .config import PRESETS, DataConfig, LearningRates, LossWeights, TrainConfig, TrainConfigError, load_train_config
from .loop import sequence_loss, train

__all__ = [
    "PRESETS",
    "DataConfig",
    "LearningRates",
    "LossWeights",
    "TrainConfig",
    "TrainConfigError",
    "load_train_config",
    "sequence_loss",
    "train",
]
