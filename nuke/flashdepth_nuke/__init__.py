"""FlashDepth for Nuke. :mod:`flashdepth_nuke.node` holds the FlashDepth Group node; this package file only
knows how to make the ``flashdepth_vfx`` package importable (it is loaded before that is possible)."""
from __future__ import annotations

import os
import sys

PROJECT_ENV = "FLASHDEPTH_VFX_PATH"


def add_project_path() -> bool:
    """Put the flashdepth-vfx project on ``sys.path``: ``$FLASHDEPTH_VFX_PATH``, else the checkout this plugin
    folder sits in (``<project>/nuke/flashdepth_nuke``). Returns False when neither holds ``flashdepth_vfx``
    (fine when the package is pip-installed into Nuke's Python)."""
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    root = os.environ.get(PROJECT_ENV) or checkout
    if not os.path.isdir(os.path.join(root, "flashdepth_vfx")):
        return False
    if root not in sys.path:
        sys.path.insert(0, root)
    return True
