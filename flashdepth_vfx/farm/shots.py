"""The shots of a farm job: plate sequences named on the command line, their frames and where their depth goes."""
from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError, PlateError
from ..plates import FrameSequence, find_sequence, frame_path, is_movie, output_pattern
from ..plates.output_guard import check_outputs

SHOT_PLACEHOLDER = "{shot}"
"""In ``--output``, replaced by each shot's name: ``depth/{shot}_depth.####.exr``."""

_PRINTF_FRAME = re.compile(r"%0?\d*d")


@dataclass(frozen=True)
class Shot:
    """One plate sequence to render: a contiguous range of frames, read from ``plate`` and written to ``output``."""

    name: str
    plate: str  # absolute printf pattern of the plates
    first: int
    last: int
    output: str  # absolute printf pattern of the depth files

    @property
    def frame_count(self) -> int:
        """Frames from the first to the last, gaps included (they are rendered as ``--missing`` says)."""
        return self.last - self.first + 1


def expand_shot_patterns(patterns: Sequence[str]) -> list[tuple[str, str | None]]:
    """Each pattern as given, or once per matching folder when folders hold wildcards: ``plates/*`` (each folder's
    one sequence), ``plates/*/main.####.exr``; with the wildcard pattern it came from (None: none)."""
    expanded: list[tuple[str, str | None]] = []
    for pattern in patterns:
        folder, name = os.path.split(pattern)
        wild = pattern if glob.has_magic(name) else folder if glob.has_magic(folder) else None
        if wild is None:
            expanded.append((pattern, None))
            continue
        folders = sorted(p for p in glob.glob(wild) if os.path.isdir(p))
        if not folders:
            raise PlateError(f"No folder matches {wild}; wildcards name folders, like plates/* or plates/*/main.####.exr")
        expanded += [(match if wild == pattern else os.path.join(match, name), pattern) for match in folders]
    return expanded


def _plate_name(printf_pattern: str) -> str:
    """``/x/sh010_bg.%04d.exr`` -> ``sh010_bg``: the file name before its frame number (else its folder's name)."""
    path = Path(printf_pattern)
    head = _PRINTF_FRAME.split(path.name)[0].replace("%%", "%").rstrip("._- ")
    return head or path.parent.name


def find_shots(patterns: Sequence[str], output: str | None = None, missing: str = "error") -> list[Shot]:
    """Scan the plates of every shot now, at template-build time: their frame ranges and output patterns.

    ``output`` is as ``render --output`` takes it, with ``{shot}`` replaced by each shot's name; several shots
    need ``{shot}`` or a folder (each shot then gets its default file name inside it).
    """
    specs = expand_shot_patterns(patterns)
    if not specs:
        raise PlateError("No shots given: name one or more plate sequences like sh010/sh010.####.exr")
    scanned: list[tuple[str, FrameSequence]] = []  # (printf plate pattern, its frames)
    for spec, wildcard in specs:
        if is_movie(spec):
            raise PlateError(f"{spec}: farm jobs render image sequences; convert the movie to frames first")
        try:
            sequence = find_sequence(spec, missing=missing)
        except PlateError:
            if wildcard is None:
                raise
            folder, name = (spec, "numbered image sequence") if glob.has_magic(os.path.basename(wildcard)) \
                else os.path.split(spec)
            raise PlateError(f"{wildcard} matches the folder {folder}, which holds no {name}: narrow the wildcard "
                             "to the shots' folders, or name each shot's plates") from None
        if sequence.pattern is None:
            raise PlateError(f"{spec}: not a numbered frame sequence; name the plates like shot.####.exr")
        scanned.append((sequence.pattern, sequence))

    names = [_plate_name(pattern) for pattern, _ in scanned]
    if len(set(names)) < len(names):  # e.g. sh010/main.####.exr and sh020/main.####.exr: add the folder
        names = [f"{Path(pattern).parent.name}_{name}" for (pattern, _), name in zip(scanned, names)]
    shots: list[Shot] = []
    for (pattern, sequence), name in zip(scanned, names):
        clash = next((shot for shot in shots if shot.name == name), None)
        if clash is not None:
            raise PlateError(f"{pattern} and {clash.plate} would both be shot {name!r}; give each shot once")
        target = output.replace(SHOT_PLACEHOLDER, name) if output is not None else None
        depth = output_pattern(sequence, target)
        # Only inputs are refused now (any spelling, links followed); the tasks' renders check the files they replace.
        check_outputs([(frame_path(depth, f), "depth") for f in sequence.frames], sequence.plate_paths(sequence.frames),
                      overwrite=True)
        shared = next((shot for shot in shots if shot.output == depth), None)
        if shared is not None:
            raise OutputError(f"Shots {shared.name} and {name} would both write {depth}; "
                              f"put {SHOT_PLACEHOLDER} in --output, e.g. depth/{SHOT_PLACEHOLDER}_depth.####.exr")
        shots.append(Shot(name, pattern, sequence.frames[0], sequence.frames[-1], depth))
    return shots
