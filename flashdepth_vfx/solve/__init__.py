"""Shot solve: relative disparity to depth in scene units from a matchmove (camera + tracked points, or anchors),
steadied by optical flow (``--stabilize``), with position and normal passes. Works on any disparity sequence.

- :mod:`~flashdepth_vfx.solve.cameras`: USD / Nuke .chan cameras and bare lenses, sampled at plate frames
- :mod:`~flashdepth_vfx.solve.points`: tracked points (USD Points, OBJ, CSV) and anchors (CSV)
- :mod:`~flashdepth_vfx.solve.observations`: where the references land in a frame (projection, sampling)
- :mod:`~flashdepth_vfx.solve.fit`: the robust per-frame affine fit, solved jointly under a smoothness prior
- :mod:`~flashdepth_vfx.solve.stabilize` / :mod:`~flashdepth_vfx.solve.flow`: flow-based scale/shift stabilisation
- :mod:`~flashdepth_vfx.solve.passes`: depth / distance / inverse, P and N
- :mod:`~flashdepth_vfx.solve.run`: files in, files out (:class:`~flashdepth_vfx.solve.run.ShotSolve`); ``report``
- :mod:`~flashdepth_vfx.solve.command` (``flashdepth-vfx solve``), :mod:`~flashdepth_vfx.solve.after_render`
  (``render --camera ...``): the command line, thin.

Importing this package (or ``command``/``defaults``) loads neither numpy nor torch: the CLI stays quick.
"""
