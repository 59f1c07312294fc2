"""The render engine: one streaming session per shot, decode ahead, encode behind, snapshots, cancellation."""
from .events import EventSink, JsonEvents, QuietEvents, RichProgress
from .loading import LoadedModel, load_model, resolve_device
from .pipeline import Render, RenderSummary
from .settings import RenderSettings

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
