"""FlashDepth package startup (Houdini runs every pythonrc.py on its path): re-check FlashDepth nodes'
cached results whenever a .hip file is loaded."""
import hou

import flashdepth_houdini.node

hou.hipFile.addEventCallback(flashdepth_houdini.node.on_hip_event)
