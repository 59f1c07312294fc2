"""Everything a render needs to know, in one dataclass."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Literal, get_args

from ..errors import OptionError

OutputMode = Literal["disparity", "depth", "normalized"]
MissingPolicy = Literal["error", "hold", "black"]
PASSTHROUGH_CHANNELS = ("R", "G", "B", "A")
"""Channels ``--passthrough`` writes (the plate's RGBA)."""
ATTENTION_CHOICES = ("auto", "flash", "efficient", "cudnn", "math")
"""``--attention``: the scaled-dot-product attention backend on CUDA (auto: torch picks per call)."""
TEACHER_MULTIPLE = 14
"""The hybrid teacher's input height must be a multiple of the ViT patch size."""


@dataclass(frozen=True)
class RenderSettings:
    """Options of one render. Defaults are what ``flashdepth-vfx render`` uses."""

    plate: str | tuple[str, ...]
    output: str | None = None
    frames: str | None = None
    missing: MissingPolicy = "error"
    part: str | None = None
    layer: str | None = None
    checkpoint: str | None = None
    model: str | None = None
    teacher_resolution: int | None = None
    colorspace: str | None = None
    ocio_config: str | None = None
    display: str | None = None
    view: str | None = None
    mode: OutputMode = "depth"
    depth_scale: float = 100.0
    channel: str = "depth.Z"
    half: bool = False
    passthrough: bool = False
    max_size: int | None = None
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 where the device runs it natively, else fp32 (engine.loading.resolve_precision)
    snapshot_every: int = 25
    resume: bool = False
    reset_on_cut: bool = False
    warmup: int | None = None
    compile: bool = False
    cuda_graphs: bool | None = None  # replay a CUDA graph for the shot's frame size (None: on CUDA, yes)
    attention: str = "auto"  # scaled-dot-product attention backend on CUDA (ATTENTION_CHOICES)
    threads: int | None = None  # torch CPU threads for inference (None: torch's, at most cpu_budget.cpu_budget())
    io_workers: int | None = None  # decode and encode workers each (None: one per core, at least 2)
    compression: str = "auto"  # EXR compression of the outputs (auto: zip for --half or --passthrough, else none)
    exact_colour: bool = False  # OCIO's CPU processor for the plates' colour, also on a GPU
    overwrite: bool = False  # replace existing output files the project did not write

    def __post_init__(self) -> None:
        """Refuse values no render can use (OptionError naming the option as the command line spells it)."""
        plates = (self.plate,) if isinstance(self.plate, str) else self.plate
        if not plates or not all(isinstance(p, str) and p.strip() for p in plates):
            raise OptionError("PLATE: give a plate pattern, folder, file or movie (an empty name was given)")
        for option in ("output", "frames", "part", "layer", "checkpoint", "model", "colorspace", "ocio_config",
                       "display", "view"):
            value = getattr(self, option)
            if isinstance(value, str) and not value.strip():
                raise OptionError(f"--{option.replace('_', '-')} is empty: give a value or leave the option out")
        _choice("--missing", self.missing, get_args(MissingPolicy))
        _choice("--mode", self.mode, get_args(OutputMode))
        _choice("--attention", self.attention, ATTENTION_CHOICES)
        if not (isinstance(self.depth_scale, (int, float)) and math.isfinite(self.depth_scale) and self.depth_scale > 0):
            raise OptionError(f"--depth-scale {self.depth_scale}: use a finite number above 0 (default 100)")
        channel = self.channel
        if not channel or channel != channel.strip() or not channel.isprintable() or channel.endswith("."):
            raise OptionError(f"--channel {channel!r}: use a channel name like depth.Z (printable, no surrounding spaces)")
        if self.passthrough and channel in PASSTHROUGH_CHANNELS:
            raise OptionError(f"--channel {channel} with --passthrough would replace the plate's {channel}; "
                              "use another channel name, e.g. depth.Z")
        _at_least("--max-size", self.max_size, 1)
        _at_least("--snapshot-every", self.snapshot_every, 1)
        _at_least("--warmup", self.warmup, 0)
        _at_least("--threads", self.threads, 1)
        _at_least("--teacher-resolution", self.teacher_resolution, TEACHER_MULTIPLE)
        if self.teacher_resolution is not None and self.teacher_resolution % TEACHER_MULTIPLE:
            raise OptionError(f"--teacher-resolution {self.teacher_resolution}: use a multiple of {TEACHER_MULTIPLE} (default 490)")

    def max_side(self, model_min_side: int, model_max_side: int) -> int:
        """The cap on the model input's long side: ``--max-size``, at least the model's minimum, else its own."""
        if self.max_size is None:
            return model_max_side
        if self.max_size < model_min_side:
            raise OptionError(f"--max-size {self.max_size} is below this model's smallest input ({model_min_side} pixels); "
                              f"use {model_min_side} or more")
        return self.max_size

    def state_key(self, model_id: str, source_id: str, colour_id: str = "", precision: str | None = None) -> str:
        """Identifies the temporal states a render produces: same key, same states (snapshots are shared by it).

        ``source_id`` names the plates (file name pattern and first frame, not their folder: the same shot seen
        from another mount shares snapshots); ``colour_id`` the OCIO config in use by content (so that a different
        ``$OCIO`` or an edited config counts, and not where it is installed). Only what changes the model's input or
        arithmetic counts.
        ``precision``: the one the render resolved ``auto`` to (a CUDA bf16 state is not a CPU fp32 one).
        """
        relevant = {
            "model": model_id,
            "source": source_id,
            "colour": colour_id,
            "missing": self.missing,
            "part": self.part,
            "layer": self.layer,
            "teacher_resolution": self.teacher_resolution,
            "colorspace": self.colorspace,
            "display": self.display,
            "view": self.view,
            "max_size": self.max_size,
            "precision": precision or self.precision,
            "reset_on_cut": self.reset_on_cut,
            "exact_colour": self.exact_colour,
        }
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

    def output_key(self, state_key: str) -> str:
        """Identifies the output files a render writes: its state key plus everything that changes the written
        values or layout. ``--resume`` keeps a frame only when its file carries the same output key."""
        relevant = {
            "state": state_key,
            "mode": self.mode,
            "depth_scale": self.depth_scale if self.mode == "depth" else None,
            "channel": self.channel,
            "half": self.half,
            "passthrough": self.passthrough,
            "warmup": self.warmup,
        }
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

    def to_metadata(self) -> str:
        """The settings as compact JSON, stored in every output file."""
        return json.dumps({k: v for k, v in asdict(self).items() if v not in (None, False)}, sort_keys=True)


def _choice(option: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise OptionError(f"{option} {value!r}: use one of {', '.join(choices)}")


def _at_least(option: str, value: int | None, minimum: int) -> None:
    """None passes (the option was not given); otherwise an integer of at least ``minimum``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
        raise OptionError(f"{option} {value}: use a whole number of {minimum} or more")
