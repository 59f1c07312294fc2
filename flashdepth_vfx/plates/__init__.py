"""Plates: sequence patterns and frame ranges, OpenImageIO reading/writing, OpenColorIO colour, movies.

The names below load their module on first use (PEP 562), so that importing a submodule that needs only the
standard library (:mod:`.output_guard`, which the host installer imports) does not load OpenImageIO or OpenColorIO.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flashdepth_vfx.plates.colour import DisplayConverter, guess_colorspace, load_config
    from flashdepth_vfx.plates.image_io import (
        Plate,
        PlateInfo,
        probe,
        read_channels,
        read_plate,
        readable_extensions,
        write_exr,
    )
    from flashdepth_vfx.plates.movie import is_movie, movie_frame_count, read_movie
    from flashdepth_vfx.plates.sequence import (
        FrameSequence,
        compact_frames,
        find_sequence,
        frame_path,
        output_pattern,
        parse_frame_range,
    )

_HOME = {
    "colour": ("DisplayConverter", "guess_colorspace", "load_config"),
    "image_io": ("Plate", "PlateInfo", "probe", "read_channels", "read_plate", "readable_extensions", "write_exr"),
    "movie": ("is_movie", "movie_frame_count", "read_movie"),
    "sequence": ("FrameSequence", "compact_frames", "find_sequence", "frame_path", "output_pattern",
                 "parse_frame_range"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}

__all__ = [
    "DisplayConverter",
    "FrameSequence",
    "Plate",
    "PlateInfo",
    "compact_frames",
    "find_sequence",
    "frame_path",
    "guess_colorspace",
    "is_movie",
    "load_config",
    "movie_frame_count",
    "output_pattern",
    "parse_frame_range",
    "probe",
    "read_channels",
    "read_movie",
    "read_plate",
    "readable_extensions",
    "write_exr",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
