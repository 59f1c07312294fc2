"""Write a :class:`~flashdepth_vfx.data.procedural.SyntheticSequence` as an EXR plate (and its ground-truth depth),
through the project's EXR writer (:func:`flashdepth_vfx.plates.image_io.write_exr`: atomic, OutputError on failure).
"""
from __future__ import annotations

import os
from pathlib import Path

from flashdepth_vfx.data.procedural import SyntheticSequence
from flashdepth_vfx.data.srgb import srgb_to_linear
from flashdepth_vfx.plates.image_io import write_exr

LINEAR_COLORSPACE = "Linear Rec.709 (sRGB)"
"""Colour space tag of linear plates: the OCIO studio-config name of linear light with sRGB primaries."""
DISPLAY_COLORSPACE = "sRGB Encoded Rec.709 (sRGB)"
"""Colour space tag of display-encoded plates (``linear=False``)."""


def _pattern(folder: str | os.PathLike[str], name: str) -> str:
    """``folder/name.%04d.exr`` as an absolute printf pattern (a literal ``%`` doubled)."""
    return str(Path(folder).absolute() / name).replace("%", "%%") + ".%04d.exr"


def write_plate_sequence(
    seq: SyntheticSequence,
    folder: str | os.PathLike[str],
    name: str = "shot",
    first_frame: int = 1001,
    linear: bool = True,
) -> str:
    """Write ``seq.rgb`` as half-float RGB EXRs ``folder/name.####.exr``; return the printf pattern.

    With ``linear`` (the default) the display sRGB frames are decoded with the sRGB EOTF to scene-linear values and
    tagged ``Linear Rec.709 (sRGB)``, so a colour-managed reader converting them to sRGB display gets the frames
    back; otherwise the display values are written as they are, tagged ``sRGB Encoded Rec.709 (sRGB)``.
    """
    pattern = _pattern(folder, name)
    metadata = {"oiio:ColorSpace": LINEAR_COLORSPACE if linear else DISPLAY_COLORSPACE}
    for index, frame in enumerate(seq.rgb):
        pixels = srgb_to_linear(frame) if linear else frame
        channels = {"R": pixels[..., 0], "G": pixels[..., 1], "B": pixels[..., 2]}
        write_exr(pattern % (first_frame + index), channels, metadata=metadata, half=True)
    return pattern


def write_depth_sequence(
    seq: SyntheticSequence,
    folder: str | os.PathLike[str],
    name: str = "shot_depth_gt",
    first_frame: int = 1001,
) -> str:
    """Write ``seq.depth`` (metres) as single-channel ``Z`` float EXRs ``folder/name.####.exr``; return the pattern."""
    pattern = _pattern(folder, name)
    for index, depth in enumerate(seq.depth):
        write_exr(pattern % (first_frame + index), {"Z": depth}, metadata={"oiio:ColorSpace": "Raw"})
    return pattern
