"""FlashDepth plugin folder, GUI sessions: adds *FlashDepth* to the Nodes toolbar and re-checks cached
results whenever a script is opened."""
import sys

import nuke

try:
    import flashdepth_nuke.node as flashdepth_node
except ImportError as exc:
    print(f"FlashDepth: {exc}; set FLASHDEPTH_VFX_PATH to the flashdepth-vfx folder", file=sys.stderr)
else:
    toolbar = nuke.toolbar("Nodes")
    if toolbar is not None:
        toolbar.addMenu("FlashDepth").addCommand("FlashDepth", flashdepth_node.create_node)
    nuke.addOnScriptLoad(flashdepth_node.refresh_all)

try:  # the shared panel docks in PySide6 Nukes (16+); older Nukes only get the node
    from flashdepth_vfx.ui.dock import register_nuke_panel
except ImportError:
    pass
else:
    register_nuke_panel()
