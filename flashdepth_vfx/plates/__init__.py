"""Plates: sequence patterns and frame ranges, OpenImageIO reading/writing, OpenColorIO colour, movies."""
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
