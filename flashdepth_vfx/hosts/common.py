"""What every FlashDepth host node shares: its settings -> a bridge RenderJob, where results go, the
cached-result check that marks a node stale, and a render a host can poll for progress and cancel.

Standard library + :mod:`flashdepth_vfx.bridge` only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import dataclasses
import enum
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

from flashdepth_vfx.bridge import RenderEvent, RenderJob, RenderProcess, RenderResult

DEFAULT = "default"
"""Menu entry that leaves a setting to the engine's own default."""
MODELS = (DEFAULT, "flashdepth", "flashdepth-s", "flashdepth-l")
MODES = ("depth", "disparity", "normalized")
DEVICES = ("auto", "cuda", "cpu", "mps")
PRECISIONS = (DEFAULT, "fp16", "bf16", "fp32")
OUTPUT_SUFFIX = "_depth"
RESULT_FOLDER = "flashdepth"
RENDER_BUTTON = "Render depth"
"""Label of the render button on every host's node (status lines refer to it)."""

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


def _setting(value: str) -> Optional[str]:
    value = value.strip()
    return None if value in ("", DEFAULT) else value


@dataclass
class NodeSettings:
    """A node's settings as the host's knobs/parms hold them: strings, where "" or DEFAULT means unset."""

    plate: str
    output_dir: str
    checkpoint: str = ""
    model: str = DEFAULT
    colorspace: str = ""
    mode: str = MODES[0]
    frames: str = ""
    device: str = DEVICES[0]
    precision: str = DEFAULT

    def job(self) -> RenderJob:
        """The bridge job; a checkpoint file wins over a model name."""
        checkpoint = _setting(self.checkpoint)
        return RenderJob(
            plate=self.plate,
            output=output_pattern(self.plate, self.output_dir),
            frames=_setting(self.frames),
            checkpoint=checkpoint,
            model=None if checkpoint else _setting(self.model),
            colorspace=_setting(self.colorspace),
            mode=_setting(self.mode),
            device=_setting(self.device),
            precision=_setting(self.precision),
        )


@dataclass(frozen=True)
class CachedRender:
    """What a node remembers of its last render (JSON in a hidden knob or the node's user data)."""

    fingerprint: str
    output: str      # printf pattern of the depth frames
    first: int
    last: int
    written: int
    total: int

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Optional[CachedRender]:
        """The stored record, or None when there is none or it is unreadable (an old or hand-edited scene)."""
        try:
            data = json.loads(text) if text else None
            cached = cls(**data) if isinstance(data, dict) else None
        except (ValueError, TypeError):
            return None
        if cached is None:
            return None
        numbers = (cached.first, cached.last, cached.written, cached.total)
        texts = (cached.fingerprint, cached.output)
        if not all(type(n) is int for n in numbers) or not all(isinstance(t, str) for t in texts):
            return None
        return cached

    def frame_file(self, frame: int) -> str:
        return self.output % frame


class CacheState(enum.Enum):
    """How a node's cached result relates to its current settings."""

    NONE = "none"          # never rendered
    FRESH = "fresh"        # rendered with these settings, every frame
    PARTIAL = "partial"    # rendered with these settings, but cancelled part way
    STALE = "stale"        # settings changed since
    MISSING = "missing"    # the files are gone


def cache_state(cached: Optional[CachedRender], job: RenderJob) -> CacheState:
    """Compare the stored render with the job the node's settings make now."""
    if cached is None:
        return CacheState.NONE
    if not os.path.isfile(cached.frame_file(cached.first)):
        return CacheState.MISSING
    if cached.fingerprint != job.fingerprint():
        return CacheState.STALE
    if cached.written < cached.total:
        return CacheState.PARTIAL
    return CacheState.FRESH


def status_line(state: CacheState, cached: Optional[CachedRender]) -> str:
    """The one-line status a node shows for ``state``."""
    if state is CacheState.NONE or cached is None:
        return f"Not rendered yet: press {RENDER_BUTTON}"
    if state is CacheState.MISSING:
        return f"Depth files missing ({cached.frame_file(cached.first)}): press {RENDER_BUTTON}"
    if state is CacheState.STALE:
        return f"Stale: settings changed since the last render; press {RENDER_BUTTON}"
    if state is CacheState.PARTIAL:
        return f"Partial: {cached.written} of {cached.total} frames rendered; press {RENDER_BUTTON} to finish"
    return f"Up to date: {cached.written} frames ({cached.first}-{cached.last}) in {cached.output}"


def summary(result: RenderResult) -> str:
    """One line saying how a render ended."""
    if result.cancelled:
        text = f"Cancelled: {len(result.written)} frames kept"
    elif result.error is not None:
        text = f"Error: {result.error}"
    else:
        text = f"Done: {len(result.written)} frames in {result.output}"
    if result.warnings:
        text += f" ({len(result.warnings)} warnings, last: {result.warnings[-1]})"
    return text


def _int(value: object) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class NodeRender:
    """One render started from a host node. The engine runs through the bridge; this keeps its latest
    progress so the host can poll it from its own thread, and cancel it."""

    def __init__(self, job: RenderJob, engine: Optional[Sequence[str]] = None) -> None:
        self.job = job
        self._process = RenderProcess(job, engine=engine, on_event=self._on_event)
        self._lock = threading.Lock()
        self._fraction: Optional[float] = None
        self._message = "Starting the depth engine"
        self._start: Optional[RenderEvent] = None
        self.cancel_requested = False

    def _on_event(self, event: RenderEvent) -> None:
        with self._lock:
            if event.kind == "start":
                self._start = event
                self._fraction = 0.0
                self._message = f"Rendering {event.data.get('plate')} ({event.total} frames)"
            elif event.kind == "frame":
                self._fraction = event.fraction
                fps = event.data.get("fps")
                speed = f", {fps:.1f} fps" if isinstance(fps, (int, float)) else ""
                self._message = f"Frame {event.frame} ({event.index}/{event.total}){speed}"
            elif event.kind in ("warning", "cancelled", "error") and event.message:
                prefix = "Warning: " if event.kind == "warning" else ""
                self._message = prefix + event.message

    def progress(self) -> Tuple[Optional[float], str]:
        """(fraction done in [0, 1] or None before the first frame, one-line message)."""
        with self._lock:
            return self._fraction, self._message

    def start(self) -> None:
        """Launch the engine (raises :class:`flashdepth_vfx.bridge.EngineNotFound`)."""
        self._process.start()

    def cancel(self) -> None:
        """Ask the engine to stop; finished frames are kept."""
        self.cancel_requested = True
        self._process.cancel()

    def wait(self) -> RenderResult:
        """Wait for the engine to exit and return the result."""
        return self._process.wait()

    def run(
        self,
        report: Callable[[Optional[float], str], None],
        is_cancelled: Callable[[], bool] = lambda: False,
        poll: float = 0.1,
    ) -> RenderResult:
        """Start, then call ``report(fraction, message)`` every ``poll`` seconds until the engine exits,
        cancelling once ``is_cancelled()`` turns true. If ``report`` raises (a host's interrupt), the
        render is cancelled and the exception propagates: call :meth:`wait` for the result."""
        self.start()
        try:
            while self._process.running:
                if not self.cancel_requested and is_cancelled():
                    self.cancel()
                report(*self.progress())
                time.sleep(poll)
        except BaseException:
            self.cancel()
            raise
        result = self.wait()
        report(*self.progress())
        return result

    def cached(self, result: RenderResult) -> Optional[CachedRender]:
        """The record to store on the node for ``result``; None when no frame was written."""
        with self._lock:
            start = self._start
        if start is None or not result.written or result.output is None:
            return None
        first, last, total = (_int(start.data.get(key)) for key in ("first", "last", "total"))
        if first is None or last is None or total is None:
            return None
        return CachedRender(self.job.fingerprint(), result.output, first, last, len(result.written), total)
