"""A host node's settings, as its knobs / parms hold them, and the bridge job they make.

Standard library + :mod:`flashdepth_vfx.bridge` only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional, Tuple

from flashdepth_vfx.bridge import RenderJob

from .paths import output_pattern
from .versions import DepthVersion, legacy_key, settings_key

DEFAULT = "default"
"""Menu entry that leaves a setting to the engine's own default."""
MODELS = (DEFAULT, "flashdepth", "flashdepth-s", "flashdepth-l")
MODES = ("depth", "disparity", "normalized")
DEVICES = ("auto", "cuda", "cpu", "mps")
PRECISIONS = (DEFAULT, "fp16", "bf16", "fp32")
RENDER_BUTTON = "Render depth"
"""Label of the render button on every host's node (status lines refer to it)."""
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
            extra_args=tuple(self.extra_args),
        )

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

    def versioned_job(self, resume: bool = False) -> RenderJob:
        """The bridge job writing into this settings' version folder; ``resume`` finishes a partial render
        there (the engine's ``--resume`` skips the frames already rendered with the same settings)."""
        return dataclasses.replace(self.job(resume=resume), output=self.version().pattern)
