"""FlashDepth plugin folder (``nuke.pluginAddPath``/``NUKE_PATH``): runs in GUI and terminal sessions, makes
``flashdepth_vfx`` importable for the node and puts the node's icon on Nuke's plugin path."""
import os

import nuke

import flashdepth_nuke

flashdepth_nuke.add_project_path()
nuke.pluginAddPath(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(flashdepth_nuke.__file__))), "icons"))
