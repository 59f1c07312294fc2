"""Movie input through PyAV, on the shared Big Buck Bunny clip."""
from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from flashdepth_vfx.errors import PlateError
from flashdepth_vfx.plates import is_movie, movie_frame_count, read_movie


@pytest.fixture(scope="module")
def clip(testdata_dir: Path) -> Path:
    return testdata_dir / "video/bigbuckbunny.mp4"


def test_frame_count(clip: Path) -> None:
    assert movie_frame_count(clip) == 132


def test_frames_are_display_rgb_floats_numbered_from_one(clip: Path) -> None:
    frames = list(islice(read_movie(clip), 3))
    assert [number for number, _ in frames] == [1, 2, 3]
    for _, rgb in frames:
        assert rgb.shape == (720, 1280, 3) and rgb.dtype == np.float32
        assert 0.0 <= rgb.min() and rgb.max() <= 1.0
        assert rgb.std() > 0.05  # real picture content, not a blank frame
    assert not np.array_equal(frames[0][1], frames[2][1])


def test_every_frame_decodes(clip: Path) -> None:
    last = None
    for last, _ in read_movie(clip):
        pass
    assert last == 132


def test_missing_and_unreadable_movies(tmp_path: Path) -> None:
    with pytest.raises(PlateError, match="Movie not found"):
        movie_frame_count(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"this is not a movie" * 10)
    with pytest.raises(PlateError, match="junk.mov"):
        next(read_movie(junk))


def test_is_movie() -> None:
    assert is_movie("a/b/clip.MOV") and is_movie(Path("clip.mp4"))
    assert not is_movie("shot.####.exr") and not is_movie("shot.1001.dpx")
