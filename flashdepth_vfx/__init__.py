"""flashdepth-vfx: streaming video depth (FlashDepth) for VFX plates.

Importing this package is cheap: it never imports torch. The model lives in
:mod:`flashdepth_vfx.model`, the render engine in :mod:`flashdepth_vfx.engine`.
"""

__version__ = "0.1.0"
