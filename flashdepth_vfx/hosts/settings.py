"""A host node's settings, as its knobs / parms hold them, and the bridge job they make.

Standard library + :mod:`flashdepth_vfx.bridge` only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional, Tuple

from flashdepth_vfx.bridge import RenderJob
from flashdepth_vfx.errors import FlashDepthError

from .paths import output_pattern
from .versions import DepthVersion, legacy_key, settings_key

DEFAULT = "default"
"""Menu entry that leaves a setting to the engine's own default."""
MODELS = (DEFAULT, "flashdepth", "flashdepth-s", "flashdepth-l")
MODES = ("depth", "disparity", "normalized")
DEVICES = ("auto", "cuda", "cpu", "mps")
PRECISIONS = (DEFAULT, "fp16", "bf16", "fp32")
DATA_TYPES = ("float32", "half")
"""How the depth files store values: 32-bit floats, or half floats (``--half``: half the size, about 3 significant
digits)."""
COMPRESSIONS = ("auto", "none", "zip", "zips", "piz", "rle")
"""EXR compressions of the depth files (``--compression``; auto: zip for half floats, none for float32). All are
lossless: the choice changes the file sizes, never the depth, so it is not part of the settings key."""
RENDER_BUTTON = "Render depth"
"""Label of the render button on every host's node (status lines refer to it)."""
PREVIEW_BUTTON = "Preview frame"
"""Label of the button that renders only the current frame (:func:`.controller.preview`)."""
FINISH_BUTTON = "Finish"
"""Label of the button that completes a partial render with the engine's ``--resume``."""


def _setting(value: str) -> Optional[str]:
    value = value.strip()
    return None if value in ("", DEFAULT) else value


@dataclass
class NodeSettings:
    """A node's settings as the host's knobs/parms hold them: strings, where "" or DEFAULT means unset.

    ``frames`` are file frame numbers (hosts map their timeline to them first, see :mod:`.frames`);
    ``colorspace`` / ``ocio_config`` come from :func:`flashdepth_vfx.hosts.colour.engine_colour`.
    """

    plate: str
    output_dir: str
    checkpoint: str = ""
    model: str = DEFAULT
    colorspace: str = ""
    mode: str = MODES[0]
    frames: str = ""
    device: str = DEVICES[0]
    precision: str = DEFAULT
    ocio_config: str = ""
    max_size: str = ""
    """The long side of the model's input in pixels (``--max-size``: less GPU memory, less detail); "", "0" or
    DEFAULT: the model's own."""
    data_type: str = DATA_TYPES[0]
    compression: str = COMPRESSIONS[0]
    extra_args: Tuple[str, ...] = ()
    """More engine options (the shot solve's camera, points and passes: :func:`.camera.solve_args`); part of the
    settings key, so a changed camera or pass makes a new version."""

    def job(self, resume: bool = False) -> RenderJob:
        """The bridge job writing straight into ``output_dir`` (unversioned); a checkpoint file wins over a
        model name. Nodes render :meth:`versioned_job` instead."""
        checkpoint = _setting(self.checkpoint)
        return RenderJob(
            plate=self.plate,
            output=output_pattern(self.plate, self.output_dir),
            frames=_setting(self.frames),
            checkpoint=checkpoint,
            model=None if checkpoint else _setting(self.model),
            colorspace=_setting(self.colorspace),
            ocio_config=_setting(self.ocio_config),
            mode=_setting(self.mode),
            device=_setting(self.device),
            precision=_setting(self.precision),
            resume=resume,
            extra_args=self.output_args() + tuple(self.extra_args),
        )

    def output_args(self) -> Tuple[str, ...]:
        """The engine options of the node's model-input size, file data type and compression (FlashDepthError, one
        line, for a size that is no whole number or a choice the engine does not know)."""
        args: Tuple[str, ...] = ()
        size = _setting(self.max_size)
        if size is not None and size != "0":
            if not size.isdigit():
                raise FlashDepthError(f"max size {size!r}: use a whole number of pixels (e.g. 1024), or 0 for the "
                                      "model's own")
            args += ("--max-size", str(int(size)))
        for name, value, choices in (("data type", self.data_type, DATA_TYPES),
                                     ("compression", self.compression, COMPRESSIONS)):
            if (_setting(value) or choices[0]) not in choices:
                raise FlashDepthError(f"{name} {value!r}: use one of {', '.join(choices)}")
        if _setting(self.data_type) == "half":
            args += ("--half",)
        compression = _setting(self.compression) or COMPRESSIONS[0]
        return args + (("--compression", compression) if compression != COMPRESSIONS[0] else ())

    def key(self) -> str:
        """The settings fingerprint that names this node's depth version (see :func:`.versions.settings_key`)."""
        return settings_key(self.job(), self.output_dir)

    def version(self) -> DepthVersion:
        """Where depth rendered with these settings lives: ``<output_dir>/<key>/<plate>_depth.%04d.exr``; a folder
        named by the :func:`.versions.legacy_key` of these settings (rendered by an earlier release on this machine)
        while there is none of the key."""
        version = DepthVersion.in_folder(self.output_dir, self.key(), self.plate)
        if not os.path.isdir(version.folder):
            legacy = DepthVersion.in_folder(self.output_dir, legacy_key(self.job()), self.plate)
            if os.path.isdir(legacy.folder):
                return legacy
        return version

    def preview(self) -> DepthVersion:
        """Where *Preview frame* renders frames of these settings (never a version)."""
        return DepthVersion.preview_in(self.output_dir, self.key(), self.plate)

    def preview_job(self, frame: int) -> RenderJob:
        """The bridge job rendering file frame ``frame`` into :meth:`preview`."""
        return dataclasses.replace(self.job(), output=self.preview().pattern, frames=str(frame))

    def versioned_job(self, resume: bool = False) -> RenderJob:
        """The bridge job writing into this settings' version folder; ``resume`` finishes a partial render
        there (the engine's ``--resume`` skips the frames already rendered with the same settings)."""
        return dataclasses.replace(self.job(resume=resume), output=self.version().pattern)
