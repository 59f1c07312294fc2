"""Fusion comp script: render depth for the selected Loader or MediaIn with flashdepth-vfx, then add a Loader for
the depth beside it. Needs FLASHDEPTH_VFX_PATH = the flashdepth-vfx folder (see resolve/README.md)."""
import os
import sys

_root = os.environ.get("FLASHDEPTH_VFX_PATH", "")
for _path in (_root, os.path.join(_root, "resolve")):
    if _root and _path not in sys.path:
        sys.path.insert(0, _path)

try:
    from flashdepth_resolve import fusion_comp
except ImportError as _exc:
    print(f"FlashDepth: cannot load flashdepth-vfx ({_exc}): set FLASHDEPTH_VFX_PATH to its folder (resolve/README.md)")
else:
    fusion_comp.main(globals())  # Fusion defines comp, fusion and bmd for comp scripts (resolve on the Fusion page)
