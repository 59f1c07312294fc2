"""Standalone window for the depth panel (``flashdepth-vfx gui``)."""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import List, Optional

from PySide6.QtWidgets import QApplication

from ..bridge import RenderJob
from .panel import DepthPanel


def main(argv: Optional[List[str]] = None) -> int:
    """Open the panel in its own window and run the Qt event loop until it is closed."""
    parser = argparse.ArgumentParser(prog="flashdepth-vfx gui", description="FlashDepth depth render panel")
    parser.add_argument("plate", nargs="?", help="plate sequence to fill in, e.g. shot.####.exr")
    parser.add_argument("--engine", help='engine command line (default: $FLASHDEPTH_VFX_BIN, config, then PATH)')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    app = QApplication.instance() or QApplication([sys.argv[0]])
    panel = DepthPanel(engine=shlex.split(args.engine) if args.engine else None)
    panel.setWindowTitle("FlashDepth VFX")
    if args.plate:
        panel.set_job(RenderJob(plate=args.plate))
    panel.resize(1100, 720)
    panel.show()
    return app.exec()
