"""Procedural training/test video with exact ground-truth depth (numpy only; no torch here).

:func:`render_sequence` renders a :class:`SceneConfig`; :func:`write_plate_sequence` / :func:`write_depth_sequence`
turn the result into EXR plates. A torch ``Dataset`` over random scenes lives in :mod:`flashdepth_vfx.data.dataset`.
"""
from flashdepth_vfx.data.exr import write_depth_sequence, write_plate_sequence
from flashdepth_vfx.data.procedural import SceneConfig, SyntheticSequence, render_sequence

__all__ = ["SceneConfig", "SyntheticSequence", "render_sequence", "write_depth_sequence", "write_plate_sequence"]
