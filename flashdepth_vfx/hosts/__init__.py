"""Logic shared by the host adapters (Nuke, Houdini, Resolve/Fusion). Standard library plus
:mod:`flashdepth_vfx.bridge` only, so every host Python (3.9+) can import it."""
