"""Docking the depth panel in PySide6 hosts (Nuke 16, Houdini 21). Each function imports its host's
module itself, so this file imports anywhere."""
from __future__ import annotations

from .panel import DepthPanel

NUKE_PANEL_ID = "com.flashdepth-vfx.DepthPanel"
# registerWidgetAsPanel evaluates this string in Nuke's __main__; the expression imports the class
# itself, so it works even when menu.py did not bind `flashdepth_vfx` in that namespace.
_NUKE_WIDGET_EXPRESSION = "__import__('flashdepth_vfx.ui.panel', fromlist=['DepthPanel']).DepthPanel"


def register_nuke_panel(name: str = "FlashDepth") -> None:
    """Add the panel to Nuke's Pane menu (Windows > Custom) and layout restore; call from menu.py."""
    import nukescripts  # type: ignore[import-not-found]  # only inside Nuke; types-nuke has no stubs for it

    nukescripts.panels.registerWidgetAsPanel(_NUKE_WIDGET_EXPRESSION, name, NUKE_PANEL_ID)


def create_houdini_panel() -> DepthPanel:
    """The panel for a Houdini Python Panel (``onCreateInterface`` in houdini/python_panels/flashdepth_vfx.pypanel),
    styled like Houdini's own panes."""
    import hou  # only inside Houdini

    panel = DepthPanel()
    panel.setStyleSheet(hou.qt.styleSheet())
    return panel

