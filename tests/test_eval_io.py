"""Reading evaluation frames (EXR, PNG, NPY, PFM; patterns, globs, folders), run_eval, the table and the chart."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from flashdepth_vfx.data import SceneConfig, render_sequence, write_depth_sequence
from flashdepth_vfx.errors import OutputError, PlateError
from flashdepth_vfx.eval import format_table, load_frames, plot_metrics, run_eval
from flashdepth_vfx.eval.io import find_frames, read_frame, read_pfm, write_pfm
from flashdepth_vfx.eval.plot import SERIES_COLOURS

FRAME = (np.arange(12, dtype=np.float32).reshape(3, 4) + 1.0) * 1.5  # 4 wide, 3 high; distinct values


def _write_image(path: Path, channels: dict[str, np.ndarray], pixel_type: str = "float") -> None:
    first = next(iter(channels.values()))
    spec = oiio.ImageSpec(first.shape[1], first.shape[0], len(channels), pixel_type)
    spec.channelnames = tuple(channels)
    output = oiio.ImageOutput.create(str(path))
    assert output is not None and output.open(str(path), spec), oiio.geterror()
    assert output.write_image(np.ascontiguousarray(np.stack(list(channels.values()), axis=-1)))
    output.close()


def test_exr_channel_choice(tmp_path: Path) -> None:
    path = tmp_path / "beauty.exr"
    _write_image(path, {"R": FRAME * 0, "G": FRAME * 2, "B": FRAME * 3, "Z": FRAME})
    np.testing.assert_array_equal(read_frame(path), FRAME)  # Z preferred over R
    np.testing.assert_array_equal(read_frame(path, channel="G"), FRAME * 2)
    with pytest.raises(PlateError, match=r"beauty\.exr has no channel 'depth\.Z' \(it has R, G, B, Z\)"):
        read_frame(path, channel="depth.Z")
    layered = tmp_path / "layered.exr"
    _write_image(layered, {"A": FRAME * 5, "depth.Z": FRAME})
    np.testing.assert_array_equal(read_frame(layered), FRAME)
    plain = tmp_path / "plain.exr"
    _write_image(plain, {"disparity": FRAME * 7})
    np.testing.assert_array_equal(read_frame(plain), FRAME * 7)  # no known name: the first channel


def test_sixteen_bit_png_in_millimetres(tmp_path: Path) -> None:
    path = tmp_path / "depth.png"
    _write_image(path, {"Y": (FRAME * 1000).astype(np.uint16)}, "uint16")
    np.testing.assert_allclose(read_frame(path), FRAME, rtol=1e-6)
    np.testing.assert_allclose(read_frame(path, png_scale=256.0), FRAME * 1000 / 256, rtol=1e-6)
    eight_bit = tmp_path / "preview.png"
    _write_image(eight_bit, {"Y": FRAME.astype(np.uint8)}, "uint8")
    with pytest.raises(PlateError, match="preview.png.*16-bit"):
        read_frame(eight_bit)


def test_npy_frames(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", FRAME.astype(np.float64))
    np.save(tmp_path / "b.npy", FRAME[..., None])
    np.testing.assert_array_equal(read_frame(tmp_path / "a.npy"), FRAME)
    np.testing.assert_array_equal(read_frame(tmp_path / "b.npy"), FRAME)
    np.save(tmp_path / "c.npy", np.zeros((2, 3, 4, 5)))
    with pytest.raises(PlateError, match=r"c\.npy holds an array of shape \(2, 3, 4, 5\)"):
        read_frame(tmp_path / "c.npy")


def test_pfm_reader_on_hand_made_bytes(tmp_path: Path) -> None:
    # 2 wide, 2 high, big endian (positive scale), rows stored bottom first
    big = tmp_path / "big.pfm"
    big.write_bytes(b"Pf\n2 2\n1.0\n" + struct.pack(">4f", 3.0, 4.0, 1.0, 2.0))
    np.testing.assert_array_equal(read_pfm(big), [[1.0, 2.0], [3.0, 4.0]])
    little = tmp_path / "little.pfm"
    little.write_bytes(b"PF\n1 1\n-1.0\n" + struct.pack("<3f", 0.5, 0.25, 0.125))
    np.testing.assert_array_equal(read_pfm(little), [[[0.5, 0.25, 0.125]]])
    truncated = tmp_path / "short.pfm"
    truncated.write_bytes(b"Pf\n2 2\n-1.0\n" + struct.pack("<3f", 1, 2, 3))
    with pytest.raises(PlateError, match="short.pfm is truncated"):
        read_pfm(truncated)
    (tmp_path / "bad.pfm").write_bytes(b"P6\n2 2\n255\n")
    with pytest.raises(PlateError, match="not a PFM"):
        read_pfm(tmp_path / "bad.pfm")


@pytest.mark.parametrize("little_endian", [True, False])
def test_pfm_round_trip(tmp_path: Path, little_endian: bool) -> None:
    colour = np.stack([FRAME, FRAME * 2, -FRAME], axis=-1)
    for name, image in (("grey.pfm", FRAME), ("colour.pfm", colour)):
        write_pfm(tmp_path / name, image, little_endian)
        np.testing.assert_array_equal(read_pfm(tmp_path / name), image)
    np.testing.assert_array_equal(read_frame(tmp_path / "colour.pfm"), FRAME)  # first channel


def _sequence(folder: Path, frames: list[int], suffix: str = ".npy", name: str = "pred") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for frame in frames:
        np.save(folder / f"{name}.{frame:04d}{suffix}", FRAME + frame)


def test_patterns_globs_and_folders_find_frames_in_frame_order(tmp_path: Path) -> None:
    _sequence(tmp_path, [998, 999, 1000, 1001])
    expected = [tmp_path / f"pred.{f:04d}.npy" for f in (998, 999, 1000, 1001)]
    for spec in ("pred.####.npy", "pred.%04d.npy", "pred.*.npy", ""):
        assert find_frames(str(tmp_path / spec) if spec else tmp_path) == expected
    frames = load_frames(str(tmp_path / "pred.####.npy"))
    assert frames.shape == (4, 3, 4) and frames.dtype == np.float32
    np.testing.assert_array_equal(frames[:, 0, 0], [FRAME[0, 0] + f for f in (998, 999, 1000, 1001)])
    np.testing.assert_array_equal(load_frames(expected[2])[0], FRAME + 1000)  # a single file


def test_sequence_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(PlateError, match=r"No files match none\.####\.exr"):
        load_frames(str(tmp_path / "none.####.exr"))
    with pytest.raises(PlateError, match="not found.*missing.exr"):
        load_frames(str(tmp_path / "missing.exr"))
    _sequence(tmp_path / "gap", [1, 2, 4])
    with pytest.raises(PlateError, match="missing frames 3"):
        load_frames(str(tmp_path / "gap" / "pred.####.npy"))
    _sequence(tmp_path / "mixed", [1])
    write_pfm(tmp_path / "mixed" / "pred.0002.pfm", FRAME)
    with pytest.raises(PlateError, match=r"several kinds of frames \(\.npy, \.pfm\)"):
        load_frames(tmp_path / "mixed")
    _sequence(tmp_path / "sizes", [1, 2])
    np.save(tmp_path / "sizes" / "pred.0003.npy", np.zeros((5, 5)))
    with pytest.raises(PlateError, match=r"pred\.0003\.npy is 5x5 but pred\.0001\.npy is 4x3"):
        load_frames(tmp_path / "sizes")


@pytest.mark.parametrize(
    "name", ["damaged/invalid.exr", "damaged/DERIVED_t01_truncated_12000B.exr", "deep/11.deep.exr"]
)
def test_damaged_or_deep_exr_is_a_plate_error(testdata_dir: Path, name: str) -> None:
    with pytest.raises(PlateError, match=Path(name).name.replace(".", r"\.")):
        read_frame(testdata_dir / "exr" / name)


def test_real_exr_with_z_channel(testdata_dir: Path) -> None:
    frame = read_frame(testdata_dir / "exr" / "windows" / "v1.7.test.1.exr")  # RGB half + float Z
    assert frame.dtype == np.float32 and frame.ndim == 2 and np.isfinite(frame).any()


@pytest.fixture(scope="module")
def rendered() -> object:
    return render_sequence(SceneConfig(height=36, width=52, num_frames=4, seed=9))


def test_run_eval_end_to_end(rendered, tmp_path: Path) -> None:
    gt_pattern = write_depth_sequence(rendered, tmp_path / "gt", name="gt", first_frame=1001)
    disparity = 1.0 / np.minimum(rendered.depth, 70.0)
    (tmp_path / "pred").mkdir()
    for index, frame in enumerate(disparity):
        write_pfm(tmp_path / "pred" / f"pred.{1001 + index}.pfm", 3.0 * frame + 0.2)
    json_path, plot_path = tmp_path / "out" / "metrics.json", tmp_path / "out" / "metrics.png"
    result = run_eval(str(tmp_path / "pred"), gt_pattern, json_path=json_path, plot_path=plot_path)
    assert result.abs_rel == pytest.approx(0.0, abs=1e-6) and result.delta1 == 1.0
    data = json.loads(json_path.read_text())
    assert data["abs_rel"] == pytest.approx(0.0, abs=1e-6) and data["gt"] == gt_pattern
    assert len(data["per_frame"]["boundary_f1"]) == 4 and set(data["temporal"]) == {"scale_spread", "flicker"}
    chart = oiio.ImageBuf(str(plot_path))
    assert (chart.spec().width, chart.spec().height) == (800, 360)
    pixels = chart.get_pixels(oiio.FLOAT)
    for colour in SERIES_COLOURS.values():  # each series is drawn
        assert (np.abs(pixels - np.asarray(colour)).max(axis=-1) < 0.02).sum() > 50

    np.save(tmp_path / "gt_disp.npy", disparity[0])
    np.save(tmp_path / "pred_depth.npy", np.minimum(rendered.depth[0], 70.0))
    same = run_eval(tmp_path / "pred_depth.npy", tmp_path / "gt_disp.npy", pred_kind="depth", gt_kind="disparity")
    assert same.abs_rel == pytest.approx(0.0, abs=1e-6)


def test_run_eval_refuses_mismatched_counts(rendered, tmp_path: Path) -> None:
    gt_pattern = write_depth_sequence(rendered, tmp_path / "gt")
    _sequence(tmp_path / "pred", [1, 2, 3])
    with pytest.raises(PlateError, match="3 prediction frames .* but 4 ground-truth frames"):
        run_eval(str(tmp_path / "pred"), gt_pattern)
    np.save(tmp_path / "pred" / "pred.0004.npy", FRAME)
    with pytest.raises(PlateError, match="4 frames of 4x3.*4 frames of 52x36"):
        run_eval(str(tmp_path / "pred"), gt_pattern)


def test_format_table_and_unwritable_outputs(rendered, tmp_path: Path) -> None:
    gt_pattern = write_depth_sequence(rendered, tmp_path / "gt")
    result = run_eval(gt_pattern, gt_pattern, pred_kind="depth")
    table = format_table(result)
    for label in ("AbsRel", "delta1", "Boundary F1", "Scale spread", "Flicker", "0.0000", "1.0000", "4 frames"):
        assert label in table
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="file"):
        run_eval(gt_pattern, gt_pattern, pred_kind="depth", json_path=blocker / "m.json")
    with pytest.raises(OutputError, match="file"):
        plot_metrics(result, blocker / "m.png")


def test_chart_survives_missing_values_and_single_frames(tmp_path: Path) -> None:
    from flashdepth_vfx.eval.metrics import evaluate_sequence

    gt = np.full((3, 6, 6), 4.0)
    gt[:, 2:4, 2:4] = 2.0
    gt[1] = 0.0  # no ground truth in the middle frame: a gap in every line
    result = evaluate_sequence(1.0 / np.where(gt > 0, gt, 1.0), gt)
    plot_metrics(result, tmp_path / "gap.png")
    single = evaluate_sequence(1.0 / gt[:1], gt[:1])
    plot_metrics(single, tmp_path / "single.png")
    for name in ("gap.png", "single.png"):
        pixels = oiio.ImageBuf(str(tmp_path / name)).get_pixels(oiio.FLOAT)
        delta_colour = np.asarray(SERIES_COLOURS["delta1"])
        assert (np.abs(pixels - delta_colour).max(axis=-1) < 0.02).sum() > 20
