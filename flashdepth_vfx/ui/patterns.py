"""Frame-number patterns as the panel needs them (stdlib only: the panel's process stays free of numpy,
so it cannot use :mod:`flashdepth_vfx.plates`)."""
from __future__ import annotations

import os
import re

IMAGE_EXTENSIONS = frozenset({".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".cin", ".hdr", ".tga"})
# A frame token: printf (%04d / %d), hashes (####), at-signs (@@@@) or Houdini's $F4 / $F.
_TOKEN = re.compile(r"%0?(\d*)d|#+|@+|\$F(\d*)")
# The frame number of a sequence file: the last digit run in the name, right before the extension.
_FRAME_NUMBER = re.compile(r"^(.*[._-])(\d+)(\.[A-Za-z0-9]+)$")


def sequence_pattern(path: str) -> str:
    """``/x/shot.1001.exr`` -> ``/x/shot.####.exr`` for a picked frame of an image sequence; other paths
    (movies, files without a frame number) come back unchanged."""
    folder, name = os.path.split(path)
    match = _FRAME_NUMBER.match(name)
    if match is None or match.group(3).lower() not in IMAGE_EXTENSIONS:
        return path
    head, digits, ext = match.groups()
    return os.path.join(folder, f"{head}{'#' * len(digits)}{ext}")


def frame_file(pattern: str, frame: int) -> str:
    """The file of ``frame`` in a sequence pattern (its last frame token is replaced); a pattern
    without a token (a single file) comes back unchanged."""
    matches = list(_TOKEN.finditer(pattern))
    if not matches:
        return pattern
    token = matches[-1]
    digits = token.group(1) or token.group(2)
    if token.group(0)[0] in "#@":
        width = len(token.group(0))
    else:
        width = int(digits) if digits else 1
    return f"{pattern[:token.start()]}{frame:0{width}d}{pattern[token.end():]}"
