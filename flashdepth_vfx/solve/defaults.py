"""Defaults of the solve, importable without numpy (the command line reads them for its help)."""

NUKE_ROTATION_ORDER = "ZXY"
"""Nuke's default Camera ``rot_order``: rotate about Z first, then X, then Y."""
SMOOTHNESS = 0.05
"""Expected relative frame-to-frame change of the mapping (the smoothness prior's standard deviation)."""
ANCHOR_ORIGINS = ("top-left", "bottom-left")
"""Where anchor pixel coordinates start: image convention (y down) or Nuke's (y up)."""
FAR_PER_REFERENCE = 1000.0
"""Without ``--far``, the depth written where the solved inverse depth says 'further than this' (sky) is this many
times the references' median depth: 10 km for references 10 m away, in any scene unit (a fixed 10000 units was
10 m in a millimetre scene, and clamped every surface beyond it)."""
PHASES = {
    "start": "reading the camera, points and anchors",
    "cuts": "looking for hard cuts in the plates",
    "stabilize": "stabilising",
    "references": "reading the disparity at the references",
    "fit": "fitting the shot",
    "resume": "looking for frames already solved",
    "write": "writing",
}
"""The solve's phases, in order (those that apply run), and what each does, for progress and cancel messages
(the host nodes show them too: standard library only here)."""
