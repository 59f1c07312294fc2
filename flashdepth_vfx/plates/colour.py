"""Colour management with OpenColorIO: plate pixels -> display-referred sRGB in [0, 1].

The model was trained on display-referred sRGB frames, so every plate goes through an OCIO
display/view: the config's default display and, unless one is named, the view the config's viewing
rules pick for the source colour space (in the ACES studio config: "ACES 2.0 - SDR 100 nits" for
scene-linear and log plates, "Video (colorimetric)" - an identity for sRGB - for sRGB-encoded ones).

Speed: OCIO's ACES 2.0 output transform costs about a second per 2K frame on one CPU core even
when optimised. When a processor contains such a fixed-function step, the converter bakes that step
(and everything after it) into a 65³ 3D LUT behind a log2 shaper; the cheap steps before it (matrices,
log curves) stay exact. ``exact=True`` keeps the full processor.
"""
from __future__ import annotations

import difflib
import os
import threading

import numpy as np
import PyOpenColorIO as OCIO

from flashdepth_vfx.errors import ColourError
from flashdepth_vfx.plates.image_io import PlateInfo

BUILTIN_CONFIG = "ocio://studio-config-latest"
# How configs commonly name the sRGB-encoded texture space that 8/16-bit files are assumed to be in.
_SRGB_NAMES = ("srgb_tx", "sRGB - Texture", "Utility - sRGB - Texture", "sRGB", "srgb_texture", "srgb")
_SLOW_TRANSFORMS = (OCIO.FixedFunctionTransform,)
_OCIO_ERRORS = (OCIO.Exception, OCIO.ExceptionMissingFile)  # the second is not a subclass of the first
LUT_SIZE = 65
SHAPER_LOG2_RANGE = (-12.0, 8.0)  # scene-linear 0 .. 256 through a log2 shaper (offset 2^-12 keeps 0 exact)

_processors: dict[tuple[str, str, str, str, bool], tuple[OCIO.CPUProcessor, bool]] = {}
_processors_lock = threading.Lock()


def config_source(path: str | None = None) -> str:
    """The config :func:`load_config` reads: ``path``, else ``$OCIO``, else the built-in studio config."""
    return path or os.environ.get("OCIO") or BUILTIN_CONFIG


def load_config(path: str | None = None) -> OCIO.Config:
    """The OCIO config at ``path``, else ``$OCIO``, else OCIO's built-in studio config.

    With ``$OCIO`` unset OCIO itself would hand back a raw config with colour management off, so the
    built-in studio config is named explicitly.
    """
    source = config_source(path)
    try:
        return OCIO.Config.CreateFromFile(source)
    except _OCIO_ERRORS as exc:
        raise ColourError(f"Cannot load the OCIO config {source}: {_one_line(exc)}; check --ocio-config or $OCIO") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _config_label(config: OCIO.Config) -> str:
    return f"OCIO config {config.getName()!r}" if config.getName() else "the OCIO config"


def _resolve_colorspace(config: OCIO.Config, name: str) -> str:
    """A colour space name, alias or role -> the config's colour space name, or ColourError with close matches."""
    canonical = config.getCanonicalName(name)
    if canonical:
        return canonical
    known = list(config.getColorSpaceNames())
    known += [alias for space in config.getColorSpaces() for alias in space.getAliases()]
    known += list(config.getRoleNames())
    by_lower = {candidate.lower(): candidate for candidate in known}
    matches = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.5)]
    hint = f"close matches: {', '.join(matches)}" if matches else "run `ociocheck` to list its colour spaces"
    raise ColourError(f"Unknown colour space {name!r} in {_config_label(config)}; {hint}")


def guess_colorspace(config: OCIO.Config, info: PlateInfo, override: str | None = None) -> str:
    """The plate's colour space: ``override``, else the file's own hint if the config knows it, else the
    config's scene_linear role for float files and its sRGB texture space for 8/16-bit integer files."""
    if override:
        return _resolve_colorspace(config, override)
    if info.colorspace and config.getCanonicalName(info.colorspace):
        return config.getCanonicalName(info.colorspace)
    if info.is_float:
        name = config.getCanonicalName(OCIO.ROLE_SCENE_LINEAR)
        what = "scene_linear role"
    else:
        name = next((config.getCanonicalName(n) for n in _SRGB_NAMES if config.getCanonicalName(n)), "")
        what = "sRGB colour space"
    if not name:
        raise ColourError(f"{_config_label(config)} has no {what} for {info.path.name}; pass --colorspace")
    return name


def resolve_display_view(config: OCIO.Config, colorspace: str, display: str | None = None,
                         view: str | None = None) -> tuple[str, str, str]:
    """(colour space, display, view) as the config names them: the config's default display, the view its
    viewing rules pick for the colour space; ColourError naming the alternatives for unknown names."""
    colorspace = _resolve_colorspace(config, colorspace)
    display = display or config.getDefaultDisplay()
    displays = list(config.getDisplays())
    if display not in displays:
        raise ColourError(f"Unknown display {display!r} in {_config_label(config)}; it has: {', '.join(displays)}")
    view = view or config.getDefaultView(display, colorspace)
    if not config.hasView(display, view):
        views = ", ".join(config.getViews(display))
        raise ColourError(f"Unknown view {view!r} for display {display!r}; it has: {views}")
    return colorspace, display, view


def display_steps(config: OCIO.Config, colorspace: str, display: str, view: str) -> list[OCIO.Transform]:
    """The optimised steps (matrices, curves, fixed functions, LUTs) of a display/view conversion, in order."""
    try:
        processor = config.getProcessor(OCIO.DisplayViewTransform(src=colorspace, display=display, view=view))
        return list(processor.getOptimizedProcessor(OCIO.OPTIMIZATION_DEFAULT).createGroupTransform())
    except _OCIO_ERRORS as exc:
        raise ColourError(f"Cannot build the colour conversion {colorspace!r} -> {display!r}/{view!r}: {_one_line(exc)}") from None


def is_slow(step: OCIO.Transform) -> bool:
    """Whether a step is one OCIO evaluates slowly on a CPU (the ACES 2.0 output transform), and is baked."""
    return isinstance(step, _SLOW_TRANSFORMS)


def shaped_lut(config: OCIO.Config, steps: list[OCIO.Transform], size: int = LUT_SIZE) -> np.ndarray:
    """``steps`` sampled on a ``size``³ grid behind the log2 shaper (:data:`SHAPER_LOG2_RANGE`, offset 2^low):
    float32 (size, size, size, 3) indexed [red, green, blue] in shaper space."""
    low, high = SHAPER_LOG2_RANGE
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3).copy()  # red index slowest
    unshape = OCIO.AllocationTransform(OCIO.ALLOCATION_LG2, [low, high, 2.0 ** low], OCIO.TRANSFORM_DIR_INVERSE)
    config.getProcessor(unshape).getDefaultCPUProcessor().applyRGB(grid)
    config.getProcessor(OCIO.GroupTransform(steps)).getDefaultCPUProcessor().applyRGB(grid)
    return grid.reshape(size, size, size, 3)


class DisplayConverter:
    """Converts plate pixels from a colour space to display-referred sRGB in [0, 1] (what the model was trained on)."""

    def __init__(self, config: OCIO.Config, colorspace: str, display: str | None = None,
                 view: str | None = None, exact: bool = False) -> None:
        self.colorspace, self.display, self.view = resolve_display_view(config, colorspace, display, view)
        self._processor, self.uses_lut = _cpu_processor(config, self.colorspace, self.display, self.view, exact)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """float32 (H, W, 3) in the source colour space -> a new float32 (H, W, 3) array, display sRGB clipped to [0, 1]."""
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) array, got shape {rgb.shape}")
        pixels = np.array(rgb, dtype=np.float32, order="C", copy=True)
        self._processor.applyRGB(pixels)
        return np.clip(pixels, 0.0, 1.0, out=pixels)


def _cpu_processor(config: OCIO.Config, colorspace: str, display: str, view: str, exact: bool) -> tuple[OCIO.CPUProcessor, bool]:
    """The (cached) fast CPU processor for a display/view and whether it uses a baked LUT."""
    key = (config.getCacheID(), colorspace, display, view, exact)
    with _processors_lock:
        cached = _processors.get(key)
    if cached is not None:
        return cached
    steps = display_steps(config, colorspace, display, view)
    try:
        processor = config.getProcessor(OCIO.DisplayViewTransform(src=colorspace, display=display, view=view))
        slow = next((i for i, step in enumerate(steps) if is_slow(step)), None)
        if exact or slow is None:
            built = (processor.getOptimizedCPUProcessor(OCIO.BIT_DEPTH_F32, OCIO.BIT_DEPTH_F32, OCIO.OPTIMIZATION_DEFAULT), False)
        else:
            built = (_bake(config, steps, slow), True)
    except _OCIO_ERRORS as exc:
        raise ColourError(f"Cannot build the colour conversion {colorspace!r} -> {display!r}/{view!r}: {_one_line(exc)}") from None
    with _processors_lock:
        _processors[key] = built
    return built


def _bake(config: OCIO.Config, steps: list[OCIO.Transform], split: int) -> OCIO.CPUProcessor:
    """Exact ``steps[:split]``, then ``steps[split:]`` sampled into a 3D LUT over a log2 shaper (scene-linear input)."""
    low, high = SHAPER_LOG2_RANGE
    lut = OCIO.Lut3DTransform(gridSize=LUT_SIZE, interpolation=OCIO.INTERP_TETRAHEDRAL)
    lut.setData(shaped_lut(config, steps[split:]).ravel())
    shaper = OCIO.AllocationTransform(OCIO.ALLOCATION_LG2, [low, high, 2.0 ** low])
    baked = OCIO.GroupTransform(steps[:split] + [shaper, lut])
    return config.getProcessor(baked).getOptimizedCPUProcessor(OCIO.BIT_DEPTH_F32, OCIO.BIT_DEPTH_F32, OCIO.OPTIMIZATION_DEFAULT)
