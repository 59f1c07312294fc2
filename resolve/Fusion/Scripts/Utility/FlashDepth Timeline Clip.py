"""DaVinci Resolve script (Workspace > Scripts): render depth for the clip under the playhead with
flashdepth-vfx and import the depth sequence into the media pool. Needs FLASHDEPTH_VFX_PATH = the
flashdepth-vfx folder (see resolve/README.md)."""
import os
import sys

_root = os.environ.get("FLASHDEPTH_VFX_PATH", "")
for _path in (_root, os.path.join(_root, "resolve")):
    if _root and _path not in sys.path:
        sys.path.insert(0, _path)

from flashdepth_resolve import timeline  # noqa: E402  (needs the path above)

timeline.main()
