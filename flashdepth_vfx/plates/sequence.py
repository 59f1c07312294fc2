"""Plate sequences: the pattern syntaxes artists type, frame ranges, gaps and output naming.

Patterns are kept printf-style (``/x/shot.%04d.exr``, a literal ``%`` doubled). Artists may write
``shot.####.exr`` (Nuke), ``shot.%04d.exr``, ``shot.$F4.exr`` (Houdini) or ``shot.@@@@.exr``; a single
``#``/``@``/``$F``/``%d`` means no padding. Only the last frame token of the file name counts.
"""
from __future__ import annotations

import bisect
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

from flashdepth_vfx.errors import OutputError, PlateError
from flashdepth_vfx.plates.image_io import probe, readable_extensions

MISSING_POLICIES = ("error", "hold", "black")

# A frame-number token as artists write it: ####, @@@@, $F / $F4, %d / %04d.
_ARTIST_TOKEN = re.compile(r"#+|@+|\$F(\d*)|%(0?\d*)d")
# A token (or an escaped percent) in a stored printf pattern.
_PRINTF_TOKEN = re.compile(r"%%|%(0?\d*)d")
# A concrete frame file: head, frame digits, extension ("shot.1001.exr", "shot_1001.tif").
_NUMBERED = re.compile(r"^(?P<head>.*?)(?P<digits>\d+)(?P<ext>\.[A-Za-z0-9]+)$")
_RANGE_PART = re.compile(r"^(-?\d{1,9})(?:-(-?\d{1,9})(?:x(\d{1,9}))?)?$")  # frame numbers up to 9 digits
_MAX_LISTED_RUNS = 8
MAX_RANGE_FRAMES = 1_000_000
"""The most frames one ``--frames`` value may name (about 11 hours at 24 fps)."""


def _frame_runs(spec: str) -> list[tuple[int, int, int]]:
    """``"1-10x3,20"`` -> [(1, 10, 3), (20, 20, 1)]: (first, last frame actually reached, step), nothing expanded."""
    runs = []
    for part in spec.replace(" ", "").split(","):
        match = _RANGE_PART.match(part)
        if match is None:
            raise PlateError(f"Bad frame range {spec[:80]!r}: write it like 1001-1100, 1001-1100x2 or 1001,1005,1010-1020 "
                             "(frame numbers of up to 9 digits)")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        step = int(match.group(3)) if match.group(3) is not None else 1
        if last < first:
            raise PlateError(f"Frame range {spec[:80]!r} runs backwards ({part}): give the first frame first, "
                             f"{last}-{first}")
        if step < 1:
            raise PlateError(f"Bad frame range {spec[:80]!r}: the step after x must be 1 or more")
        runs.append((first, first + (last - first) // step * step, step))
    return runs


def parse_frame_range(spec: str, within: tuple[int, int] | None = None, name: str = "the plates") -> list[int]:
    """``"1001-1100"``, ``"1001-1100x2"``, ``"1001"``, ``"1001,1005,1010-1020"`` -> ascending unique frames.

    ``within`` (first, last) bounds the request to a shot (``name`` in messages): a frame outside it is a
    PlateError, found without expanding the range, so ``1-999999999`` costs nothing. A range of more than
    :data:`MAX_RANGE_FRAMES` frames is refused before it is expanded.
    """
    runs = _frame_runs(spec)
    lowest, highest = min(run[0] for run in runs), max(run[1] for run in runs)
    if within is not None and (lowest < within[0] or highest > within[1]):
        raise PlateError(f"--frames {spec[:80]}: {name} has frames {within[0]}-{within[1]} only; check --frames")
    if sum((last - first) // step + 1 for first, last, step in runs) > MAX_RANGE_FRAMES:
        raise PlateError(f"Bad frame range {spec[:80]!r}: more than {MAX_RANGE_FRAMES} frames; check --frames")
    frames: set[int] = set()
    for first, last, step in runs:
        frames.update(range(first, last + 1, step))
    return sorted(frames)


def compact_frames(frames: Sequence[int]) -> str:
    """``[1003, 1007, 1008, 1009]`` -> ``"1003, 1007-1009"`` (a long list ends with ``…``)."""
    runs: list[tuple[int, int]] = []
    for frame in sorted(frames):
        if runs and frame == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], frame)
        else:
            runs.append((frame, frame))
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs[:_MAX_LISTED_RUNS])
    return text + (", …" if len(runs) > _MAX_LISTED_RUNS else "")


@dataclass(frozen=True)
class _Pattern:
    """A file pattern split around its frame token: ``directory / head`` + frame + ``tail``."""

    directory: Path
    head: str
    padding: int  # 0 = unpadded
    tail: str

    @property
    def printf(self) -> str:
        return _escape(os.path.join(self.directory, self.head)) + _printf_token(self.padding) + _escape(self.tail)

    @property
    def display_name(self) -> str:
        return self.head + "#" * max(self.padding, 1) + self.tail

    def frame_of(self, name: str) -> int | None:
        """The frame number if ``name`` is a file of this pattern (with the exact padding), else None."""
        if len(name) <= len(self.head) + len(self.tail) or not (name.startswith(self.head) and name.endswith(self.tail)):
            return None
        digits = name[len(self.head): len(name) - len(self.tail)]
        if not re.fullmatch(r"-?\d+", digits):
            return None
        frame = int(digits)
        return frame if _format_frame(frame, self.padding) == digits else None


def _escape(text: str) -> str:
    return text.replace("%", "%%")


def _printf_token(padding: int) -> str:
    return f"%0{padding}d" if padding > 1 else "%d"


def _format_frame(frame: int, padding: int) -> str:
    return f"{frame:0{padding}d}" if padding > 1 else str(frame)


def _padding(digit_strings: Sequence[str]) -> int:
    """Padding of frame numbers as found on disk: zero-padded -> the shortest length; all one length -> that."""
    lengths = {len(digits) for digits in digit_strings}
    if any(digits.startswith("0") and len(digits) > 1 for digits in digit_strings):
        return min(lengths)
    if len(lengths) == 1:
        length = lengths.pop()
        return length if length > 1 else 0
    return 0


def _parse_artist_pattern(path: str) -> _Pattern | None:
    """Split a path whose file name has a frame token; None when it has none."""
    directory, name = os.path.split(os.path.abspath(os.path.expanduser(path)))
    tokens = list(_ARTIST_TOKEN.finditer(name))
    if not tokens:
        return None
    token = tokens[-1]
    text = token.group(0)
    if text[0] in "#@":
        padding = len(text) if len(text) > 1 else 0
    else:
        digits = token.group(1) if text.startswith("$F") else token.group(2)
        padding = int(digits) if digits else 0
    return _Pattern(Path(directory), name[: token.start()], padding, name[token.end():])


def _parse_printf(pattern: str) -> _Pattern:
    """A stored printf pattern back into its parts (escaped percents restored)."""
    tokens = [m for m in _PRINTF_TOKEN.finditer(pattern) if m.group(0) != "%%"]
    if not tokens:
        raise PlateError(f"Bad file pattern {pattern!r}: it needs one frame token like %04d")
    token = tokens[-1]
    directory, head = os.path.split(pattern[: token.start()].replace("%%", "%"))
    padding = int(token.group(1)) if token.group(1) else 0
    return _Pattern(Path(directory), head, padding, pattern[token.end():].replace("%%", "%"))


def _numbered(path: Path) -> tuple[_Pattern, int] | None:
    """``/x/shot.1001.exr`` -> (its pattern ``/x/shot.%04d.exr``, 1001); None without a frame number."""
    match = _NUMBERED.match(path.name)
    if match is None:
        return None
    digits = match.group("digits")
    return _Pattern(path.parent.absolute(), match.group("head"), _padding([digits]), match.group("ext")), int(digits)


@dataclass(frozen=True)
class FrameSequence:
    """Frames to render and the files behind them."""

    pattern: str | None
    frames: tuple[int, ...]
    files: Mapping[int, Path]
    missing_policy: str

    @cached_property
    def _existing(self) -> list[int]:
        return sorted(self.files)

    def source(self, frame: int) -> Path | None:
        """The file to read for ``frame``: its own, the nearest earlier one (hold), or None (black)."""
        own = self.files.get(frame)
        if own is not None:
            return own
        if self.missing_policy == "black":
            return None
        if self.missing_policy == "hold" and self._existing:
            earlier = bisect.bisect_left(self._existing, frame)
            return self.files[self._existing[earlier - 1] if earlier else self._existing[0]]
        raise PlateError(f"{self.display_name}: frame {frame} is missing; pass --missing hold|black to render past it")

    def plate_paths(self, frames: Sequence[int]) -> list[Path]:
        """Every plate file, and for a pattern the names ``frames`` have in it (a missing frame's name too)."""
        named = [frame_path(self.pattern, frame) for frame in frames] if self.pattern is not None else []
        return [*self.files.values(), *named]

    def missing(self) -> list[int]:
        """Frames to render that have no file of their own."""
        return [frame for frame in self.frames if frame not in self.files]

    @property
    def display_name(self) -> str:
        """``shot.####.exr`` style name for messages."""
        if self.pattern is not None:
            return _parse_printf(self.pattern).display_name
        first, last = self.files[self._existing[0]], self.files[self._existing[-1]]
        return first.name if len(self.files) == 1 else f"{first.name} … {last.name} ({len(self.files)} files)"


def find_sequence(
    spec: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    frames: str | None = None,
    missing: str = "error",
    gap_hint: str = "render or restore them, or pass --missing hold|black",
) -> FrameSequence:
    """Find the plate files for a pattern, a single file, a folder of frames or an explicit list of files.

    Default frames: every frame from the first to the last found (gaps count as missing); for a
    single numbered file, that frame; for an explicit list, its files. Missing frames raise a
    PlateError (ending in ``gap_hint``: what the command can do) unless ``missing`` is ``"hold"`` or ``"black"``.
    """
    if missing not in MISSING_POLICIES:
        raise PlateError(f"Unknown missing-frame policy {missing!r}: use one of {', '.join(MISSING_POLICIES)}")
    if isinstance(spec, (str, os.PathLike)):
        paths = [Path(spec).expanduser()]
        pattern = _sequence_pattern(os.fspath(spec))
    else:
        paths = [Path(item).expanduser() for item in spec]
        pattern = None
    if pattern is not None:
        files = _scan(pattern)
        if not files:
            raise PlateError(f"No files match {pattern.display_name} in {pattern.directory}; check the path and the frame padding")
        numbered = _numbered(paths[0]) if paths[0].is_file() else None
        found = [numbered[1]] if numbered is not None else sorted(files)
        default = list(range(found[0], found[-1] + 1))
    else:
        files = _explicit_files(paths)
        default = sorted(files)
    bounds = (min(files), max(files)) if missing == "error" else None  # hold / black may pad past the plates
    name = pattern.display_name if pattern is not None else "the plate files"
    wanted = default if frames is None else parse_frame_range(frames, bounds, name)
    sequence = FrameSequence(pattern.printf if pattern else None, tuple(wanted), MappingProxyType(files), missing)
    gaps = sequence.missing()
    if len(gaps) == len(wanted):
        raise PlateError(
            f"{sequence.display_name}: none of the requested frames {compact_frames(wanted)} exist "
            f"(found {compact_frames(sorted(files))}); check --frames"
        )
    if gaps and missing == "error":
        raise PlateError(
            f"{sequence.display_name} is missing frames {compact_frames(gaps)} ({len(gaps)} of {len(wanted)}); {gap_hint}"
        )
    return sequence


def _sequence_pattern(spec: str) -> _Pattern | None:
    """The pattern behind a folder, a pattern string or a numbered file; None for a still without a number."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return _pattern_in_folder(path)
    pattern = _parse_artist_pattern(spec)
    if pattern is not None:
        return pattern
    if not path.is_file():
        raise PlateError(f"Plate not found: {path}")
    numbered = _numbered(path)
    return numbered[0] if numbered is not None else None


def _list_folder(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(folder))
    except OSError as exc:
        raise PlateError(f"Cannot list the plate folder {folder}: {exc.strerror}") from None


def _is_file(entry: os.DirEntry[str]) -> bool:
    """Whether a folder entry is a file, links followed; one that cannot be followed (a link to itself) is a PlateError."""
    try:
        return entry.is_file()
    except OSError as exc:
        raise PlateError(f"{entry.path} cannot be opened ({exc.strerror}: e.g. a symbolic link to itself); fix or remove it") from None


def _scan(pattern: _Pattern) -> dict[int, Path]:
    """Existing files of a pattern, by frame."""
    files: dict[int, Path] = {}
    for entry in _list_folder(pattern.directory):
        frame = pattern.frame_of(entry.name)
        if frame is not None and _is_file(entry):
            files[frame] = Path(entry.path)
    return files


def _written_by_flashdepth(path: Path) -> bool:
    """Whether an image file is one of this project's outputs (its header carries ``flashdepth:`` metadata)."""
    try:
        return "flashdepth:version" in probe(path).metadata
    except PlateError:
        return False


def _pattern_in_folder(folder: Path) -> _Pattern:
    """The one image sequence in a folder. Hidden files, files OpenImageIO cannot read and this project's own
    outputs (depth rendered beside the plates) are ignored."""
    extensions = readable_extensions()
    groups: dict[tuple[str, str], list[str]] = {}
    first_files: dict[tuple[str, str], Path] = {}
    for entry in _list_folder(folder):
        match = _NUMBERED.match(entry.name)
        if match is None or entry.name.startswith(".") or match.group("ext")[1:].lower() not in extensions:
            continue
        if _is_file(entry):
            group = (match.group("head"), match.group("ext"))
            groups.setdefault(group, []).append(match.group("digits"))
            first_files.setdefault(group, Path(entry.path))
    if not groups:
        raise PlateError(f"No numbered image files in folder {folder}; point at a pattern like shot.####.exr")
    outputs = {group for group, path in first_files.items() if _written_by_flashdepth(path)}
    if outputs == set(groups):
        raise PlateError(f"Folder {folder} holds only depth files written by flashdepth-vfx; point at the plates")
    patterns = [_Pattern(folder.absolute(), head, _padding(digits), ext)
                for (head, ext), digits in sorted(groups.items()) if (head, ext) not in outputs]
    if len(patterns) > 1:
        names = ", ".join(p.display_name for p in patterns)
        raise PlateError(f"Folder {folder} holds {len(patterns)} sequences ({names}); name one, e.g. {folder / patterns[0].display_name}")
    return patterns[0]


def _explicit_files(paths: Sequence[Path]) -> dict[int, Path]:
    """An explicit list of files by frame: their own frame numbers when all differ, else 1, 2, 3 …"""
    if not paths:
        raise PlateError("No plate files given")
    for path in paths:
        if not path.is_file():
            raise PlateError(f"Plate not found: {path}")
    numbers = [_numbered(path) for path in paths]
    frame_numbers = {found[1] for found in numbers if found is not None}
    if len(frame_numbers) == len(paths):
        return {found[1]: path.absolute() for found, path in zip(numbers, paths) if found is not None}
    return {index: path.absolute() for index, path in enumerate(paths, start=1)}


def output_pattern(seq: FrameSequence, output: str | None = None, suffix: str = "_depth") -> str:
    """The printf output pattern: beside the plates by default (``shot_depth.%04d.exr``), or as given.

    ``output`` may use any pattern syntax or name a folder (one that exists, ends in a separator or has
    no extension: the default file name goes inside it). The extension is always ``.exr``.
    """
    plate = _plate_pattern(seq)
    head = plate.head.rstrip("._-")
    separator = plate.head[len(head):] or "."
    default = _Pattern(plate.directory, (head + suffix if head else suffix.lstrip("._-")) + separator, plate.padding, _exr_tail(plate.tail))
    if output is None:
        return default.printf
    given = _parse_artist_pattern(output)
    if given is not None:
        return _Pattern(given.directory, given.head, given.padding, _exr_tail(given.tail)).printf
    target = Path(output).expanduser().absolute()
    if target.is_dir() or output.endswith(("/", os.sep)) or not target.suffix:
        return _Pattern(target, default.head, default.padding, default.tail).printf
    if len(seq.frames) == 1:
        return _escape(str(target.with_suffix(".exr")))
    raise OutputError(
        f"Output {output!r} has no frame number but {len(seq.frames)} frames will be written; "
        f"use a pattern like {target.stem}.####.exr or a folder"
    )


def _plate_pattern(seq: FrameSequence) -> _Pattern:
    """The plate pattern as parts; for an explicit list, the first file's (a still gets ``name.%04d``)."""
    if seq.pattern is not None:
        return _parse_printf(seq.pattern)
    first = seq.files[min(seq.files)]
    numbered = _numbered(first)
    return numbered[0] if numbered is not None else _Pattern(first.parent, first.stem + ".", 4, first.suffix)


def _exr_tail(tail: str) -> str:
    """The text after the frame token, with its extension forced to ``.exr``."""
    stem, dot, _ = tail.rpartition(".")
    return (stem if dot else tail) + ".exr"


def frame_path(pattern: str, frame: int) -> Path:
    """printf pattern -> the path of one frame (a pattern without a token names a single file)."""
    has_token = any(m.group(0) != "%%" for m in _PRINTF_TOKEN.finditer(pattern))
    try:
        return Path(pattern % ((frame,) if has_token else ()))
    except (TypeError, ValueError):
        raise PlateError(f"Bad file pattern {pattern!r}: use one frame token like %04d") from None
