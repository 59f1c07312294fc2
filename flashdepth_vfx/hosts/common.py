"""Every name the host adapters import from :mod:`flashdepth_vfx.hosts`, in one place (the adapters of the
first release import from here; new code may import from the modules named in :mod:`flashdepth_vfx.hosts`)."""
from __future__ import annotations

from .cached import CachedRender, CacheState, cache_state, status_line
from .colour import NUKE_DEFAULT_CONFIG, NUKE_DEFAULT_SPACES, EngineColour, engine_colour, menu_colorspace
from .export import ExportCache, content_key, file_stamp
from .frames import (
    BLACK, BOUNCE, EXPRESSION, FRAME_MODES, HOLD, LOOP, OFFSET, OUT_OF_RANGE, START_AT,
    LoaderTiming, ReadTiming, format_frames, parse_frames, script_frames,
)
from .paths import (
    IMAGE_EXTENSIONS, OUTPUT_SUFFIX, RESULT_FOLDER, default_output_dir, frame_file, houdini_pattern,
    output_pattern, sequence_frames, sequence_from_frame_file,
)
from .render import BackgroundRender, NodeRender, RenderSlots, error_line, summary
from .settings import DEFAULT, DEVICES, FINISH_BUTTON, MODELS, MODES, PRECISIONS, RENDER_BUTTON, NodeSettings
from .versions import (
    MANIFEST, STATE_COLOURS, DepthState, DepthVersion, NodeStatus, list_versions, node_status, settings_key,
)

__all__ = [
    "BLACK", "BOUNCE", "DEFAULT", "DEVICES", "EXPRESSION", "FINISH_BUTTON", "FRAME_MODES", "HOLD",
    "IMAGE_EXTENSIONS", "LOOP", "MANIFEST", "MODELS", "MODES", "NUKE_DEFAULT_CONFIG", "NUKE_DEFAULT_SPACES",
    "OFFSET", "OUTPUT_SUFFIX", "OUT_OF_RANGE", "PRECISIONS", "RENDER_BUTTON", "RESULT_FOLDER", "START_AT",
    "STATE_COLOURS", "BackgroundRender", "CacheState", "CachedRender", "DepthState", "DepthVersion",
    "EngineColour", "ExportCache", "LoaderTiming", "NodeRender", "NodeSettings", "NodeStatus", "ReadTiming",
    "RenderSlots", "cache_state", "content_key", "default_output_dir", "engine_colour", "error_line",
    "file_stamp", "format_frames", "frame_file", "houdini_pattern", "list_versions", "menu_colorspace",
    "node_status", "output_pattern", "parse_frames", "script_frames", "sequence_frames",
    "sequence_from_frame_file", "settings_key", "status_line", "summary",
]
