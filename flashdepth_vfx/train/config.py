"""Training run configuration: dataclasses, named presets, JSON files (one is written into every run folder)."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, astuple, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

from ..errors import FlashDepthError
from ..model.config import get_config, list_models
from ..plates.output_guard import KIND_KEY

CONFIG_FILE = "config.json"
"""Name of the configuration written into (and read back from) a run folder."""


class TrainConfigError(FlashDepthError):
    """A training configuration (file, preset or value) cannot be used."""


@dataclass(frozen=True)
class LearningRates:
    """Peak learning rate per part of the network; 0 freezes that part. The hybrid teacher is always frozen."""

    vit: float = 5e-6        # the DINOv2 encoder ("pretrained")
    dpt: float = 5e-5        # the DPT decoder ("depth_head")
    temporal: float = 1e-4   # the Mamba2 temporal module ("mamba")
    fusion: float = 0.0      # the hybrid cross-attention fusion ("hybrid_fusion"), stage 2 only
    warmup_steps: int = 1000
    schedule: str = "constant"  # after warm-up: "constant", or "cosine" decay to min_ratio * peak at the last step
    min_ratio: float = 0.05


@dataclass(frozen=True)
class LossWeights:
    """Weight of each term of the training loss (see :mod:`flashdepth_vfx.train.losses`); the loss is their sum.

    The published recipe is L1 alone; the temporal-gradient term rewards a model for using its temporal state to
    keep still what does not move.
    """

    l1: float = 1.0
    temporal_gradient: float = 0.0


@dataclass(frozen=True)
class DataConfig:
    """Procedural training clips: which scenes, how they are rendered and how windows are sampled from them.

    Scene ``i`` is rendered from seed ``base_seed + i`` at ``render_size`` with ``clip_frames`` frames; every
    sample takes ``frames`` frames at a random stride in ``1..max_stride`` and a random ``crop`` (sides multiples
    of 14), optionally mirrored, reversed in time and colour-jittered.
    """

    scenes: int = 256
    base_seed: int = 0
    render_size: tuple[int, int] = (140, 252)
    crop: tuple[int, int] = (126, 224)
    clip_frames: int = 12
    frames: int = 5
    max_stride: int = 2
    flip: bool = True
    reverse: bool = True
    colour_jitter: float = 0.15
    noise: float = 0.01
    exposure_pops: float = 0.0  # chance a frame is over-exposed for one frame (see SceneConfig)
    cache_mb: int = 2048  # rendered clips kept in memory (8-bit colour + half-float depth)


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Stage 1 trains a single-network model; stage 2 a hybrid one (teacher frozen)."""

    model: str = "flashdepth-s"
    stage: int = 1
    steps: int = 60000
    batch_size: int = 4
    seed: int = 0
    lr: LearningRates = field(default_factory=LearningRates)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    # Decay rates A of a freshly initialised temporal module (mamba-ssm's A_init_range). Over one frame a head keeps
    # exp(-tokens * dt * A) of its state: small rates give a memory that spans frames from the first step.
    temporal_a_init: tuple[float, float] = (1.0, 16.0)
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0           # max global gradient norm; 0 disables clipping
    device: str = "auto"             # "auto" (CUDA if present, else CPU), "cpu" or "cuda"
    precision: str = "auto"          # "auto" (bf16 autocast on CUDA, fp32 on CPU), "fp32" or "bf16" (CUDA only)
    threads: int | None = None       # CPU threads for torch; None keeps torch's default
    init_checkpoint: str | None = None     # weights to start from (a stage-1 model, or Depth Anything v2 for stage 1)
    teacher_checkpoint: str | None = None  # stage 2: the trained single-network model that becomes the frozen teacher
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    log_every: int = 10

    def validate(self) -> None:
        """Raise :class:`TrainConfigError` naming the first unusable value."""
        if self.model not in list_models():
            _fail(f"model {self.model!r} is unknown; choose one of {', '.join(list_models())}")
        hybrid = get_config(self.model).hybrid
        if self.stage not in (1, 2):
            _fail(f"stage must be 1 or 2, got {self.stage}")
        if self.stage == 1 and hybrid:
            _fail(f"stage 1 trains a single-network model; {self.model} is hybrid (use stage 2)")
        if self.stage == 2 and not hybrid:
            _fail(f"stage 2 trains a hybrid model; {self.model} is not one")
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                _fail(f"{name} must be at least 1, got {getattr(self, name)}")
        rates = {"vit": self.lr.vit, "dpt": self.lr.dpt, "temporal": self.lr.temporal, "fusion": self.lr.fusion}
        if any(v < 0 for v in rates.values()) or not any(v > 0 for v in rates.values()):
            _fail(f"learning rates must be >= 0 with at least one > 0, got {rates}")
        if self.lr.fusion > 0 and not hybrid:
            _fail(f"lr.fusion is set but {self.model} has no fusion module")
        weights = astuple(self.loss)
        if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
            _fail(f"loss weights must be >= 0 with at least one > 0, got {self.loss}")
        if self.lr.schedule not in ("constant", "cosine") or not 0 <= self.lr.min_ratio <= 1:
            _fail("lr.schedule must be 'constant' or 'cosine' and lr.min_ratio in [0, 1]")
        if not 0 < self.temporal_a_init[0] <= self.temporal_a_init[1]:
            _fail(f"temporal_a_init must be a range (low, high) with 0 < low <= high, got {list(self.temporal_a_init)}")
        if self.device not in ("auto", "cpu", "cuda") or self.precision not in ("auto", "fp32", "bf16"):
            _fail(f"device must be auto|cpu|cuda and precision auto|fp32|bf16, got {self.device}, {self.precision}")
        if self.threads is not None and self.threads < 1:
            _fail(f"threads must be at least 1, got {self.threads}")
        self._validate_data()

    def _validate_data(self) -> None:
        d = self.data
        patch = get_config(self.model).vit.patch_size
        if any(side % patch for side in d.crop):
            _fail(f"data.crop {list(d.crop)}: both sides must be multiples of {patch}")
        if d.crop[0] > d.render_size[0] or d.crop[1] > d.render_size[1]:
            _fail(f"data.crop {list(d.crop)} is larger than data.render_size {list(d.render_size)}")
        if min(d.crop) < get_config(self.model).min_side:
            _fail(f"data.crop {list(d.crop)}: the short side must be at least {get_config(self.model).min_side}")
        if d.scenes < 1 or d.frames < 1 or d.max_stride < 1 or d.cache_mb < 1:
            _fail("data.scenes, data.frames, data.max_stride and data.cache_mb must be at least 1")
        if (d.frames - 1) * d.max_stride + 1 > d.clip_frames:
            _fail(f"data.clip_frames ({d.clip_frames}) is too short for {d.frames} frames at stride {d.max_stride}")
        if not 0 <= d.colour_jitter < 1 or d.noise < 0 or not 0 <= d.exposure_pops <= 1:
            _fail("data.colour_jitter must be in [0, 1), data.noise >= 0 and data.exposure_pops in [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples become lists)."""
        return asdict(self)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as indented JSON, marked as the project's (see :mod:`flashdepth_vfx.plates.output_guard`)."""
        Path(path).write_text(json.dumps({KIND_KEY: "train-config", **self.to_dict()}, indent=2) + "\n",
                              encoding="utf-8")


def _fail(message: str) -> None:
    raise TrainConfigError(f"training config: {message}")


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """A dataclass from a dict, recursing into nested dataclasses; unknown keys are an error."""
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise TrainConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        hint = hints[name]
        if is_dataclass(hint):
            if not isinstance(value, dict):
                raise TrainConfigError(f"{where}: {name} must be a table of settings")
            kwargs[name] = _build(hint, value, f"{where} [{name}]")  # type: ignore[arg-type]
        elif isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


TINY = TrainConfig(
    model="flashdepth-tiny",
    stage=1,
    steps=1500,
    batch_size=4,
    seed=0,
    # No pretrained encoder exists for the tiny network: everything trains from scratch, at one higher rate.
    lr=LearningRates(vit=1e-3, dpt=1e-3, temporal=1e-3, warmup_steps=100, schedule="cosine"),
    # Slow decay rates: with mamba-ssm's [1, 16] the state is forgotten within each frame's 84 tokens and the
    # temporal module never learns to use it in a CPU-sized run.
    temporal_a_init=(0.01, 1.0),
    data=DataConfig(scenes=384, base_seed=0, render_size=(140, 252), crop=(126, 224), clip_frames=9, frames=5,
                    max_stride=2, exposure_pops=0.25),
    # Both cores of the 2-core machine the recipe is timed on. Runs repeat bit for bit at a given thread count;
    # another count changes floating-point summation order, so the same recipe ends in different bits.
    threads=2,
    checkpoint_every=250,
)
"""Part one of the embedded model's recipe (1500 steps from scratch)."""

TINY_TEMPORAL = replace(
    TINY,
    steps=500,
    # Continues a `tiny` run (--init-checkpoint): the temporal module at the full rate, the rest at a fifth of it,
    # with the temporal-gradient term that rewards keeping still what does not move.
    lr=LearningRates(vit=2e-4, dpt=2e-4, temporal=1e-3, warmup_steps=50, schedule="cosine"),
    loss=LossWeights(temporal_gradient=0.5),
    checkpoint_every=100,
)
"""Part two of the embedded model's recipe (--init-checkpoint: the final `tiny` checkpoint)."""

PRESETS: dict[str, TrainConfig] = {
    "tiny": TINY,
    "tiny-temporal": TINY_TEMPORAL,
    # Stage 1 as in the paper: start from Depth Anything v2 (--init-checkpoint depth_anything_v2_vits.pth / _vitl),
    # Mamba2 at 1e-4, the decoder at 5e-5, the encoder at 5e-6.
    "flashdepth-s": TrainConfig(model="flashdepth-s", data=DataConfig(render_size=(560, 980), crop=(518, 924))),
    "flashdepth-l": TrainConfig(model="flashdepth-l", data=DataConfig(render_size=(560, 980), crop=(518, 924))),
    # Stage 2 (--init-checkpoint: the stage-1 S model, --teacher-checkpoint: the stage-1 L model): the ViT-L
    # teacher frozen, the fusion at 1e-4, the student at 1e-6, on higher-resolution clips.
    "flashdepth": TrainConfig(
        model="flashdepth", stage=2, steps=40000,
        lr=LearningRates(vit=1e-6, dpt=1e-6, temporal=1e-6, fusion=1e-4),
        data=DataConfig(render_size=(1120, 1960), crop=(1050, 1862)),
    ),
    # Stage 2 at toy scale: the tiny model as student (--init-checkpoint) and as frozen teacher (--teacher-checkpoint).
    "tiny-hybrid": TrainConfig(
        model="flashdepth-tiny-hybrid", stage=2, steps=500, threads=1, checkpoint_every=100,
        lr=LearningRates(vit=1e-6, dpt=1e-6, temporal=1e-6, fusion=1e-4, warmup_steps=50),
        data=DataConfig(scenes=128, render_size=(182, 336), crop=(168, 308), clip_frames=9, frames=5),
    ),
}
"""Named starting points; ``flashdepth-vfx train PRESET`` runs one as is, a JSON file may name one as its base."""


def load_train_config(spec: str | os.PathLike[str]) -> TrainConfig:
    """A preset name, or a JSON file of settings (``{"preset": NAME, ...}`` starts from that preset)."""
    text = os.fspath(spec)
    if text in PRESETS:
        config = PRESETS[text]
    else:
        path = Path(text)
        if not path.is_file():
            raise TrainConfigError(f"{text}: no such config file or preset; presets: {', '.join(PRESETS)}")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TrainConfigError(f"{path}: cannot read the config as JSON: {exc}") from None
        if not isinstance(values, dict):
            raise TrainConfigError(f"{path}: a training config must be a JSON object of settings")
        values.pop(KIND_KEY, None)
        base_name = values.pop("preset", None)
        if base_name is not None and base_name not in PRESETS:
            raise TrainConfigError(f"{path}: unknown preset {base_name!r}; presets: {', '.join(PRESETS)}")
        base = PRESETS[base_name].to_dict() if base_name else {}
        try:
            config = _build(TrainConfig, _merge(base, values), str(path))
        except TypeError as exc:
            raise TrainConfigError(f"{path}: {exc}") from None
    config.validate()
    return config


def with_overrides(config: TrainConfig, **values: Any) -> TrainConfig:
    """A copy with top-level settings replaced, validated."""
    out = replace(config, **values)
    out.validate()
    return out
