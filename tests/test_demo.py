"""`make demo`: a generated shot rendered to depth EXRs with the embedded model, and a contact sheet beside them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from flashdepth_vfx.demo import main
from flashdepth_vfx.plates.image_io import read_channels


def test_demo_writes_depth_exrs_and_a_plate_depth_contact_sheet(tmp_path: Path, capsys) -> None:
    assert main(["--out", str(tmp_path), "--frames", "4", "--size", "70x126"]) == 0

    depth_files = sorted((tmp_path / "depth").glob("shot_depth.*.exr"))
    assert [f.name for f in depth_files] == [f"shot_depth.{n}.exr" for n in range(1001, 1005)]
    depth = read_channels(depth_files[0])["depth.Z"]
    assert depth.shape == (70, 126) and np.isfinite(depth).all() and depth.min() > 0
    # the ground plane (bottom rows) is nearer than the horizon (top rows)
    assert np.median(depth[-5:]) < np.median(depth[:5])

    sheet = oiio.ImageBuf(str(tmp_path / "contact_sheet.png"))
    spec = sheet.spec()
    assert (spec.width, spec.height) == (2 * 126, 4 * 70)  # rows of plate | depth
    assert "contact sheet:" in capsys.readouterr().out
