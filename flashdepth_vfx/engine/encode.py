"""The render's encode stage: one depth EXR per frame, written atomically by an ordered pool of workers."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import __version__
from ..plates import PlateInfo, frame_path, write_exr
from .loading import LoadedModel
from .outputs import PendingOutput
from .settings import PASSTHROUGH_CHANNELS, RenderSettings

COMPRESSIONS = ("none", "zip", "zips", "piz", "rle")
"""Lossless EXR compressions offered by ``--compression``."""


def exr_compression(settings: RenderSettings) -> str:
    """The EXR compression of the depth files: ``auto`` is ZIP for half floats (a third of the size, for twice the
    write time of none) and for files holding a copy of the plate (``--passthrough``), none for float32 depth alone
    (ZIP saves only a few percent on float32 depth, at ~4x the write time)."""
    if settings.compression != "auto":
        return settings.compression
    return "zip" if settings.half or settings.passthrough else "none"


def half_channels(settings: RenderSettings) -> tuple[str, ...]:
    """Channels written as half floats whatever ``--half`` says: the plate copy of ``--passthrough`` (a viewing
    copy: half keeps a half-float plate exact, and is a quarter of a float32 RGBA copy once compressed)."""
    return PASSTHROUGH_CHANNELS if settings.passthrough else ()


class Encodable(Protocol):
    """What the encoder needs of a frame (the pipeline's frame record)."""

    frame: int
    write: bool
    info: PlateInfo | None
    raw: np.ndarray | None
    output: PendingOutput | None


class FrameWriter:
    """Writes one frame's depth EXR (a worker's job): values, plate windows and metadata, the render's provenance."""

    def __init__(self, settings: RenderSettings, pattern: str, loaded: LoadedModel, key: str, output_key: str,
                 chain: Mapping[int, str]) -> None:
        self.settings = settings
        self.pattern = pattern
        self.compression = exr_compression(settings)
        self.chain = chain  # frame -> the fingerprint of the plates up to it (what --resume compares)
        self.provenance: dict[str, Any] = {
            "flashdepth:version": __version__,
            "flashdepth:model": loaded.model.cfg.name,
            "flashdepth:checkpoint": loaded.path.name,
            "flashdepth:checkpoint_sha256": loaded.sha,
            "flashdepth:settings": settings.to_metadata(),
            "flashdepth:state_key": key,
            "flashdepth:output_key": output_key,
            "flashdepth:mode": "disparity" if settings.mode == "normalized" else settings.mode,
        }
        if settings.mode == "depth":
            self.provenance["flashdepth:depth_scale"] = settings.depth_scale

    def __call__(self, item: Encodable) -> Path | None:
        """The file written, or None for a frame that is only run through the model (not written)."""
        if not item.write:
            return None
        assert item.output is not None
        s = self.settings
        values, low, high = item.output.result()
        path = frame_path(self.pattern, item.frame)
        channels: dict[str, np.ndarray] = {}
        if item.raw is not None:
            channels.update({c: item.raw[..., i] for i, c in enumerate("RGBA")})
        channels[s.channel] = values
        meta = dict(self.provenance)
        meta.update({"flashdepth:disparity_min": low, "flashdepth:disparity_max": high, "flashdepth:frame": item.frame,
                     "flashdepth:source": self.chain[item.frame]})
        write_exr(path, channels, like=item.info, metadata=meta, half=s.half, compression=self.compression,
                  half_channels=half_channels(s))
        return path
