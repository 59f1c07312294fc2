"""File patterns on the host side: frame tokens (printf, ``####``, ``@@@@``, ``$F4``), the files of a sequence on
disk, and where a node's depth frames go. Standard library only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from typing import List, Optional

OUTPUT_SUFFIX = "_depth"
RESULT_FOLDER = "flashdepth"

# A frame token right before the extension: printf, ####, @@@@, $F4, or a literal frame number
# (a number only counts as a frame when a '.', '_' or '-' separates it from the name).
_FRAME_TOKEN = re.compile(
    r"(?:%0?(?P<printf>\d*)d|(?P<hashes>#+)|(?P<ats>@+)|\$F(?P<houdini>\d*)|(?<=[._-])(?P<digits>\d+))"
    r"(?P<ext>\.[A-Za-z0-9]+)$"
)


@dataclass(frozen=True)
class _FrameToken:
    head: str        # path up to the token, e.g. "/plates/shot."
    padding: int     # digits in a frame number
    ext: str         # ".exr"
    literal: bool    # a file name of one frame (shot.1001.exr) rather than a pattern


def _frame_token(path: str) -> Optional[_FrameToken]:
    name = os.path.basename(path)
    match = _FRAME_TOKEN.search(name)
    if match is None:
        return None
    head = path[: len(path) - len(name) + match.start()]
    if match.group("hashes") or match.group("ats"):
        padding = len(match.group("hashes") or match.group("ats"))
        return _FrameToken(head, padding, match.group("ext"), False)
    if match.group("digits"):
        return _FrameToken(head, len(match.group("digits")), match.group("ext"), True)
    width = match.group("printf") if match.group("printf") is not None else match.group("houdini")
    return _FrameToken(head, int(width) if width else 1, match.group("ext"), False)


IMAGE_EXTENSIONS = frozenset({".exr", ".dpx", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".cin", ".hdr", ".tga"})
"""Files that come as one frame per file (a numbered movie file is not a frame of a sequence)."""


def sequence_from_frame_file(path: str) -> str:
    """``/x/shot.1001.exr`` -> ``/x/shot.####.exr`` (one '#' per digit); other paths (movies) unchanged."""
    token = _frame_token(path)
    if token is None or not token.literal or token.ext.lower() not in IMAGE_EXTENSIONS:
        return path
    return f"{token.head}{'#' * token.padding}{token.ext}"


def frame_file(pattern: str, frame: int) -> str:
    """The file of one frame of a sequence pattern (printf, ####, @@@@, $F4); a single file comes back unchanged."""
    token = _frame_token(pattern)
    if token is None or token.literal:
        return pattern
    return f"{token.head}{frame:0{token.padding}d}{token.ext}"


def houdini_pattern(pattern: str) -> str:
    """A printf frame pattern in Houdini's syntax: ``shot.%04d.exr`` -> ``shot.$F4.exr``."""
    return re.sub(r"%0?(\d*)d", lambda m: f"$F{m.group(1)}", pattern)


def output_pattern(plate: str, output_dir: str) -> str:
    """Where a node's depth frames go: ``<output_dir>/<plate name>_depth.%04d.exr`` (the plate's padding)."""
    token = _frame_token(plate)
    if token is None:
        stem, padding = os.path.splitext(os.path.basename(plate))[0], 4
    else:
        stem, padding = os.path.basename(token.head).rstrip("._-"), max(token.padding, 1)
    return os.path.join(output_dir, f"{stem or 'plate'}{OUTPUT_SUFFIX}.%0{padding}d.exr")


def default_output_dir(base_dir: Optional[str], name: str) -> str:
    """A node's default output folder: ``<base_dir>/flashdepth/<name>``, where ``base_dir`` is the
    saved scene's folder (the temp folder for an unsaved scene)."""
    base = base_dir or os.path.join(tempfile.gettempdir(), "flashdepth-vfx")
    return os.path.join(base, RESULT_FOLDER, name)


def host_path(path: str, sep: Optional[str] = None) -> str:
    """``path`` as a host parameter should hold it: forward slashes (Houdini string parameters read ``\\`` as an
    escape; Nuke prefers ``/`` on every OS). Only the OS separator ``sep`` is replaced: a POSIX file name may hold a
    ``\\``."""
    sep = sep or os.sep
    return path if sep == "/" else path.replace(sep, "/")


def relative_path(path: str, base_dir: Optional[str], token: str) -> str:
    """``path`` for a host parameter: relative to the scene's folder ``base_dir`` as ``token/...`` when inside it
    (``$HIP/flashdepth/node``: every machine and mount that opens the scene finds it), else whole; forward
    slashes (:func:`host_path`)."""
    if base_dir:
        try:
            inside = os.path.relpath(path, base_dir)
        except ValueError:  # another drive (Windows)
            inside = os.pardir
        if inside != os.pardir and not inside.startswith(os.pardir + os.sep):
            return host_path(token if inside == os.curdir else token + os.sep + inside)
    return host_path(path)


def sequence_name(pattern: str) -> Optional[str]:
    """The file name of a sequence pattern with its frame token as printf (``/a/shot.####.exr`` ->
    ``shot.%04d.exr``: the same for every spelling Nuke, Houdini and Fusion use); None for a single file or
    movie."""
    token = _frame_token(pattern)
    if token is None or token.literal:
        return None
    return f"{os.path.basename(token.head)}%0{token.padding}d{token.ext}"


def sequence_frames(pattern: str) -> List[int]:
    """The frame numbers of ``pattern``'s files on disk, ascending (empty for a missing folder, a single file or
    a movie). Any padding matches, as the engine's readers accept."""
    token = _frame_token(pattern)
    if token is None or token.literal:
        return []
    folder, head = os.path.split(token.head)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    number = re.compile(re.escape(head) + r"(-?\d+)" + re.escape(token.ext) + "$")
    frames = {int(match.group(1)) for match in map(number.match, names) if match is not None}
    return sorted(frames)
