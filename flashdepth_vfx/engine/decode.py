"""The render's decode stage: plates read (and, on a CPU device, colour-converted) by an ordered pool of workers,
then turned into the model's input: uploaded, colour-converted on a GPU device, resized.

Where the colour conversion runs:

- ``--exact-colour``, movies, and CPU devices: OpenColorIO's CPU processor (:class:`DisplayConverter`) in the
  decode workers, in parallel. On a CPU the torch version is several times slower than OCIO's SIMD code
  (measured at 2K on one core: ~100 ms for OCIO's baked ACES 2.0 LUT against ~600 ms for matrix + shaper +
  ``grid_sample``), so "the device" there is OCIO in the workers.
- CUDA / MPS: the plate is read as half floats, uploaded through two pinned staging buffers, and converted by
  :class:`~flashdepth_vfx.engine.device_colour.DeviceDisplayConverter` on the device; on CUDA on the render's upload
  stream, handed to the model's stream by an event (:mod:`.lanes`).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..plates import (
    DisplayConverter,
    FrameSequence,
    PlateInfo,
    guess_colorspace,
    load_config,
    probe,
    read_movie,
    read_plate,
)
from ..plates import cuts
from .device_colour import DeviceDisplayConverter
from .lanes import Lanes
from .pools import OrderedPool
from .settings import RenderSettings


SPARSE_COLOUR_BELOW = 0.6
"""Convert only the pixels the resize reads when they are fewer than this share of the plate."""
CUBIC_A = -0.75
"""The bicubic kernel's parameter in torch's ``F.interpolate(mode="bicubic")``."""


def bicubic_taps(n_in: int, n_out: int) -> np.ndarray:
    """The input indices that bicubic resampling from ``n_in`` to ``n_out`` samples (half-pixel centres, four taps,
    clamped at the edges: what ``F.interpolate(mode="bicubic", align_corners=False)`` reads), ascending."""
    centres = n_in / n_out * (np.arange(n_out) + 0.5) - 0.5
    low = np.floor(centres - 1e-3).astype(np.int64) - 1  # a tap more where rounding could move the floor
    high = np.floor(centres + 1e-3).astype(np.int64) + 2
    taps = np.concatenate([np.arange(a, b + 1) for a, b in zip(low, high)])
    return np.unique(np.clip(taps, 0, n_in - 1))


def bicubic_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """The four input indices (clamped at the edges) and float32 weights of each of ``n_out`` bicubic samples from
    ``n_in`` (half-pixel centres: ``F.interpolate(mode="bicubic", align_corners=False)``'s rule), (n_out, 4) each."""
    real = np.float32(n_in / n_out) * (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5)
    base = np.floor(real)
    t = (real - base).astype(np.float32)
    a = np.float32(CUBIC_A)

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1).astype(np.float32)
    indices = np.clip(base.astype(np.int64)[:, None] + np.arange(-1, 3), 0, n_in - 1)
    return indices, weights


def bicubic_from_taps(block: np.ndarray, rows: np.ndarray, cols: np.ndarray, full: tuple[int, int],
                      size: tuple[int, int]) -> np.ndarray:
    """(3, h, w) bicubic resize of a (H, W) image to ``size``, given only its pixels on ``rows`` x ``cols``
    (``block``: (len(rows), len(cols), 3); the rows and columns :func:`bicubic_taps` names, and any more), clamped
    to [0, 1] as the model's input is. Separable, four taps a side: the pixels never read are never made."""
    (row_index, row_weight), (col_index, col_weight) = bicubic_weights(full[0], size[0]), bicubic_weights(full[1], size[1])
    row_at, col_at = np.searchsorted(rows, row_index), np.searchsorted(cols, col_index)
    assert np.array_equal(rows[row_at], row_index) and np.array_equal(cols[col_at], col_index), "a tap is missing"
    tall = sum(row_weight[:, k, None, None] * block[row_at[:, k]] for k in range(4))  # (h, len(cols), 3)
    out = sum(col_weight[None, :, k, None] * tall[:, col_at[:, k]] for k in range(4))  # (h, w, 3)
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0, out=out).transpose(2, 0, 1))


@dataclass
class DecodedPlate:
    """One plate out of the decode workers."""

    frame: int
    pixels: np.ndarray  # (3, H, W): display sRGB in [0, 1] (float32), or source-space values for ``device_colour``;
    # (3, h, w) when ``plate_size`` is given: already resized to the model's input
    info: PlateInfo | None
    raw: np.ndarray | None = None  # plate RGBA as read, for --passthrough
    notes: list[str] = field(default_factory=list)
    signature: np.ndarray | None = None  # cut-detection histogram (display values), with --reset-on-cut
    device_colour: DeviceDisplayConverter | None = None  # colour still to apply on the device
    plate_size: tuple[int, int] | None = None  # the plate's (height, width), when ``pixels`` is the model's input

    @property
    def size(self) -> tuple[int, int]:
        """Plate data window (height, width)."""
        return self.plate_size or (self.pixels.shape[1], self.pixels.shape[2])


def colour_on_device(settings: RenderSettings, device: torch.device) -> bool:
    """Whether plates are colour-converted on the device (GPUs, unless ``--exact-colour``) or by OCIO in the workers."""
    return device.type in ("cuda", "mps") and not settings.exact_colour


class PlateDecoder:
    """Reads a shot's plates in order through ``workers`` threads and makes the model's inputs."""

    def __init__(self, settings: RenderSettings, seq: FrameSequence | None, movie: Path | None,
                 device: torch.device, workers: int, config: Any = None, lanes: Lanes | None = None) -> None:
        self.settings = settings
        self.seq = seq
        self.movie = movie
        self.device = device
        self.workers = workers
        self.on_device = colour_on_device(settings, device) and seq is not None
        # The render loads the OCIO config up front (a bad one fails before any work) and hands it over.
        self._config = config if config is not None or seq is None else load_config(settings.ocio_config)
        self._converters: dict[str, DisplayConverter | DeviceDisplayConverter] = {}
        self._template: PlateInfo | None = None
        self._lock = threading.Lock()
        self.lanes = lanes or Lanes(device)
        self._model_size: Callable[[int, int], tuple[int, int]] = lambda h, w: (h, w)

    # ------------------------------------------------------------- in the workers
    def _converter(self, space: str) -> DisplayConverter | DeviceDisplayConverter:
        with self._lock:
            if space not in self._converters:
                s = self.settings
                self._converters[space] = (
                    DeviceDisplayConverter(self._config, space, s.display, s.view, self.device) if self.on_device
                    else DisplayConverter(self._config, space, s.display, s.view)
                )
            return self._converters[space]

    def _black(self, frame: int) -> DecodedPlate:
        assert self.seq is not None
        with self._lock:
            if self._template is None:
                self._template = probe(next(iter(self.seq.files.values())), self.settings.part, self.settings.layer)
            template = self._template
        pixels = np.zeros((3, template.height, template.width), np.float32)
        plate = DecodedPlate(frame, pixels, template, notes=[f"frame {frame} is missing: rendered from a black frame"])
        if self.settings.reset_on_cut:
            plate.signature = cuts.signature(pixels.transpose(1, 2, 0))
        return plate

    def decode(self, frame: int) -> DecodedPlate:
        """Read one plate (a worker's job): pixels, notes, and its display conversion unless that runs on the device."""
        s = self.settings
        assert self.seq is not None and self._config is not None
        source = self.seq.source(frame)
        if source is None:  # --missing black
            return self._black(frame)
        plate = read_plate(source, s.part, s.layer, half=self.on_device)
        with self._lock:
            self._template = self._template or plate.info
        notes = []
        if source != self.seq.files.get(frame):
            notes.append(f"frame {frame} is missing: holding {source.name}")
        if plate.nonfinite:
            notes.append(f"frame {frame}: {plate.nonfinite} non-finite pixel values (NaN/Inf) replaced by 0")
        raw = None
        if s.passthrough:
            alpha = plate.alpha if plate.alpha is not None else np.ones(plate.rgb.shape[:2], plate.rgb.dtype)
            raw = np.dstack([plate.rgb, alpha]).astype(np.float32)
        converter = self._converter(guess_colorspace(self._config, plate.info, s.colorspace))
        if isinstance(converter, DeviceDisplayConverter):
            pixels = np.ascontiguousarray(plate.rgb.transpose(2, 0, 1))
            return DecodedPlate(frame, pixels, plate.info, raw, notes, device_colour=converter)
        h, w = plate.rgb.shape[:2]
        size = self._model_size(h, w)
        if size[0] < h and size[1] < w:  # a smaller model input: made here, in parallel, from the pixels it reads
            pixels, signature = self._model_input(converter, plate.rgb, size)
            return DecodedPlate(frame, pixels, plate.info, raw, notes, signature, plate_size=(h, w))
        pixels = np.ascontiguousarray(converter(plate.rgb).transpose(2, 0, 1))
        signature = cuts.signature(pixels.transpose(1, 2, 0)) if s.reset_on_cut else None
        return DecodedPlate(frame, pixels, plate.info, raw, notes, signature)

    def _model_input(self, converter: DisplayConverter, rgb: np.ndarray,
                     size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
        """The (3, h, w) model input of a plate larger than it, and its cut signature with ``--reset-on-cut``.

        When the bicubic resize reads much less than the whole plate, only the pixels it reads (and the cut
        detector's grid) are converted and resized (:func:`bicubic_from_taps`): no full-size display frame is made.
        """
        h, w = rgb.shape[:2]
        rows, cols = bicubic_taps(h, size[0]), bicubic_taps(w, size[1])
        step = max(1, min(h, w) // 64)  # cuts.signature's grid
        grid_rows, grid_cols = np.arange(0, h, step), np.arange(0, w, step)
        if self.settings.reset_on_cut:
            rows, cols = np.union1d(rows, grid_rows), np.union1d(cols, grid_cols)
        if len(rows) * len(cols) >= SPARSE_COLOUR_BELOW * h * w:
            rows, cols = np.arange(h), np.arange(w)
        block = converter(np.take(np.take(rgb, rows, axis=0), cols, axis=1) if len(rows) * len(cols) < h * w else rgb)
        signature = None
        if self.settings.reset_on_cut:
            signature = cuts.signature(block[np.ix_(np.searchsorted(rows, grid_rows), np.searchsorted(cols, grid_cols))])
        return bicubic_from_taps(block, rows, cols, (h, w), size), signature

    # ----------------------------------------------------------- in the reader
    def plates(self, frames: list[int], stopping: Callable[[], bool],
               model_size: Callable[[int, int], tuple[int, int]]) -> Generator[DecodedPlate, None, None]:
        """The decoded plates of ``frames``, in order, for a model input of ``model_size(h, w)``; stops taking new
        frames once ``stopping()``."""
        self._model_size = model_size
        if self.movie is not None:
            wanted = set(frames)
            for number, rgb in read_movie(self.movie):
                if number > frames[-1] or stopping():
                    return
                if number in wanted:
                    signature = cuts.signature(rgb) if self.settings.reset_on_cut else None
                    yield DecodedPlate(number, np.ascontiguousarray(rgb.transpose(2, 0, 1)), None, signature=signature)
            return
        pool = OrderedPool(self.decode, self.workers, ahead=1, name="flashdepth-read")
        for _, plate in pool.map(frames, stopping):
            yield plate

    def model_input(self, plate: DecodedPlate, size: tuple[int, int]) -> tuple[torch.Tensor, Any]:
        """(1, 3, h, w) display sRGB in [0, 1] at the model's ``size``, on the device (colour converted there if due),
        and the event the model's stream waits for before using it (None off CUDA)."""
        with self.lanes.uploading():
            x = self.lanes.to_device(plate.pixels)[None]
            if plate.device_colour is not None:
                x = plate.device_colour(x)
                if self.settings.reset_on_cut:
                    h, w = plate.size
                    step = max(1, min(h, w) // 64)
                    plate.signature = cuts.signature(x[0, :, ::step, ::step].permute(1, 2, 0).float().cpu().numpy())
            if x.shape[-2:] != size:
                x = F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp_(0, 1)
            return x, self.lanes.hand_to_model(x)
