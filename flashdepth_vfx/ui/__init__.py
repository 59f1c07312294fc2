"""PySide6 user interface: :class:`~flashdepth_vfx.ui.panel.DepthPanel`, a standalone window
(:func:`~flashdepth_vfx.ui.app.main`) and docking helpers for Nuke and Houdini (:mod:`.dock`).

Importing this package does not import Qt; import the submodules for that.
"""
