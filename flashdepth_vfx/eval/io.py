"""Read depth / disparity frame sequences for evaluation: EXR and 16-bit PNG (through the project's OpenImageIO
wrapper), NPY and PFM.

A sequence is named by a frame pattern (``depth.####.exr``, ``depth.%04d.exr``, ``$F4``, ``@@@@``), a folder, a
glob (``preds/*.npy``) or a single file. Every problem raises :class:`~flashdepth_vfx.errors.PlateError` with a
one-line message naming the file.
"""
from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import numpy as np

from flashdepth_vfx.errors import PlateError
from flashdepth_vfx.plates.image_io import probe, read_channels
from flashdepth_vfx.plates.sequence import find_sequence

FRAME_SUFFIXES = (".exr", ".png", ".npy", ".pfm")
DEPTH_CHANNELS = ("depth.Z", "Z", "depth.Y", "Y", "R")
"""Channels tried in order when none is named (then the first channel)."""
PNG_SCALE = 1000.0
"""16-bit PNG values are divided by this (millimetres -> metres, the usual convention)."""

_PFM_HEADER = re.compile(rb"(P[Ff])\s+(\d+)\s+(\d+)\s+([-+0-9.eE]+)\s")
_UINT16_MAX = 65535.0


def _natural_key(path: Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _folder_frames(folder: Path) -> list[Path]:
    """The frame files in ``folder`` (one file type), in natural order."""
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES), key=_natural_key)
    kinds = sorted({p.suffix.lower() for p in files})
    if len(kinds) > 1:
        raise PlateError(
            f"{folder} holds several kinds of frames ({', '.join(kinds)}); pass a pattern such as {folder}/*{kinds[0]}"
        )
    return files


def find_frames(spec: str | os.PathLike[str]) -> list[Path]:
    """The files of a sequence, in frame order. See the module docstring for the forms ``spec`` can take.

    Frame patterns and single files go through :func:`~flashdepth_vfx.plates.sequence.find_sequence`, so a gap in
    the numbering is an error, as it is for plates.
    """
    text = os.fspath(spec)
    path = Path(text)
    if path.is_dir():
        files = _folder_frames(path)
    elif glob.has_magic(text) and not path.exists():
        files = sorted((Path(p) for p in glob.glob(text) if Path(p).is_file()), key=_natural_key)
    else:
        sequence = find_sequence(text)
        files = [sequence.files[frame] for frame in sequence.frames]
    if not files:
        raise PlateError(f"No frames found for {text}; supported files: {', '.join(FRAME_SUFFIXES)}")
    return files


def read_pfm(path: str | os.PathLike[str]) -> np.ndarray:
    """A PFM image as float32 (H, W) or (H, W, 3), top row first; either byte order."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PlateError(f"Cannot read {path}: {exc.strerror}") from None
    header = _PFM_HEADER.match(data)
    if header is None:
        raise PlateError(f"{path} is not a PFM file (bad header); re-export it")
    channels = 3 if header.group(1) == b"PF" else 1
    width, height, scale = int(header.group(2)), int(header.group(3)), float(header.group(4))
    count = width * height * channels
    if len(data) - header.end() < 4 * count:
        raise PlateError(f"{path} is truncated: expected {width}x{height}x{channels} floats; re-export it")
    pixels = np.frombuffer(data, "<f4" if scale < 0 else ">f4", count, header.end())
    image = pixels.reshape(height, width, channels)[::-1].astype(np.float32)  # stored bottom row first
    return image[..., 0] if channels == 1 else image


def write_pfm(path: str | os.PathLike[str], image: np.ndarray, little_endian: bool = True) -> None:
    """Write float (H, W) or (H, W, 3) ``image`` as PFM (bottom row first, as the format wants)."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"PFM holds (H, W) or (H, W, 3) images, got shape {image.shape}")
    kind = "PF" if image.ndim == 3 else "Pf"
    header = f"{kind}\n{image.shape[1]} {image.shape[0]}\n{-1.0 if little_endian else 1.0}\n".encode("ascii")
    pixels = np.ascontiguousarray(image[::-1], "<f4" if little_endian else ">f4")
    Path(path).write_bytes(header + pixels.tobytes())


def _read_image(path: Path, channel: str | None, png_scale: float) -> np.ndarray:
    """One channel of an EXR or 16-bit PNG as float32 (H, W); PNG values divided by ``png_scale``."""
    is_png = path.suffix.lower() == ".png"
    if is_png:
        pixel_type = probe(path).pixel_type
        if pixel_type != "uint16":
            raise PlateError(
                f"{path} is a {pixel_type} PNG; depth PNGs must be 16-bit (values / {png_scale:g} = metres)"
            )
    channels = read_channels(path)
    names = list(channels)
    if channel is not None and channel not in channels:
        raise PlateError(f"{path} has no channel {channel!r} (it has {', '.join(names)}); pick one of those")
    frame = channels[channel or next((c for c in DEPTH_CHANNELS if c in channels), names[0])]
    if is_png:  # OpenImageIO hands integers over normalised to [0, 1]: back to the stored 16-bit values
        return (np.rint(frame * _UINT16_MAX) / png_scale).astype(np.float32)
    return frame


def _read_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PlateError(f"Cannot read {path}: {exc}") from None
    if array.ndim == 3 and array.shape[2] <= 4:
        array = array[..., 0]
    if array.ndim != 2:
        raise PlateError(f"{path} holds an array of shape {array.shape}; expected one (H, W) frame")
    return array.astype(np.float32)


def read_frame(path: str | os.PathLike[str], channel: str | None = None, png_scale: float = PNG_SCALE) -> np.ndarray:
    """One frame as float32 (H, W).

    EXR/PNG: ``channel`` if named, else the first of :data:`DEPTH_CHANNELS` present, else the first channel;
    16-bit PNG values are divided by ``png_scale``. NPY and PFM: their first channel.
    """
    frame_path = Path(path)
    suffix = frame_path.suffix.lower()
    if suffix not in FRAME_SUFFIXES:
        raise PlateError(f"{frame_path}: unsupported file type; use one of {', '.join(FRAME_SUFFIXES)}")
    if not frame_path.is_file():
        raise PlateError(f"{frame_path} does not exist; check the path")
    if suffix == ".npy":
        return _read_npy(frame_path)
    if suffix == ".pfm":
        image = read_pfm(frame_path)
        return image if image.ndim == 2 else image[..., 0]
    return _read_image(frame_path, channel, png_scale)


def load_frames(
    spec: str | os.PathLike[str], channel: str | None = None, png_scale: float = PNG_SCALE
) -> np.ndarray:
    """All frames of a sequence as float32 (T, H, W); every frame must have the same size."""
    files = find_frames(spec)
    frames = [read_frame(files[0], channel, png_scale)]
    for path in files[1:]:
        frame = read_frame(path, channel, png_scale)
        if frame.shape != frames[0].shape:
            raise PlateError(
                f"{path} is {frame.shape[1]}x{frame.shape[0]} but {files[0].name} is "
                f"{frames[0].shape[1]}x{frames[0].shape[0]}; all frames of a sequence must have one size"
            )
        frames.append(frame)
    return np.stack(frames)
