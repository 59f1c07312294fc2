"""DaVinci Resolve script (Workspace > Scripts): render depth for the clip under the playhead with
flashdepth-vfx and import the depth sequence into the media pool. Needs FLASHDEPTH_VFX_PATH = the
flashdepth-vfx folder (see resolve/README.md)."""
import os
import sys

_root = os.environ.get("FLASHDEPTH_VFX_PATH", "")
for _path in (_root, os.path.join(_root, "resolve")):
    if _root and _path not in sys.path:
        sys.path.insert(0, _path)

try:
    from flashdepth_resolve import timeline
except ImportError as _exc:
    print(f"FlashDepth: cannot load flashdepth-vfx ({_exc}): set FLASHDEPTH_VFX_PATH to its folder (resolve/README.md)")
else:
    timeline.main(globals())  # Resolve defines resolve, fusion and bmd for its scripts
