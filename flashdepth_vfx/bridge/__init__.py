"""Host-side bridge to the flashdepth-vfx engine: standard library only, so any host Python
(Nuke, Houdini, Resolve; 3.9+) can import it without torch or numpy.

>>> job = RenderJob(plate="/shots/sh010/plate.####.exr", frames="1001-1010")
>>> result = RenderProcess(job, on_event=print).run()
"""
from __future__ import annotations

from .engine import EngineNotFound, config_path, find_engine
from .job import RenderJob
from .preview import PreviewError, make_preview
from .runner import RenderEvent, RenderProcess, RenderResult

__all__ = [
    "EngineNotFound",
    "PreviewError",
    "RenderEvent",
    "RenderJob",
    "RenderProcess",
    "RenderResult",
    "config_path",
    "find_engine",
    "make_preview",
]
