"""Fusion comp script: render depth for the selected Loader with flashdepth-vfx, then add a Loader for the
depth sequence beside it. Needs FLASHDEPTH_VFX_PATH = the flashdepth-vfx folder (see resolve/README.md)."""
import os
import sys

_root = os.environ.get("FLASHDEPTH_VFX_PATH", "")
for _path in (_root, os.path.join(_root, "resolve")):
    if _root and _path not in sys.path:
        sys.path.insert(0, _path)

from flashdepth_resolve import fusion_comp  # noqa: E402  (needs the path above)

fusion_comp.main(globals().get("comp"))  # Fusion defines `comp` for comp scripts
