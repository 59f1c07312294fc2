"""The FlashDepth Python Panel (houdini/python_panels/flashdepth_vfx.pypanel).

The panel (:class:`flashdepth_vfx.ui.panel.DepthPanel`) is PySide6, which Houdini ships from 21.0; Houdinis
with PySide2 (19.5 to 20.5) get a PySide2 label that says so instead of a broken pane.
"""
from __future__ import annotations

import importlib
from typing import Any

PYSIDE2_MESSAGE = ("The FlashDepth panel needs Houdini 21 or newer (PySide6). In this Houdini, use the FlashDepth "
                   "node (Tab menu or shelf) in a COP network: it renders in the background with progress and Cancel.")


def create_interface() -> Any:
    """``onCreateInterface`` of the panel: the depth panel, or a message on a PySide2 Houdini."""
    try:
        importlib.import_module("PySide6.QtWidgets")
    except ImportError:
        widgets = importlib.import_module("PySide2.QtWidgets")
        label = widgets.QLabel(PYSIDE2_MESSAGE)
        label.setWordWrap(True)
        return label
    from flashdepth_vfx.ui.dock import create_houdini_panel

    return create_houdini_panel()
