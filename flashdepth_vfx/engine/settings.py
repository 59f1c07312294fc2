"""Everything a render needs to know, in one dataclass."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

OutputMode = Literal["disparity", "depth", "normalized"]
MissingPolicy = Literal["error", "hold", "black"]


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
    precision: str = "fp32"
    snapshot_every: int = 25
    resume: bool = False
    reset_on_cut: bool = False
    warmup: int | None = None
    compile: bool = False
    threads: int | None = None  # torch CPU threads for inference (None: what the I/O workers leave, see pipeline)
    io_workers: int | None = None  # decode and encode workers each (None: one per core, at least 2)
    compression: str = "auto"  # EXR compression of the outputs (auto: zip for --half, none for float32)
    exact_colour: bool = False  # OCIO's CPU processor for the plates' colour, also on a GPU

    def state_key(self, model_id: str, source_id: str) -> str:
        """Identifies the temporal states a render produces: same key, same states (snapshots are shared by it).

        ``source_id`` names the resolved plates (absolute pattern and first frame), so relative and absolute
        spellings of one shot share snapshots. Only what changes the model's input or arithmetic counts.
        """
        relevant = {
            "model": model_id,
            "source": source_id,
            "missing": self.missing,
            "part": self.part,
            "layer": self.layer,
            "teacher_resolution": self.teacher_resolution,
            "colorspace": self.colorspace,
            "ocio_config": self.ocio_config,
            "display": self.display,
            "view": self.view,
            "max_size": self.max_size,
            "precision": self.precision,
            "reset_on_cut": self.reset_on_cut,
            "exact_colour": self.exact_colour,
        }
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

    def to_metadata(self) -> str:
        """The settings as compact JSON, stored in every output file."""
        return json.dumps({k: v for k, v in asdict(self).items() if v not in (None, False)}, sort_keys=True)
