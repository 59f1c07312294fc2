"""FlashDepth plugin folder (``nuke.pluginAddPath``/``NUKE_PATH``): runs in GUI and terminal sessions and
makes ``flashdepth_vfx`` importable for the node's scripts."""
import flashdepth_nuke

flashdepth_nuke.add_project_path()
