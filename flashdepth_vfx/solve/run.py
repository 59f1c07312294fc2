"""One shot solve, from files to files: read a disparity sequence (and plates, a camera, points, anchors), fit, write.

Two passes over the disparity frames: the first samples them at the references (and checks every frame for NaN), the
fit runs on the whole shot, the second writes the solved frames atomically (:func:`~flashdepth_vfx.plates.write_exr`)
with the raw file's windows and metadata plus the per-frame solve. The raw files are never written. With
``resume``, frames already solved with the same settings and inputs are skipped, wherever the show is mounted (the
key holds what the inputs are, not where: see :data:`UNKEYED_SETTINGS`). Everything that can be wrong with the inputs is
checked before the first frame is written.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from flashdepth_vfx import __version__
from flashdepth_vfx.engine.resume import (  # the engine's rules (torch is not loaded)
    colour_id, file_fingerprint, remove_stale_temporaries, source_id,
)
from flashdepth_vfx.errors import Cancelled, OptionError, PlateError, SolveError, check_cancel
from flashdepth_vfx.hosts.versions import engine_marker_name, rendering_marker
from flashdepth_vfx.plates import cuts as cut_detection  # the engine's own detector
from flashdepth_vfx.plates.image_io import PlateInfo, probe, read_channels, write_exr
from flashdepth_vfx.plates.output_guard import OutputKind, check_outputs
from flashdepth_vfx.plates.sequence import (
    MISSING_POLICIES, FrameSequence, compact_frames, find_sequence, frame_path, output_pattern,
)
from flashdepth_vfx.solve.cameras import Camera, load_camera, parse_filmback
from flashdepth_vfx.solve.defaults import FAR_PER_REFERENCE, NUKE_ROTATION_ORDER, PHASES, SMOOTHNESS
from flashdepth_vfx.solve.fit import ShotFit, frames_without_references, solve_shot
from flashdepth_vfx.solve.observations import Observations, anchor_observations, inside_image, point_observations
from flashdepth_vfx.solve.passes import (
    DEPTH_MODES, N_CHANNELS, P_CHANNELS, SPACES, camera_points, depth_channel, depth_from_inverse,
    normals_from_depth, to_space,
)
from flashdepth_vfx.solve.points import Anchors, read_anchors, read_points
from flashdepth_vfx.solve.report import report_files

CACHE_BYTES = 1 << 30
"""Disparity frames read by the first pass are kept for the second up to this many bytes (1 GiB: ~100 2K frames)."""
WRITERS, WRITES_AHEAD = 2, 4
"""Solved frames are compressed and written by WRITERS threads, at most WRITES_AHEAD waiting (as the engine writes)."""
RAW_ONLY = frozenset({"flashdepth:state_key", "flashdepth:output_key", "flashdepth:source",
                      "flashdepth:disparity_min", "flashdepth:disparity_max",
                      "flashdepth:range_min", "flashdepth:range_max", "flashdepth:depth_scale"})
"""Raw-render metadata that would be wrong on a solved frame (the render's resume keys: carried, a ``render
--resume`` onto the solved frames would keep them as its own; value ranges); the rest is carried."""
UNRELIABLE_SPREAD = 0.1
"""Robust spread of the references' relative residuals above which the solve warns (10%: the disparity's shape is
wrong, not only its scale)."""
HALF_MAX = 65504.0
"""The largest half float: ``--half`` writes larger depth (a scene in millimetres: 65 m) or positions as infinity."""
INPUT_CHANNELS = ("depth.Z", "Z", "depth.Y", "Y", "R")
"""Channels tried in order for the disparity when ``channel`` is not given."""
UNKEYED_SETTINGS = frozenset({"disparity", "output", "plates", "ocio_config", "camera", "points", "anchors",
                              "report", "resume", "overwrite"})
"""Settings left out of the solve's resume key: the files are in it by what they are (raw frames and plates by file
name and content fingerprint, the OCIO config, camera, points and anchors by content), never by where the show is
mounted; the outputs and the run's own switches not at all. Every other setting is in it."""


@dataclass(frozen=True)
class SolveSettings:
    """What ``flashdepth-vfx solve`` (or ``render --camera ...``) does. Paths are as the artist typed them."""

    disparity: str
    output: str | None = None
    plates: str | None = None
    missing: str = "error"  # gaps in the plates: error, hold (the previous plate) or black, as render --missing
    part: str | None = None  # how the plates are read and seen (render's options of these names)
    layer: str | None = None
    colorspace: str | None = None
    ocio_config: str | None = None
    display: str | None = None
    view: str | None = None
    frames: str | None = None
    channel: str | None = None
    camera: str | None = None
    camera_prim: str | None = None
    frame_offset: float = 0.0
    focal: float | None = None
    filmback: str | None = None
    fov: float | None = None
    rotation_order: str = NUKE_ROTATION_ORDER
    points: tuple[str, ...] = ()
    anchors: str | None = None
    anchor_origin: str = "top-left"
    stabilize: bool = False
    cuts: tuple[int, ...] = ()
    detect_cuts: bool = True
    smoothness: float = SMOOTHNESS
    mode: str | None = None  # depth / distance / inverse; None: depth when solving to scene units
    position: str | None = None  # None, "world" or "camera"
    normals: str | None = None
    out_channel: str = "depth.Z"
    depth_scale: float = 100.0  # without references, --mode depth writes depth_scale / disparity (as render does)
    far: float | None = None  # None: FAR_PER_REFERENCE times the references' median depth
    half: bool = False
    passthrough: bool = False  # also write the disparity files' other channels (render --passthrough's plate)
    resume: bool = False
    overwrite: bool = False  # replace existing files flashdepth-vfx did not write (never an input)
    report: str | None = None

    def __post_init__(self) -> None:
        """Refuse values no solve can use (OptionError naming the option): a NaN or negative one would write NaN,
        zero or sky-everywhere frames and exit 0."""
        for option, value in (("--smoothness", self.smoothness), ("--far", self.far),
                              ("--depth-scale", self.depth_scale), ("--focal", self.focal)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise OptionError(f"{option} {value}: use a finite number above 0")
        if self.missing not in MISSING_POLICIES:
            raise OptionError(f"--missing {self.missing!r}: use one of {', '.join(MISSING_POLICIES)}")
        if not math.isfinite(self.frame_offset):
            raise OptionError(f"--frame-offset {self.frame_offset}: use a finite number of frames")
        if not self.out_channel or self.out_channel != self.out_channel.strip():
            raise OptionError(f"--out-channel {self.out_channel!r}: use a channel name like depth.Z")
        for option, space, names in (("--position", self.position, P_CHANNELS), ("--normals", self.normals, N_CHANNELS)):
            if space is not None and self.out_channel in names:
                raise OptionError(f"--out-channel {self.out_channel} is a channel {option} writes: the depth would be "
                                  "lost; use another name, e.g. depth.Z")


def solve_outputs(pattern: str, frames: Iterable[int], report: str | None) -> list[tuple[Path, OutputKind]]:
    """What a solve writes, for the output guard: its frames of ``pattern`` and the report's JSON and chart."""
    outputs: list[tuple[Path, OutputKind]] = [(frame_path(pattern, f), "depth") for f in frames]
    if report is not None:
        json_path, png_path = report_files(report)
        outputs += [(json_path, "solve-report"), (png_path, "solve-plot")]
    return outputs


@dataclass
class SolveSummary:
    """What a solve did."""

    output: str
    frames: list[int]
    written: list[Path] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    fit: ShotFit | None = None
    stabilization: Any = None
    cuts: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False
    phase: str = ""  # the phase (a key of PHASES) running when the solve ended or was cancelled

    def cancel_message(self) -> str:
        """One line for a cancelled solve: where it stopped, what was kept, how to finish."""
        kept = len(self.written)
        return (f"Solve cancelled while {PHASES.get(self.phase, self.phase)}; {kept} solved frame{'s' * (kept != 1)} "
                f"written and kept; run the same command with --resume to finish")


class _Frames(Sequence[np.ndarray]):
    """A lazy sequence of frames read on access (the stabiliser walks it in order; nothing is held)."""

    def __init__(self, count: int, read: Callable[[int], np.ndarray]) -> None:
        self._count, self._read = count, read

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return self._read(index % self._count)


def _pick_channel(channels: dict[str, np.ndarray], wanted: str | None, path: Path) -> np.ndarray:
    if wanted is not None:
        if wanted not in channels:
            raise PlateError(f"{path} has no channel {wanted!r} (it has {', '.join(channels)}); check --channel")
        return channels[wanted]
    for name in INPUT_CHANNELS:
        if name in channels:
            return channels[name]
    raise PlateError(f"{path} has none of the channels {', '.join(INPUT_CHANNELS)} (it has {', '.join(channels)}); "
                     "name the disparity with --channel")


def read_disparity(path: Path, channel: str | None) -> np.ndarray:
    """One disparity frame; NaN or infinite values are a one-line error naming the file."""
    frame = _pick_channel(read_channels(path), channel, path)
    bad = int(frame.size - np.count_nonzero(np.isfinite(frame)))
    if bad:
        raise PlateError(f"{path}: {bad} NaN/infinite disparity values; re-render that frame before solving")
    return frame


def other_channels(path: Path, channel: str | None) -> dict[str, np.ndarray]:
    """Every channel of a disparity file but the disparity: the plate's RGBA that ``render --passthrough`` wrote."""
    channels = read_channels(path)
    name = channel if channel is not None else next((n for n in INPUT_CHANNELS if n in channels), None)
    return {key: value for key, value in channels.items() if key != name}


def _check_mode(settings: SolveSettings, metric: bool, camera: Camera | None) -> str:
    mode = settings.mode or ("depth" if metric else "disparity")
    if mode != "disparity" and mode not in DEPTH_MODES:
        raise SolveError(f"Unknown --mode {mode!r}: use one of {', '.join(DEPTH_MODES)} or disparity")
    if metric and mode == "disparity":
        raise SolveError("--mode disparity is the stabilised relative disparity; with references use --mode inverse "
                         "(1/Z in scene units)")
    if not metric and mode not in ("disparity", "depth"):
        raise SolveError(f"--mode {mode} needs scene units: give --camera with --points, or --anchors "
                         "(--stabilize alone writes stabilised disparity, or depth_scale / disparity)")
    for name, space in (("--position", settings.position), ("--normals", settings.normals)):
        if space is None:
            continue
        if space not in SPACES:
            raise SolveError(f"Unknown {name} space {space!r}: use world or camera")
        if not metric or camera is None:
            raise SolveError(f"{name} needs scene units and a lens: --camera (or --focal / --fov) with references")
        if space == "world" and camera.poses is None:
            raise SolveError(f"{name} world needs a camera track (USD or .chan); use {name} camera with a bare lens")
    if mode == "distance" and camera is None:
        raise SolveError("--mode distance needs the lens: --camera, --focal or --fov")
    return mode


def _input_stamp(paths: Sequence[Path]) -> list[str]:
    """File name (not folder: another mount is the same file) and fingerprint (the engine's
    :func:`~flashdepth_vfx.engine.resume.file_fingerprint`: size, modification time, sampled blocks) of each input
    file: a changed input invalidates resumed frames."""
    return [f"{path.name}:{file_fingerprint(path)}" for path in paths]


def _references_digest(camera: Camera | None, points: np.ndarray | None, anchors: Anchors | None) -> str:
    """A hash of the camera, points and anchors as loaded: a camera changed in a layer its USD file only refers to
    (a sublayer, a reference) changes no file stamp of the inputs, but changes this."""
    digest = hashlib.blake2b(digest_size=16)
    if camera is not None:
        lens = camera.lens
        digest.update(repr((camera.frames, camera.up_axis, camera.meters_per_unit)).encode())
        for values in (lens.focal, lens.h_aperture, lens.v_aperture, lens.h_offset, lens.v_offset, camera.poses):
            digest.update(b"-" if values is None else np.ascontiguousarray(values, np.float64).tobytes())
    digest.update(b"|" if points is None else np.ascontiguousarray(points, np.float64).tobytes())
    if anchors is not None:
        digest.update(anchors.kind.encode())
        for values in (anchors.frames, anchors.xy, anchors.values):
            digest.update(np.ascontiguousarray(values, np.float64).tobytes())
    return digest.hexdigest()


class ShotSolve:
    """One solve. ``run()`` returns a :class:`SolveSummary` or raises a one-line FlashDepthError.

    ``warn`` receives warnings (frames without references, stabiliser notes); ``progress`` (done, total) after every
    written frame; ``phase`` (name, index, total) as each phase (a key of :data:`PHASES`) starts and takes on each
    frame. Once ``cancel`` is set the solve stops within a frame's work (writes under way finish, none is started):
    ``run()`` returns a summary with ``cancelled`` set, the frames written so far kept for ``resume``.
    """

    def __init__(self, settings: SolveSettings, warn: Callable[[str], None] | None = None,
                 progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None,
                 phase: Callable[[str, int, int], None] | None = None) -> None:
        self.settings = settings
        self._warn_sink = warn
        self._progress = progress
        self._phase_sink = phase
        self.cancel = cancel or threading.Event()
        self._phase = "start"
        self._warnings: list[str] = []
        self._plate_seq: FrameSequence | None = None
        self._far = math.inf  # the sky's depth (scene units): set once the references are read
        self._colour = ""  # the OCIO config by content when the plates are read (their colour feeds flow and cuts)

    def _step(self, phase: str, index: int = 0, total: int = 1) -> None:
        """Phase ``phase`` takes on item ``index`` of ``total``: the cancel point of every loop of the solve."""
        self._phase = phase
        if self._phase_sink is not None:
            self._phase_sink(phase, index, total)
        check_cancel(self.cancel)

    def _warn(self, message: str) -> None:
        self._warnings.append(message)
        if self._warn_sink is not None:
            self._warn_sink(message)

    # ---------------------------------------------------------------------------------------------- inputs
    def _sequence(self) -> tuple[FrameSequence, list[int], list[Path]]:
        seq = find_sequence(self.settings.disparity, frames=self.settings.frames,
                            gap_hint="render them again (render --resume), or solve the frames on each side with --frames")
        frames = list(seq.frames)
        return seq, frames, [seq.files[f] for f in frames]

    def _output(self, seq: FrameSequence, files: list[Path]) -> str:
        """The output pattern, after the output guard (:func:`~flashdepth_vfx.plates.output_guard.check_outputs`):
        no solved frame or report is an input, and none replaces a file flashdepth-vfx did not write unless
        ``overwrite``."""
        s = self.settings
        pattern = output_pattern(seq, s.output, suffix="_solved")
        outputs = solve_outputs(pattern, seq.frames, s.report)
        plates: list[Path] = []
        if s.plates is not None:  # every plate, and the names the solve's frames have in the plates' pattern
            self._plate_seq = find_sequence(s.plates, missing="black")
            plates = self._plate_seq.plate_paths(seq.frames)
        check_outputs(outputs, [*seq.files.values(), *plates, s.camera, s.anchors, *s.points, s.ocio_config],
                      s.overwrite)
        return pattern

    def _plates(self, frames: list[int]) -> Callable[[int], np.ndarray] | None:
        if self.settings.plates is None:
            return None
        from flashdepth_vfx.plates.colour import DisplayConverter, guess_colorspace, load_config
        from flashdepth_vfx.plates.image_io import read_plate

        assert self._plate_seq is not None  # found by _output: every plate file (gaps outside the frames allowed)
        plates = replace(self._plate_seq, missing_policy=self.settings.missing)
        missing = [f for f in frames if f not in plates.files]
        if missing and self.settings.missing == "error":
            raise SolveError(f"{plates.display_name} has no plate for frames {compact_frames(missing)}; the plates "
                             "must cover the disparity frames (or pass --missing hold|black, as the render had)")
        s = self.settings
        config = load_config(s.ocio_config)
        self._colour = colour_id(s.ocio_config)  # OCIO's cache ID holds the config's path
        converters: dict[str, DisplayConverter] = {}

        def read(frame: int) -> np.ndarray:
            path = plates.source(frame)  # a gap: the previous plate (hold), or None (black)
            if path is None:
                return np.zeros_like(read(next(iter(plates.files))))
            plate = read_plate(path, s.part, s.layer)
            space = guess_colorspace(config, plate.info, s.colorspace)
            if space not in converters:
                converters[space] = DisplayConverter(config, space, s.display, s.view)
            return converters[space](plate.rgb)

        return read

    def _cuts(self, frames: list[int], read_plate: Callable[[int], np.ndarray] | None) -> list[int]:
        """Indices of frames that start a new shot: given (plate frame numbers) and detected on the plates."""
        given = set(self.settings.cuts)
        outside = sorted(given - set(frames))
        if outside:
            raise SolveError(f"--cut frames {compact_frames(outside)} are not in the shot "
                             f"({compact_frames(frames)})")
        found = {frames.index(f) for f in given}
        if read_plate is not None and self.settings.detect_cuts:
            previous = None
            for index, frame in enumerate(frames):
                self._step("cuts", index, len(frames))
                signature = cut_detection.signature(read_plate(frame))
                if previous is not None and cut_detection.is_cut(previous, signature):
                    found.add(index)
                previous = signature
        return sorted(found - {0})

    # ------------------------------------------------------------------------------------------------- run
    def run(self) -> SolveSummary:
        """Solve the shot and write it (see the class docstring for cancelling)."""
        seq, frames, files = self._sequence()
        summary = SolveSummary(self._output(seq, files), frames, warnings=self._warnings)
        try:
            # Pruning leaves the folder alone while the solve reads and fits (minutes of writing nothing).
            with rendering_marker(str(Path(summary.output).parent), engine_marker_name()):
                self._run(summary, seq, files)
        except Cancelled:
            summary.cancelled = True
        summary.phase = self._phase
        return summary

    def _run(self, summary: SolveSummary, seq: FrameSequence, files: list[Path]) -> None:
        s = self.settings
        self._step("start")
        pattern, frames = summary.output, summary.frames
        # Fingerprinted before anything is read: an input changed while the solve runs leaves frames --resume redoes.
        # (The camera, points and anchors count by their content as loaded: _references_digest.)
        plates = [] if self._plate_seq is None else [self._plate_seq.files[f] for f in frames
                                                     if f in self._plate_seq.files]
        stamp = _input_stamp([*files, *plates])
        headers = []
        for path in files:
            check_cancel(self.cancel)
            headers.append(probe(path))
        self._check_one_render(headers, frames)
        info = headers[0]
        height, width = info.height, info.width
        origin = (info.x - info.full_x, info.y - info.full_y)
        if s.passthrough:
            self._check_passthrough(files[0], info)

        camera = load_camera(s.camera, frames, prim_path=s.camera_prim, frame_offset=s.frame_offset, focal=s.focal,
                             filmback=parse_filmback(s.filmback), fov=s.fov, rotation_order=s.rotation_order)
        points = np.concatenate([read_points(p) for p in s.points]) if s.points else None
        anchors = read_anchors(s.anchors, info.full_height, s.anchor_origin) if s.anchors else None
        if anchors is not None:  # pixels of the display window (the format) -> of the data window the frames hold
            anchors = replace(anchors, xy=anchors.xy - np.asarray(origin, anchors.xy.dtype))
            off = np.isin(anchors.frames, frames) & ~inside_image(anchors.xy, height, width)
            if off.any():
                self._warn(f"{anchors.source}: {int(off.sum())} anchor(s) on frames "
                           f"{compact_frames(sorted({int(f) for f in anchors.frames[off]}))} lie outside the "
                           f"{info.full_width}x{info.full_height} plate's pixels and are ignored; check the anchors' "
                           "resolution and --anchor-origin")
        if points is not None and (camera is None or camera.poses is None):
            raise SolveError("--points need a camera track to project them: add --camera (USD or .chan)")
        if anchors is not None and anchors.kind == "distance" and camera is None:
            raise SolveError(f"{anchors.source} gives distances along the ray: the lens is needed (--camera, "
                             "--focal or --fov), or name the column z for camera-space depth")
        metric = points is not None or anchors is not None
        if not metric and not s.stabilize:
            raise SolveError("Nothing to solve against: give --camera with --points, --anchors, or --stabilize")
        mode = _check_mode(s, metric, camera)

        def intrinsics(index: int) -> np.ndarray | None:
            if camera is None:
                return None
            return camera.lens.matrix(index, info.full_width, info.full_height, info.pixel_aspect, origin)

        read_plate = self._plates(frames)
        if s.stabilize and read_plate is None:
            raise SolveError("--stabilize needs --plates: the optical flow runs on the plates")
        cuts = self._cuts(frames, read_plate)
        summary.cuts = [frames[c] for c in cuts]

        def load(index: int) -> np.ndarray:
            frame = read_disparity(files[index], s.channel)
            if frame.shape != (height, width):
                raise PlateError(f"{files[index]} is {frame.shape[1]}x{frame.shape[0]} but {files[0].name} is "
                                 f"{width}x{height}; all frames of a shot must have one size")
            return frame

        stabilization = None
        if s.stabilize:
            assert read_plate is not None
            stabilization = self._stabilize(frames, load, read_plate, cuts)
            summary.stabilization = stabilization

        cache: dict[int, np.ndarray] = {}  # frames read by the first pass, kept for the second within CACHE_BYTES
        first_pass = [metric]

        def disparity(index: int) -> np.ndarray:
            if index in cache:
                return cache.pop(index)
            frame = load(index)
            frame = frame if stabilization is None else stabilization.apply(index, frame)
            if first_pass[0] and (len(cache) + 1) * frame.nbytes <= CACHE_BYTES:
                cache[index] = frame
            return frame

        fit = None
        if metric:
            observations = self._observe(frames, disparity, camera, intrinsics, points, anchors, cuts)
            first_pass[0] = False
            self._step("fit")
            fit = solve_shot(observations, cuts, s.smoothness, cancel=self.cancel)
            self._far = self._sky_depth(observations)
            summary.fit = fit
            if fit.sigma > UNRELIABLE_SPREAD:
                self._warn(f"the references disagree with the disparity by {100 * fit.sigma:.0f}% (robust spread): "
                           "the depth is unreliable where no point constrains it; check the points and the camera")
        key = self._key(seq, stamp, _references_digest(camera, points, anchors), mode)
        done = self._done(pattern, frames, key) if s.resume else set()
        self._check_other_solves(pattern, frames, key)
        summary.skipped = sorted(done)
        meta_common: dict[str, Any] = {
            "flashdepth:version": __version__,
            "flashdepth:solve_key": key,
            "flashdepth:solve_settings": json.dumps({k: v for k, v in asdict(s).items() if v not in (None, (), False)},
                                                    sort_keys=True),
            "flashdepth:mode": mode,
            "flashdepth:solve_cuts": json.dumps(summary.cuts),
        }
        if fit is not None:
            meta_common["flashdepth:far"] = self._far
        if camera is not None:
            meta_common.update({"flashdepth:camera": camera.source, "flashdepth:up_axis": camera.up_axis,
                                "flashdepth:meters_per_unit": camera.meters_per_unit})
        writes: deque[tuple[Path, Future[None]]] = deque()

        def finish(block: bool) -> None:
            """Collect finished writes in order (all of them with ``block``); a failed write raises here."""
            while writes and (block or writes[0][1].done() or len(writes) > WRITES_AHEAD):
                target, future = writes.popleft()
                future.result()
                summary.written.append(target)
                if self._progress is not None:
                    self._progress(len(summary.written), len(frames) - len(done))

        todo = [(index, frame) for index, frame in enumerate(frames) if frame not in done]
        remove_stale_temporaries(pattern)  # of a solve killed outright (kill -9, a lost farm node)
        pool = ThreadPoolExecutor(WRITERS, thread_name_prefix="flashdepth-solve-write")
        overflow: set[Path] = set()  # frames whose solved values a half float cannot hold
        try:
            for count, (index, frame) in enumerate(todo):
                self._step("write", count, len(todo))
                channels = self._passes(disparity(index), index, fit, mode, camera, intrinsics(index))
                if s.half and max(float(np.abs(values).max()) for values in channels.values()) > HALF_MAX:
                    overflow.add(frame_path(pattern, frame))
                if s.passthrough:
                    channels = {**other_channels(files[index], s.channel), **channels}
                meta = self._frame_metadata(meta_common, frame, index, fit, stabilization)
                raw = headers[index]
                carried = {k: v for k, v in raw.metadata.items() if k not in RAW_ONLY}
                target = frame_path(pattern, frame)
                writes.append((target, pool.submit(write_exr, target, channels, like=replace(raw, metadata=carried),
                                                   metadata=meta, half=s.half)))
                finish(block=False)
            finish(block=True)
        finally:  # cancelled or failed: writes not started are dropped, those under way finish and are kept
            pool.shutdown(wait=True, cancel_futures=True)
            summary.written += [target for target, future in writes
                                if not future.cancelled() and future.exception() is None]
            infinite = [frame for frame in frames if frame_path(pattern, frame) in overflow.intersection(summary.written)]
            if infinite:
                self._warn(f"frames {compact_frames(infinite)} hold values beyond a half float's {HALF_MAX:g}, written as "
                           "infinity with --half: solve them again without --half (or in larger scene units)")
        summary.report = build_report(summary)
        if s.report is not None:
            from flashdepth_vfx.solve.report import write_report

            write_report(summary.report, s.report)

    def _check_one_render(self, headers: list[PlateInfo], frames: list[int]) -> None:
        """Warn when the raw frames come from renders with other settings (their ``flashdepth:output_key``): a render
        stopped half way over an older one, a forced farm solve after failed chunks. The fit ties them into one
        shot; their depth jumps where the renders meet."""
        keys = [header.metadata.get("flashdepth:output_key") for header in headers]
        counts = Counter(key for key in keys if key is not None)
        if len(counts) > 1:
            usual = counts.most_common(1)[0][0]
            odd = [frame for frame, key in zip(frames, keys) if key is not None and key != usual]
            self._warn(f"{Path(self.settings.disparity).name} frames {compact_frames(odd)} were rendered with other "
                       "settings (model, checkpoint, colour or output) than the rest: the solve fits them as one shot; "
                       "render them again with the shot's settings (render --resume), then solve again")

    def _sky_depth(self, observations: list[Observations]) -> float:
        """The depth written for the sky: ``--far``, else :data:`FAR_PER_REFERENCE` times the references' median
        depth; a reference beyond an explicit ``--far`` is named (its surface would be written as sky)."""
        inverse = np.concatenate([obs.inverse_depth for obs in observations])
        inverse = inverse[np.isfinite(inverse) & (inverse > 0)]
        far = self.settings.far
        if not inverse.size:
            return far if far is not None else math.inf
        if far is None:
            return FAR_PER_REFERENCE / float(np.median(inverse))
        farthest = 1.0 / float(inverse.min())
        if farthest > far:
            self._warn(f"references lie up to {farthest:.4g} scene units away, beyond --far {far:g}: surfaces that "
                       f"far are written as {far:g} (sky); raise --far or leave it out")
        return far

    def _check_passthrough(self, path: Path, info: PlateInfo) -> None:
        """``--passthrough`` carries the raw file's other channels: none may be one the solve writes (the plate's
        channel would silently become depth)."""
        s = self.settings
        source = s.channel if s.channel is not None else next((n for n in INPUT_CHANNELS if n in info.channels), None)
        written = {s.out_channel, *(P_CHANNELS if s.position else ()), *(N_CHANNELS if s.normals else ())}
        clash = sorted(written & (set(info.channels) - {source}))
        if clash:
            raise OptionError(f"--passthrough carries {', '.join(clash)} from {path}, and the solve writes "
                              f"{', '.join(clash)}: choose another --out-channel (e.g. depth.Z), or leave out --passthrough")

    @staticmethod
    def _frame_metadata(common: dict[str, Any], frame: int, index: int, fit: ShotFit | None,
                        stabilization: Any) -> dict[str, Any]:
        """The shot-wide metadata plus this frame's solve (a, b, reference counts, residual) and stabilisation."""
        meta = dict(common, **{"flashdepth:frame": frame})
        if fit is not None:
            meta.update({
                "flashdepth:solve_a": float(fit.scale[index]), "flashdepth:solve_b": float(fit.shift[index]),
                "flashdepth:solve_points": int(fit.points[index]), "flashdepth:solve_inliers": int(fit.inliers[index]),
                "flashdepth:solve_residual": float(fit.residual[index]) if math.isfinite(fit.residual[index]) else -1.0,
            })
        if stabilization is not None:
            meta.update({"flashdepth:stabilize_scale": float(stabilization.scale[index]),
                         "flashdepth:stabilize_shift": float(stabilization.shift[index])})
        return meta

    # ---------------------------------------------------------------------------------------------- stages
    def _stabilize(self, frames: list[int], load: Callable[[int], np.ndarray],
                   read_plate: Callable[[int], np.ndarray], cuts: list[int]) -> Any:
        try:
            from flashdepth_vfx.solve.stabilize import stabilize
        except ImportError as exc:
            raise SolveError(f"--stabilize is not available: {exc}") from None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = stabilize(_Frames(len(frames), load), _Frames(len(frames), lambda i: read_plate(frames[i])), cuts,
                               cancel=self.cancel, progress=lambda index, total: self._step("stabilize", index, total))
        for item in caught:
            self._warn(str(item.message))
        return result

    def _observe(self, frames: list[int], disparity: Callable[[int], np.ndarray], camera: Camera | None,
                 intrinsics: Callable[[int], np.ndarray | None], points: np.ndarray | None,
                 anchors: Anchors | None, cuts: list[int]) -> list[Observations]:
        observations = []
        behind_everywhere = points is not None
        for index, frame in enumerate(frames):
            self._step("references", index, len(frames))
            image = disparity(index)
            obs = Observations.empty()
            if points is not None:
                lens = intrinsics(index)
                assert camera is not None and lens is not None
                found = point_observations(points, camera.world_to_camera(frame), lens, image)
                behind_everywhere &= found.behind == len(points)
                obs = obs + found
            if anchors is not None:
                obs = obs + anchor_observations(anchors, frame, image, intrinsics(index))
            observations.append(obs)
        if behind_everywhere and anchors is None and points is not None:
            raise SolveError(f"All {len(points)} points are behind the camera in every frame: check the camera's "
                             "axes, units and --frame-offset")
        empty, dead = frames_without_references(observations, cuts)
        if dead:
            spans = ", ".join(compact_frames(frames[a:b]) for a, b in dead)
            raise SolveError(f"No point or anchor is visible anywhere in frames {spans}: nothing ties them to the "
                             "scene; add anchors there or check the camera and --frame-offset")
        if empty:
            self._warn(f"frames {compact_frames([frames[i] for i in empty])} have no visible point or anchor; "
                       "their solve is interpolated from the neighbouring frames")
        return observations

    def _passes(self, disparity: np.ndarray, index: int, fit: ShotFit | None, mode: str, camera: Camera | None,
                intrinsics: np.ndarray | None) -> dict[str, np.ndarray]:
        s = self.settings
        if fit is None:
            # render's depth mode (engine.outputs.to_depth, not imported: the engine package loads torch)
            relative = s.depth_scale / np.maximum(disparity, 1e-2) if mode == "depth" else disparity
            return {s.out_channel: relative.astype(np.float32)}
        z = depth_from_inverse(np.float32(fit.scale[index]) * disparity + np.float32(fit.shift[index]), self._far)
        channels = {s.out_channel: depth_channel(z, mode, intrinsics)}
        if s.position is None and s.normals is None:
            return channels
        assert camera is not None and intrinsics is not None
        cam_points = camera_points(z, intrinsics)
        pose = None if camera.poses is None else camera.poses[index]
        if s.position is not None:
            p = to_space(cam_points, pose, s.position, points=True)
            channels.update({name: p[..., i] for i, name in enumerate(P_CHANNELS)})
        if s.normals is not None:
            n = to_space(normals_from_depth(z, intrinsics), pose, s.normals, points=False)
            channels.update({name: n[..., i] for i, name in enumerate(N_CHANNELS)})
        return channels

    def _key(self, seq: FrameSequence, stamp: list[str], references: str, mode: str) -> str:
        """The solved frames' resume key: every setting but :data:`UNKEYED_SETTINGS`, the raw frames' and plates' file
        name patterns and fingerprints, the references and the OCIO config by content. No folder is in it."""
        settings = {k: v for k, v in asdict(self.settings).items() if k not in UNKEYED_SETTINGS}
        plates = None if self._plate_seq is None else source_id(self._plate_seq, None)
        payload = json.dumps({"settings": settings, "disparity": source_id(seq, None), "plates": plates,
                              "inputs": stamp, "references": references, "colour": self._colour, "mode": mode,
                              "version": __version__}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def _check_other_solves(self, pattern: str, frames: list[int], key: str) -> None:
        """Warn when the output already holds solved frames, outside the frames solved now, of another solve run
        (other frames, settings or inputs: a ``--frames`` part of a solved shot, a frame whose raw file is gone):
        they are kept, and the sequence then mixes two fits."""
        try:
            existing = find_sequence(pattern, missing="black").files
        except PlateError:
            return  # no solved frame there yet
        odd = []
        for frame in sorted(set(existing) - set(frames)):
            check_cancel(self.cancel)
            try:
                other = probe(existing[frame]).metadata.get("flashdepth:solve_key")
            except PlateError:
                continue
            if other is not None and other != key:
                odd.append(frame)
        if odd:
            self._warn(f"{Path(pattern).name} frames {compact_frames(odd)} come from another solve run (other frames, "
                       "settings or inputs) and are kept: the sequence mixes two fits; solve the whole shot in one "
                       "run, or delete them")

    def _done(self, pattern: str, frames: list[int], key: str) -> set[int]:
        """Frames whose solved file was written with ``key`` and decodes (a truncated or damaged one is redone)."""
        done = set()
        for index, frame in enumerate(frames):
            self._step("resume", index, len(frames))
            path = frame_path(pattern, frame)
            if path.is_file():
                try:
                    if (probe(path).metadata.get("flashdepth:solve_key") == key
                            and self.settings.out_channel in read_channels(path)):
                        done.add(frame)
                except PlateError:
                    continue  # damaged: solve it again
        return done


def build_report(summary: SolveSummary) -> dict[str, Any]:
    """The per-frame solve as a JSON-ready dict (NaN as None)."""
    def clean(values: Any) -> list[Any]:
        return [None if isinstance(v, float) and not math.isfinite(v) else v for v in np.asarray(values).tolist()]

    report: dict[str, Any] = {"output": summary.output, "frames": summary.frames, "cuts": summary.cuts,
                              "warnings": summary.warnings}
    if summary.fit is not None:
        fit = summary.fit
        report["fit"] = {"a": clean(fit.scale), "b": clean(fit.shift), "points": clean(fit.points),
                         "inliers": clean(fit.inliers), "residual": clean(fit.residual), "sigma": fit.sigma}
    if summary.stabilization is not None:
        report["stabilize"] = {"scale": clean(summary.stabilization.scale), "shift": clean(summary.stabilization.shift)}
    return report

