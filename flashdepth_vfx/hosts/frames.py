"""Frame numbers on the host side: frame-range text, and the mapping between a host's timeline (Nuke script
frames, Fusion comp frames) and the file frame numbers the engine reads and writes.

The engine names each depth file after the plate file it came from, so a depth loader lines up with its plate
when it maps time to file frames exactly as the plate's loader does: :class:`ReadTiming` models a Nuke Read
(frame range, ``frame_mode`` start at / offset / expression, ``before`` / ``after`` hold / loop / bounce /
black), :class:`LoaderTiming` a Fusion Loader (``GlobalIn``, trims, hold first / last frame).

Standard library only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Set, Tuple

from flashdepth_vfx.errors import FlashDepthError

# The engine's frame-range grammar (flashdepth_vfx.plates.sequence, which hosts cannot import): A, A-B, A-BxN.
_RANGE_PART = re.compile(r"^(-?\d+)(?:-(-?\d+)(?:x(\d+))?)?$")

START_AT = "start at"
OFFSET = "offset"
EXPRESSION = "expression"
FRAME_MODES = (EXPRESSION, START_AT, OFFSET)
"""Values of a Nuke Read's ``frame_mode`` knob."""
HOLD, LOOP, BOUNCE, BLACK = "hold", "loop", "bounce", "black"
OUT_OF_RANGE = (HOLD, LOOP, BOUNCE, BLACK)
"""Values of a Nuke Read's ``before`` / ``after`` knobs."""


def parse_frames(spec: str) -> List[int]:
    """``"1001-1100"``, ``"1001-1100x2"``, ``"1001, 1005 1010-1020"`` -> ascending unique frames (commas or spaces
    between parts). Raises :class:`FlashDepthError` with a one-line message on anything else."""
    frames: Set[int] = set()
    parts = [part for part in re.split(r"[,\s]+", spec.strip()) if part]
    if not parts:
        raise FlashDepthError("empty frame range: write it like 1001-1100, 1001-1100x2 or 1001,1005,1010-1020")
    for part in parts:
        match = _RANGE_PART.match(part)
        if match is None:
            raise FlashDepthError(
                f"bad frame range {spec!r}: write it like 1001-1100, 1001-1100x2 or 1001,1005,1010-1020")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        step = int(match.group(3)) if match.group(3) is not None else 1
        if last < first:
            raise FlashDepthError(f"frame range {spec!r} runs backwards ({part}): give the first frame first, "
                                  f"{last}-{first}")
        if step < 1:
            raise FlashDepthError(f"bad frame range {spec!r}: the step after x must be 1 or more")
        frames.update(range(first, last + 1, step))
    return sorted(frames)


def format_frames(frames: Iterable[int]) -> str:
    """Frames as the engine's ``--frames`` text: ``[1, 2, 3, 7, 9, 10]`` -> ``"1-3,7,9-10"``."""
    runs: List[List[int]] = []
    for frame in sorted(set(frames)):
        if runs and frame == runs[-1][1] + 1:
            runs[-1][1] = frame
        else:
            runs.append([frame, frame])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _outside(frame: int, first: int, last: int, how: str) -> Optional[int]:
    """The frame shown for ``frame`` outside ``first``-``last`` (None: black)."""
    length = last - first + 1
    if how == HOLD:
        return first if frame < first else last
    if how == LOOP:
        return first + (frame - first) % length
    if how == BOUNCE:  # the range, then the range reversed, and so on (each end shown twice in a row)
        phase = (frame - first) % (2 * length)
        return first + phase if phase < length else last - (phase - length)
    return None


@dataclass(frozen=True)
class ReadTiming:
    """How a Nuke Read maps script frames to the file frames it reads.

    ``first``/``last`` are the file frames of its ``frame range``; ``mode`` and ``value`` its ``frame_mode`` and
    ``frame`` knobs (``""`` mode: no remapping); ``before``/``after`` what it shows outside the range.
    """

    first: int
    last: int
    mode: str = ""
    value: str = ""
    before: str = HOLD
    after: str = HOLD

    def _shift(self) -> int:
        """script frame - file frame, for the start at / offset modes."""
        text = self.value.strip()
        try:
            number = int(float(text)) if text else 0
        except ValueError:
            raise FlashDepthError(f"Read frame {self.mode} value {self.value!r} is not a number: fix the Read's frame knob") from None
        if self.mode == START_AT:
            return number - self.first
        if self.mode == OFFSET:
            return number
        return 0

    def script_range(self) -> Optional[Tuple[int, int]]:
        """(first, last) script frames the file range plays at; None in expression mode (it depends on the
        expression)."""
        if self.mode == EXPRESSION and self.value.strip():
            return None
        shift = self._shift()
        return self.first + shift, self.last + shift

    def file_frame(self, script_frame: int, expression: Optional[Callable[[int], int]] = None) -> Optional[int]:
        """The file frame read at ``script_frame`` (None: black). In expression mode ``expression`` evaluates
        the Read's frame expression at a script frame; the range and before/after then apply to its result."""
        if self.mode == EXPRESSION and self.value.strip():
            if expression is None:
                raise FlashDepthError("a Read in expression frame mode needs its expression evaluated")
            frame = int(round(expression(script_frame)))
        else:
            frame = script_frame - self._shift()
        if frame < self.first:
            return _outside(frame, self.first, self.last, self.before)
        if frame > self.last:
            return _outside(frame, self.first, self.last, self.after)
        return frame

    def file_frames(self, script_frames: Iterable[int],
                    expression: Optional[Callable[[int], int]] = None) -> List[int]:
        """The file frames needed to show ``script_frames`` (ascending, each once, black frames left out)."""
        frames = {self.file_frame(frame, expression) for frame in script_frames}
        return sorted(frame for frame in frames if frame is not None)


@dataclass(frozen=True)
class LoaderTiming:
    """How a Fusion Loader maps comp frames to file frames.

    ``clip_first`` is the file frame of the clip's first file; the Loader shows clip frames ``trim_in`` to
    ``trim_out`` (``ClipTimeStart`` / ``ClipTimeEnd``, counted from 0 at the clip's first file) from comp frame
    ``global_in`` (``GlobalIn``) on; ``hold_first`` / ``hold_last`` (``HoldFirstFrame`` / ``HoldLastFrame``)
    repeat the end frames that many times.
    """

    clip_first: int
    global_in: int
    trim_in: int
    trim_out: int
    hold_first: int = 0
    hold_last: int = 0

    @property
    def global_out(self) -> int:
        """The comp frame of the last frame shown (``GlobalOut``)."""
        return self.global_in + self.hold_first + (self.trim_out - self.trim_in) + self.hold_last

    def file_frames(self) -> List[int]:
        """The file frames the Loader shows, ascending."""
        return list(range(self.clip_first + self.trim_in, self.clip_first + self.trim_out + 1))

    def file_frame(self, comp_frame: int) -> Optional[int]:
        """The file frame shown at ``comp_frame`` (None outside ``GlobalIn``-``GlobalOut``)."""
        if comp_frame < self.global_in or comp_frame > self.global_out:
            return None
        index = comp_frame - self.global_in - self.hold_first
        index = min(max(index, 0), self.trim_out - self.trim_in)
        return self.clip_first + self.trim_in + index

    def for_clip(self, frames: Sequence[int]) -> Optional[LoaderTiming]:
        """The timing for a Loader of another clip, numbered like this one, that holds file frames ``frames``
        (e.g. the rendered depth: a sub-range, starting at its own first file), so that every comp frame shows
        the same file frame number as this Loader does. None when the clips share no frame."""
        if not frames:
            return None
        shown = self.file_frames()
        first = max(shown[0], min(frames))
        last = min(shown[-1], max(frames))
        if first > last:
            return None
        clip_first = min(frames)
        hold_first = self.hold_first if first == shown[0] else 0
        hold_last = self.hold_last if last == shown[-1] else 0
        global_in = self.global_in + (self.hold_first - hold_first) + (first - shown[0])
        return LoaderTiming(clip_first, global_in, first - clip_first, last - clip_first, hold_first, hold_last)


def script_frames(spec: str, default: Sequence[int]) -> List[int]:
    """A node's frame-range knob as frames (its text, or ``default`` when empty)."""
    return parse_frames(spec) if spec.strip() else list(default)
