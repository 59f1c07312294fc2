"""The render: plates are read and colour-converted ahead (a pool of decode workers, :mod:`.decode`), the model
steps through them in order, and depth files are written behind (a pool of encode workers, :mod:`.encode`), every
stage bounded and in frame order (memory stays flat)."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import OutputError, PlateError
from ..hosts.versions import engine_marker_name, rendering_marker
from ..model import DepthStream, GraphedDepthStream, inference_size
from ..model.stream import CaptureError
from ..plates import (
    FrameSequence,
    PlateInfo,
    find_sequence,
    frame_path,
    is_movie,
    load_config,
    movie_frame_count,
    output_pattern,
    parse_frame_range,
    probe,
    write_exr,
)
from ..plates.image_io import read_channels
from ..plates.output_guard import check_outputs
from ..plates import cuts
from . import resume
from .decode import PlateDecoder
from .encode import FrameWriter, exr_compression, half_channels
from .events import EventSink
from .lanes import Lanes
from .loading import LoadedModel, cpu_threads, load_model, resolve_device
from .outputs import PendingOutput, device_output, normalize
from .pools import OrderedPool, default_io_workers
from .settings import RenderSettings
from .snapshots import SnapshotCheck, SnapshotStore
from .tuning import render_tuning

QUEUE_DEPTH = 3
"""Frames decoded ahead of, and waiting to be written behind, the model."""
POLL_S = 0.1
"""How often a waiting stage checks whether the render was cancelled or another stage failed."""
READER_GRACE_S = 1.0
"""How long a stopped render waits for a reader stuck in a plate read before leaving it behind (a daemon thread)."""


@dataclass
class RenderSummary:
    """What a render did."""

    output: str
    written: list[Path] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0


@dataclass
class _Frame:
    """One plate on its way through the pipeline."""

    frame: int
    write: bool
    tensor: torch.Tensor  # (1, 3, h, w) display sRGB in [0, 1] at the model resolution
    info: PlateInfo | None
    size: tuple[int, int]  # plate data window (height, width)
    raw: np.ndarray | None = None  # plate RGBA as read, for --passthrough
    cut: bool = False
    warnings: list[str] = field(default_factory=list)
    output: PendingOutput | None = None  # what is written, on its way back from the device
    signature: np.ndarray | None = None  # the cut detector's, with --reset-on-cut
    ready: Any = None  # on CUDA: the upload stream's event the model's stream waits for before using ``tensor``


class _Stop(Exception):
    """Raised inside a stage when the render is cancelled or another stage failed."""


class Render:
    """One streaming render of one shot. ``run()`` returns a summary or raises a FlashDepthError."""

    def __init__(self, settings: RenderSettings, events: EventSink, cancel: threading.Event | None = None,
                 loaded: LoadedModel | None = None) -> None:
        self.settings = settings
        self.events = events
        self.cancel = cancel or threading.Event()
        self._loaded = loaded
        self._failure: BaseException | None = None
        self._halt = threading.Event()
        self.io_workers = settings.io_workers or default_io_workers()
        self._marker = contextlib.ExitStack()  # the output folder's rendering marker, for the run

    # ----------------------------------------------------------------- planning
    def _sequence(self) -> tuple[FrameSequence | None, Path | None, list[int], list[int]]:
        """(sequence or None, movie path or None, frames to process from the shot start, frames to write)."""
        s = self.settings
        spec = s.plate
        if isinstance(spec, str) and is_movie(spec):
            movie = Path(spec)
            if not movie.is_file():
                raise PlateError(f"{movie}: movie file not found")
            shot = list(range(1, movie_frame_count(movie) + 1))
            wanted = parse_frame_range(s.frames, (1, len(shot)), movie.name) if s.frames else shot
            return None, movie, shot, wanted
        if s.frames:
            everything = find_sequence(spec, missing="black")
            bounds = (min(everything.files), max(everything.files)) if s.missing == "error" else None
            wanted = parse_frame_range(s.frames, bounds, everything.display_name)
            first = min(everything.frames[0], wanted[0])
            seq = find_sequence(spec, frames=f"{first}-{max(wanted)}", missing=s.missing)
        else:
            seq = find_sequence(spec, missing=s.missing)
            wanted = list(seq.frames)
        return seq, None, list(seq.frames), wanted

    def _output_pattern(self, seq: FrameSequence | None, movie: Path | None, wanted: list[int]) -> str:
        if seq is None:
            assert movie is not None
            seq = FrameSequence(str(movie.with_name(movie.stem + ".%04d.exr")), (1,), {}, "error")
        seq = dataclasses.replace(seq, frames=tuple(wanted))  # a single output file is fine for a single frame
        pattern = output_pattern(seq, self.settings.output)
        folder = Path(pattern).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe_file = folder / f".flashdepth-write-test-{os.getpid()}"
            probe_file.write_bytes(b"")
            probe_file.unlink()
        except OSError as exc:
            raise OutputError(f"cannot write to output folder {folder}: {exc.strerror or exc}; choose another --output") from None
        return pattern

    # ------------------------------------------------------------------ stages
    def _reader(self, decoder: PlateDecoder, frames: list[int], write: set[int],
                model_size: Callable[[int, int], tuple[int, int]], out: queue.Queue,
                previous_sig: np.ndarray | None) -> None:
        plates = decoder.plates(frames, self._stopping, model_size)
        try:
            for plate in plates:
                if self._stopping():
                    raise _Stop
                x, ready = decoder.model_input(plate, model_size(*plate.size))
                cut = False
                if plate.signature is not None:
                    cut = previous_sig is not None and cuts.is_cut(previous_sig, plate.signature)
                    previous_sig = plate.signature
                item = _Frame(plate.frame, plate.frame in write, x, plate.info, plate.size, plate.raw, cut, plate.notes,
                              signature=plate.signature, ready=ready)
                self._put(out, item)
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self._failure = self._failure or exc
        finally:
            plates.close()  # drops the frames not started, waits for the decodes running
            self._put(out, None, force=True)

    def _writer(self, writer: FrameWriter, total: int, inbox: queue.Queue, summary: RenderSummary) -> None:
        pool: OrderedPool[_Frame, Path | None] = OrderedPool(writer, self.io_workers, ahead=1, name="flashdepth-write")
        index = 0
        try:
            for item, path in pool.map_queue(inbox):
                for note in item.warnings:
                    self.events.warning(note, item.frame)
                if path is not None:
                    summary.written.append(path)
                    index += 1
                    self.events.frame(item.frame, index, total, str(path))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self._failure = self._failure or exc
            while inbox.get() is not None:  # drain so the model thread never blocks
                pass

    def _stopping(self) -> bool:
        return self.cancel.is_set() or self._halt.is_set() or self._failure is not None

    def _next(self, q: queue.Queue) -> Any:
        """The next item, or None as soon as the render stops (a stage that died never blocks the others)."""
        while True:
            try:
                return q.get(timeout=POLL_S)
            except queue.Empty:
                if self._stopping():
                    return None

    def _put(self, q: queue.Queue, item: Any, force: bool = False) -> None:
        """Put, giving up when the render stops (unless ``force``: the end-of-stream marker always goes in)."""
        while True:
            try:
                q.put(item, timeout=POLL_S)
                return
            except queue.Full:
                if not force and self._stopping():
                    raise _Stop from None

    # --------------------------------------------------------------------- run
    def run(self) -> RenderSummary:
        """Render the shot; raises FlashDepthError (one line) on bad input or output."""
        with cpu_threads(self.settings.threads), self._marker:
            return self._render()

    def _render(self) -> RenderSummary:
        t0 = time.perf_counter()
        s = self.settings
        seq, movie, shot, wanted = self._sequence()
        pattern = self._output_pattern(seq, movie, wanted)
        plates = [movie] if movie is not None else seq.plate_paths(wanted) if seq is not None else []
        check_outputs([(frame_path(pattern, f), "depth") for f in wanted], [*plates, s.checkpoint, s.ocio_config], s.overwrite)
        # Before the model loads (seconds to minutes of writing nothing): pruning leaves a folder being rendered alone.
        self._marker.enter_context(rendering_marker(str(Path(pattern).parent), engine_marker_name()))
        config = load_config(s.ocio_config) if seq is not None else None  # a bad config fails here, before any work
        device = resolve_device(s.device)
        if s.io_workers is None and device.type == "cuda":
            self.io_workers = default_io_workers(feeding_device=True)
        loaded = self._loaded or load_model(s.checkpoint, s.model, device, s.precision,
                                                s.teacher_resolution, s.compile, s.cuda_graphs)
        colour_id = resume.colour_id(s.ocio_config) if config is not None else ""
        key = s.state_key(loaded.identity, f"{resume.source_id(seq, movie)}@{shot[0]}", colour_id,
                          loaded.precision)
        output_key = s.output_key(key)
        chain = resume.source_chain(seq, movie, shot[: shot.index(wanted[-1]) + 1])
        store = SnapshotStore(Path(pattern).parent, key, self.events.warning)
        resume.remove_stale_temporaries(pattern)
        store.remove_stale_temporaries()
        summary = RenderSummary(pattern)

        done = resume.finished_frames(pattern, wanted, output_key, chain, s.channel, self.cancel) if s.resume else set()
        summary.skipped = sorted(done)
        to_write = [f for f in wanted if f not in done]
        name = seq.display_name if seq is not None else (movie.name if movie else "")
        self.events.start(name, pattern, wanted[0], wanted[-1], len(to_write))
        if not to_write:
            self._finish_normalized(pattern, wanted, output_key)
            self.events.done(0, pattern)
            summary.seconds = time.perf_counter() - t0
            return summary

        # Where the stream starts: the shot start, the latest good snapshot before the first frame to write, or
        # (farm chunks) a cold start `warmup` frames early.
        first = to_write[0]
        stream = loaded.stream()
        start_index = 0
        save_snapshots = s.warmup is None
        previous_sig = None
        if s.warmup is not None:
            start_index = max(0, shot.index(first) - s.warmup)
        else:
            check = SnapshotCheck(stream.state_shapes(), chain, {f: i + 1 for i, f in enumerate(chain)}, s.reset_on_cut)
            snap = store.restore_point(first, check)
            if snap is not None:
                stream.restore(snap.state)
                previous_sig = snap.cut_signature
                start_index = shot.index(snap.frame) + 1
        frames = shot[start_index: shot.index(to_write[-1]) + 1]

        cfg = loaded.model.cfg
        max_side = s.max_side(cfg.min_side, cfg.max_side)

        def model_size(h: int, w: int) -> tuple[int, int]:
            try:
                return inference_size(h, w, max_side, cfg.min_side, loaded.model.patch_size)
            except PlateError as exc:
                raise PlateError(f"{name}: {exc}") from None

        # CUDA graphs: the shot's frame size is captured here, before the reader and writer threads make any CUDA
        # call; a frame of another size later runs eagerly (no capture while they run).
        lanes = Lanes(stream.device)  # made on this thread: the model's stream is this thread's
        if isinstance(stream, GraphedDepthStream):
            stream = self._prepare_graphs(stream, loaded, self._first_size(seq, movie, frames, model_size))
        inbox: queue.Queue = queue.Queue(QUEUE_DEPTH)
        outbox: queue.Queue = queue.Queue(QUEUE_DEPTH)
        decoder = PlateDecoder(s, seq, movie, stream.device, self.io_workers, config, lanes)
        reader = threading.Thread(target=self._reader, name="flashdepth-read", daemon=True,
                                  args=(decoder, frames, set(to_write), model_size, inbox, previous_sig))
        writer = threading.Thread(target=self._writer, name="flashdepth-write", daemon=True,
                                  args=(FrameWriter(s, pattern, loaded, key, output_key, chain), len(to_write), outbox,
                                        summary))
        reader.start()
        writer.start()
        last_frame: int | None = None
        last_sig: np.ndarray | None = previous_sig
        uncaptured: set[tuple[int, ...]] = set()
        try:
            with torch.inference_mode(), render_tuning(stream.device, s.attention):
                while True:
                    item: _Frame | None = self._next(inbox)
                    if item is None or self.cancel.is_set() or self._failure is not None:
                        break
                    if item.cut and stream.frames_seen:
                        stream.reset()
                        item.warnings.append(f"hard cut before frame {item.frame}: temporal state restarted")
                    lanes.wait_for(item.ready)
                    shape = tuple(item.tensor.shape)
                    if isinstance(stream, GraphedDepthStream) and not stream.graphed(shape) and shape not in uncaptured:
                        uncaptured.add(shape)
                        item.warnings.append(f"frame {item.frame}: {shape[-1]}x{shape[-2]} model input, not the shot's "
                                             "first size: frames of this size run without CUDA graphs")
                    out = stream.step(item.tensor)
                    if item.write:
                        item.output = device_output(out[0], item.size, s.mode, s.depth_scale, s.half, lanes)
                    item.tensor = torch.empty(0)
                    last_frame, last_sig = item.frame, item.signature
                    if save_snapshots and (shot.index(item.frame) + 1) % max(s.snapshot_every, 1) == 0:
                        store.save(item.frame, stream.snapshot(), chain[item.frame], last_sig)
                    self._put(outbox, item)
        except _Stop:
            pass
        except Exception as exc:  # noqa: BLE001 - raised below, after the other stages have stopped
            self._failure = self._failure or exc
        finally:
            self._halt.set()  # the reader stops at its next frame
            self._put(outbox, None, force=True)
            writer.join()
            deadline = time.monotonic() + READER_GRACE_S
            while reader.is_alive() and time.monotonic() < deadline:  # unblock a reader waiting on a full queue
                try:
                    inbox.get(timeout=POLL_S)
                except queue.Empty:
                    pass
        if save_snapshots and last_frame is not None and self._failure is None:
            # the hand-over point for resume and chained chunks
            store.save(last_frame, stream.snapshot(), chain[last_frame], last_sig)
        if self._failure is not None:
            raise self._failure
        summary.seconds = time.perf_counter() - t0
        if self.cancel.is_set():
            summary.cancelled = True
            kept = len(summary.written)
            at = f" at frame {last_frame}" if last_frame is not None else ""
            self.events.cancelled(kept, f"Cancelled{at}; {kept} frames written, finished frames kept")
            return summary
        self._finish_normalized(pattern, wanted, output_key)
        self.events.done(len(summary.written), pattern)
        return summary

    def _first_size(self, seq: FrameSequence | None, movie: Path | None, frames: list[int],
                    model_size: Callable[[int, int], tuple[int, int]]) -> tuple[int, int] | None:
        """The model input size of the first frame to process (from its header), or None where it is not known
        before reading (movies)."""
        if seq is None:
            return None
        source = seq.source(frames[0]) or next(iter(seq.files.values()), None)
        if source is None:
            return None
        info = probe(source, self.settings.part, self.settings.layer)
        return model_size(info.height, info.width)

    def _prepare_graphs(self, stream: GraphedDepthStream, loaded: LoadedModel,
                        size: tuple[int, int] | None) -> DepthStream:
        """``stream`` with the shot's frame size captured, and sealed; an eager stream in the same state, after one
        warning, when the capture fails (or the size is not known before reading)."""
        if size is not None:
            try:
                with torch.inference_mode(), render_tuning(stream.device, self.settings.attention):
                    stream.prepare((1, 3, *size))
                stream.seal()
                return stream
            except CaptureError as exc:
                self.events.warning(f"{exc.summary}: rendering without CUDA graphs")
        eager = loaded.model.stream()
        eager.restore(stream.snapshot())
        return eager

    def _finish_normalized(self, pattern: str, wanted: list[int], output_key: str) -> None:
        """Second pass of ``--mode normalized``: rescale every frame of the shot to the shot's disparity range.

        The shot is every output frame of this pattern written with the same output key, not only the frames of
        this run: a partial rerun (``--frames``, ``--resume``) keeps the shot's range, or widens it for all frames.
        """
        s = self.settings
        if s.mode != "normalized":
            return
        frames = set(wanted)
        if frame_path(pattern, 0) != frame_path(pattern, 1):  # a frame pattern: the shot's other frames too
            try:
                frames.update(find_sequence(pattern, missing="black").files)
            except PlateError:
                pass
        infos = []
        for f in sorted(frames):
            try:
                info = probe(frame_path(pattern, f))
            except PlateError:
                continue
            if info.metadata.get("flashdepth:output_key") == output_key:
                infos.append((f, info))
        lo = min(float(i.metadata["flashdepth:disparity_min"]) for _, i in infos)
        hi = max(float(i.metadata["flashdepth:disparity_max"]) for _, i in infos)
        for f, info in infos:
            path = frame_path(pattern, f)
            if info.metadata.get("flashdepth:mode") == "normalized" and info.metadata.get("flashdepth:range_min") == lo \
                    and info.metadata.get("flashdepth:range_max") == hi:
                continue
            channels = read_channels(path)
            disparity = channels[s.channel]
            if info.metadata.get("flashdepth:mode") == "normalized":
                disparity = disparity * (float(info.metadata["flashdepth:range_max"]) - float(info.metadata["flashdepth:range_min"])) \
                    + float(info.metadata["flashdepth:range_min"])
            channels[s.channel] = normalize(disparity, lo, hi)
            meta = dict(info.metadata)
            meta.update({"flashdepth:mode": "normalized", "flashdepth:range_min": lo, "flashdepth:range_max": hi})
            write_exr(path, channels, like=info, metadata=meta, half=s.half, compression=exr_compression(s),
                      half_channels=half_channels(s))
