"""The generator's matchmove: tracked points with a tracker's jitter and a share on moving objects."""
from __future__ import annotations

import numpy as np

from flashdepth_vfx.data import SceneConfig, render_sequence
from flashdepth_vfx.data.matchmove import track_points
from flashdepth_vfx.solve.observations import project


def test_tracks_sit_on_static_surfaces_except_the_moving_share() -> None:
    seq = render_sequence(SceneConfig(height=63, width=112, num_frames=8, seed=1_000_003, camera_motion="dolly"))
    tracks = track_points(seq, 200, jitter_px=0.5, moving_share=0.15, seed=4)
    assert tracks.positions.shape == (200, 3) and int(tracks.moving.sum()) == 30
    assert np.array_equal(track_points(seq, 200, seed=4).positions, tracks.positions)
    errors = {True: [], False: []}
    for frame in range(8):
        uv, z = project(tracks.positions, np.linalg.inv(seq.poses[frame]), seq.intrinsics)
        inside = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < 112) & (uv[:, 1] >= 0) & (uv[:, 1] < 63)
        pixels = uv[inside].astype(int)
        truth = seq.depth[frame][pixels[:, 1], pixels[:, 0]]
        for moving in (True, False):
            keep = tracks.moving[inside] == moving
            errors[moving] += list(np.abs(z[inside][keep] / truth[keep] - 1))
    static, moving = np.asarray(errors[False]), np.asarray(errors[True])
    assert np.median(static) < 0.01  # on the surface, up to the jitter and pixel rounding
    assert np.median(moving) > 3 * np.median(static)  # moving tracks disagree with the other frames
