"""FlashDepth plugin folder, GUI sessions: a *FlashDepth* menu with its icon on the Nodes toolbar, the node's
knob callbacks, and a status check of every FlashDepth node when a script opens."""
import sys

import nuke

ICON = "FlashDepth.png"

try:
    import flashdepth_nuke.node as flashdepth_node
except ImportError as exc:
    print(f"FlashDepth: {exc}; set FLASHDEPTH_VFX_PATH to the flashdepth-vfx folder", file=sys.stderr)
else:
    nuke.menu("Nodes").addMenu("FlashDepth", icon=ICON).addCommand(
        "FlashDepth", flashdepth_node.create_node, icon=ICON)
    flashdepth_node.register_callbacks()

try:  # the shared panel docks in PySide6 Nukes (16+); older Nukes only get the node
    from flashdepth_vfx.ui.dock import register_nuke_panel
except ImportError:
    pass
else:
    register_nuke_panel()
