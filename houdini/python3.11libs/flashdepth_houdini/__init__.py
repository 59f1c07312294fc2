"""FlashDepth for Houdini: :mod:`flashdepth_houdini.node` holds the FlashDepth COP subnet."""
