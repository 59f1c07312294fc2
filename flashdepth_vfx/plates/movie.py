"""Movie files (mp4, mov, …) through PyAV, as a convenience input: frames come out as display sRGB."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from flashdepth_vfx.errors import PlateError

try:  # an optional extra (flashdepth-vfx[movie]): image sequences render without it
    import av
except ImportError:  # pragma: no cover - depends on the installation
    av = None

MOVIE_EXTENSIONS = frozenset({"mp4", "mov", "m4v", "mkv", "avi", "webm", "mxf"})


def is_movie(path: str | os.PathLike[str]) -> bool:
    """True when the path names a movie file (by extension) rather than an image or a sequence."""
    return Path(path).suffix.lower().lstrip(".") in MOVIE_EXTENSIONS


def _open(file: Path) -> Any:
    if not file.is_file():
        raise PlateError(f"Movie not found: {file}")
    if av is None:
        raise PlateError(f"{file}: movie input needs PyAV, which is not installed: pip install 'flashdepth-vfx[movie]'")
    try:
        container = av.open(str(file))
    except av.error.FFmpegError as exc:
        raise PlateError(f"Cannot open movie {file}: {exc}") from None
    if not container.streams.video:
        container.close()
        raise PlateError(f"{file} has no video stream")
    return container


def _to_float_rgb(frame: Any) -> np.ndarray:
    """A decoded frame -> float32 (H, W, 3) in [0, 1], keeping more than 8 bits when the video has them."""
    if max(component.bits for component in frame.format.components) > 8:
        return frame.to_ndarray(format="rgb48le").astype(np.float32) / np.float32(65535.0)
    return frame.to_ndarray(format="rgb24").astype(np.float32) / np.float32(255.0)


def read_movie(path: str | os.PathLike[str]) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a movie's first video stream: (frame number from 1, float32 (H, W, 3) display sRGB in [0, 1])."""
    file = Path(path)
    with _open(file) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        number = 0
        try:
            for frame in container.decode(stream):
                number += 1
                yield number, _to_float_rgb(frame)
        except av.error.FFmpegError as exc:
            raise PlateError(f"Cannot decode frame {number + 1} of {file}: {exc}") from None


def movie_frame_count(path: str | os.PathLike[str]) -> int:
    """Number of video frames: from the container when it says, else by counting packets."""
    file = Path(path)
    with _open(file) as container:
        stream = container.streams.video[0]
        if stream.frames > 0:
            return int(stream.frames)
        try:
            return sum(1 for packet in container.demux(stream) if packet.size)
        except av.error.FFmpegError as exc:
            raise PlateError(f"Cannot read movie {file}: {exc}") from None
