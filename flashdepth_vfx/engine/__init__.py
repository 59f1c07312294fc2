"""The render engine: one streaming session per shot, decode ahead, encode behind, snapshots, cancellation.

The progress events (:mod:`.events`) import without torch (the shot solve reports through them); the rest loads
torch on first use.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .events import EventSink, JsonEvents, QuietEvents, RichProgress

if TYPE_CHECKING:
    from .loading import LoadedModel, load_model, resolve_device
    from .pipeline import Render, RenderSummary
    from .settings import RenderSettings

_LAZY = {"LoadedModel": "loading", "load_model": "loading", "resolve_device": "loading", "Render": "pipeline",
         "RenderSummary": "pipeline", "RenderSettings": "settings"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EventSink",
    "JsonEvents",
    "LoadedModel",
    "QuietEvents",
    "Render",
    "RenderSettings",
    "RenderSummary",
    "RichProgress",
    "load_model",
    "resolve_device",
]
