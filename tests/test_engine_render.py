"""The render engine end to end: real EXR plates in, real depth EXRs out, through the real libraries."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
import torch

from engine_helpers import DATA_ORIGIN, DISPLAY, PLATE_SIZE, read_channel, write_plates
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.engine.outputs import DISPARITY_EPSILON
from flashdepth_vfx.model import load_checkpoint
from flashdepth_vfx.plates import DisplayConverter, load_config, read_plate


@pytest.fixture()
def plates(tmp_path) -> str:
    return write_plates(tmp_path / "plates", range(1001, 1007))


class Recorder(QuietEvents):
    """Keeps the events; can cancel the render after a number of written frames."""

    def __init__(self, cancel_after: int | None = None, cancel: threading.Event | None = None) -> None:
        self.events: list[tuple] = []
        self.cancel_after = cancel_after
        self.cancel = cancel

    def start(self, *args) -> None:
        self.events.append(("start", *args))

    def frame(self, frame, index, total, path) -> None:
        self.events.append(("frame", frame, index, total, path))
        if self.cancel_after is not None and index >= self.cancel_after and self.cancel is not None:
            self.cancel.set()

    def warning(self, message, frame=None) -> None:
        self.events.append(("warning", message, frame))

    def done(self, written, output) -> None:
        self.events.append(("done", written, output))

    def cancelled(self, written, message) -> None:
        self.events.append(("cancelled", written, message))


def _render(plates: str, out: Path, checkpoint: Path, **options) -> tuple[object, Recorder]:
    cancel = threading.Event()
    events = Recorder(options.pop("cancel_after", None), cancel)
    settings = RenderSettings(plate=plates, output=str(out / "shot_depth.####.exr"), checkpoint=str(checkpoint), **options)
    return Render(settings, events, cancel).run(), events


def _depth_files(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: read_channel(p, "depth.Z") for p in sorted(folder.glob("shot_depth.*.exr"))}


def test_outputs_equal_the_stream_run_by_hand(plates, tmp_path, checkpoint) -> None:
    summary, events = _render(plates, tmp_path / "out", checkpoint, mode="disparity", precision="fp32")
    assert [p.name for p in summary.written] == [f"shot_depth.{f}.exr" for f in range(1001, 1007)]

    model = load_checkpoint(checkpoint)
    convert = DisplayConverter(load_config(), "ACEScg")
    with torch.inference_mode():
        stream = model.stream()
        for f in range(1001, 1007):
            plate = read_plate(Path(plates.replace("####", str(f))))
            x = torch.from_numpy(convert(plate.rgb).transpose(2, 0, 1).copy())[None]
            expected = stream.step_any_size(x)[0].numpy()
            got = read_channel(tmp_path / "out" / f"shot_depth.{f}.exr", "depth.Z")
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    kinds = [e[0] for e in events.events]
    assert kinds == ["start"] + ["frame"] * 6 + ["done"]
    assert events.events[0][1:] == ("shot.####.exr", str(tmp_path / "out" / "shot_depth.%04d.exr"), 1001, 1006, 6)


def test_threads_limit_inference_and_are_given_back(plates, tmp_path, checkpoint) -> None:
    seen: list[int] = []

    class ThreadCounter(QuietEvents):
        def frame(self, frame, index, total, path) -> None:
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        settings = RenderSettings(plate=plates, output=str(tmp_path / "out" / "shot_depth.####.exr"),
                                  checkpoint=str(checkpoint), threads=1)
        Render(settings, ThreadCounter(), threading.Event()).run()
        assert seen == [1] * 6
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_windows_channels_and_metadata_survive(plates, tmp_path, checkpoint) -> None:
    _render(plates, tmp_path / "out", checkpoint, passthrough=True)
    spec = oiio.ImageInput.open(str(tmp_path / "out" / "shot_depth.1003.exr")).spec()
    assert (spec.x, spec.y, spec.width, spec.height) == (*DATA_ORIGIN, PLATE_SIZE[1], PLATE_SIZE[0])
    assert (spec.full_x, spec.full_y, spec.full_width, spec.full_height) == (0, 0, *DISPLAY)
    assert spec.get_float_attribute("PixelAspectRatio") == 2.0
    assert list(spec.channelnames) == ["R", "G", "B", "A", "depth.Z"]
    # the plate copy is asked for: half floats and compressed, the depth float32 (issue 19 item 4)
    assert [str(t) for t in spec.channelformats] == ["half"] * 4 + ["float"]
    assert spec.get_string_attribute("compression") == "zip"
    assert spec.getattribute("cameraName") == "A001"
    assert spec.getattribute("smpte:TimeCode") is not None
    assert spec.getattribute("flashdepth:model") == "flashdepth-tiny"
    assert spec.getattribute("flashdepth:frame") == 1003
    assert len(spec.getattribute("flashdepth:checkpoint_sha256")) == 12
    # passthrough carries the plate's pixels unchanged (half precision)
    plate = read_plate(Path(plates.replace("####", "1003")))
    np.testing.assert_allclose(read_channel(tmp_path / "out" / "shot_depth.1003.exr", "R"), plate.rgb[..., 0])


def test_depth_mode_is_scaled_reciprocal_of_disparity(plates, tmp_path, checkpoint) -> None:
    _render(plates, tmp_path / "disp", checkpoint, mode="disparity", frames="1001-1002")
    _render(plates, tmp_path / "depth", checkpoint, mode="depth", depth_scale=50.0, frames="1001-1002")
    disp = read_channel(tmp_path / "disp" / "shot_depth.1002.exr", "depth.Z")
    depth = read_channel(tmp_path / "depth" / "shot_depth.1002.exr", "depth.Z")
    np.testing.assert_allclose(depth, 50.0 / np.maximum(disp, DISPARITY_EPSILON), rtol=1e-5)


def test_normalized_mode_spans_the_shot_and_stores_its_range(plates, tmp_path, checkpoint) -> None:
    _render(plates, tmp_path / "disp", checkpoint, mode="disparity")
    _render(plates, tmp_path / "norm", checkpoint, mode="normalized")
    disp = _depth_files(tmp_path / "disp")
    norm = _depth_files(tmp_path / "norm")
    lo = min(d.min() for d in disp.values())
    hi = max(d.max() for d in disp.values())
    assert min(n.min() for n in norm.values()) == 0.0 and max(n.max() for n in norm.values()) == 1.0
    spec = oiio.ImageInput.open(str(tmp_path / "norm" / "shot_depth.1004.exr")).spec()
    rmin, rmax = spec.getattribute("flashdepth:range_min"), spec.getattribute("flashdepth:range_max")
    assert rmin == pytest.approx(lo) and rmax == pytest.approx(hi)
    for name, values in norm.items():  # invertible from the metadata
        np.testing.assert_allclose(values * (rmax - rmin) + rmin, disp[name], rtol=1e-4, atol=1e-4)


def test_interrupt_then_resume_gives_identical_files(tmp_path, checkpoint) -> None:
    # Long enough that the frames already decoded ahead and queued behind the model cannot be the whole shot.
    plates = write_plates(tmp_path / "plates", range(1001, 1021))
    _render(plates, tmp_path / "straight", checkpoint, snapshot_every=2)
    summary, events = _render(plates, tmp_path / "resumed", checkpoint, snapshot_every=2, cancel_after=3, io_workers=1)
    assert summary.cancelled
    kept = sorted(p.name for p in (tmp_path / "resumed").glob("shot_depth.*.exr"))
    assert 3 <= len(kept) < 20
    assert events.events[-1][0] == "cancelled"
    summary, events = _render(plates, tmp_path / "resumed", checkpoint, snapshot_every=2, resume=True)
    assert summary.skipped == [int(n.split(".")[1]) for n in kept]
    straight, resumed = _depth_files(tmp_path / "straight"), _depth_files(tmp_path / "resumed")
    assert straight.keys() == resumed.keys() and len(straight) == 20
    for name in straight:
        np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)


def test_random_access_matches_the_full_render(plates, tmp_path, checkpoint) -> None:
    _render(plates, tmp_path / "full", checkpoint)
    _render(plates, tmp_path / "late", checkpoint, frames="1005")  # runs from the shot start, writes only 1005
    assert [p.name for p in (tmp_path / "late").glob("shot_depth.*.exr")] == ["shot_depth.1005.exr"]
    np.testing.assert_array_equal(_depth_files(tmp_path / "late")["shot_depth.1005.exr"],
                                  _depth_files(tmp_path / "full")["shot_depth.1005.exr"])


def test_snapshot_start_matches_the_full_render(plates, tmp_path, checkpoint) -> None:
    out = tmp_path / "out"
    _render(plates, out, checkpoint, frames="1001-1003")  # leaves a snapshot after 1003
    snaps = sorted(p.name for p in (out / ".flashdepth").glob("*/state.*.safetensors"))
    assert snaps == ["state.1003.safetensors"]
    _render(plates, out, checkpoint, frames="1004-1006")  # continues from it: no replay of 1001-1003
    _render(plates, tmp_path / "full", checkpoint)
    full, chunked = _depth_files(tmp_path / "full"), _depth_files(out)
    for name in full:
        np.testing.assert_array_equal(chunked[name], full[name], err_msg=name)


def test_warmup_starts_cold_a_few_frames_early(plates, tmp_path, checkpoint) -> None:
    # fp32: the tiny test model's seam is below bf16's resolution of its output
    _render(plates, tmp_path / "full", checkpoint, precision="fp32")
    _render(plates, tmp_path / "warm", checkpoint, frames="1005-1006", warmup=2, precision="fp32")
    full, warm = _depth_files(tmp_path / "full"), _depth_files(tmp_path / "warm")
    assert sorted(warm) == ["shot_depth.1005.exr", "shot_depth.1006.exr"]
    assert not (tmp_path / "warm" / ".flashdepth").exists()  # a cold start must not leave snapshots
    diff = np.abs(warm["shot_depth.1005.exr"] - full["shot_depth.1005.exr"]).max()
    assert 0 < diff < np.abs(full["shot_depth.1005.exr"]).max()


def test_reset_on_cut_restarts_the_state(tmp_path, checkpoint) -> None:
    plates = write_plates(tmp_path / "plates", range(1, 5))
    for f in (3, 4):  # a different shot: inverted, noisy
        path = tmp_path / "plates" / f"shot.{f:04d}.exr"
        buf = oiio.ImageBuf(str(path))
        pixels = buf.get_pixels(oiio.FLOAT)
        pixels[..., :3] = np.random.default_rng(f).random(pixels[..., :3].shape) * 4
        out = oiio.ImageOutput.create(str(path))
        out.open(str(path), buf.spec())
        out.write_image(pixels)
        out.close()
    _, events = _render(plates, tmp_path / "cut", checkpoint, reset_on_cut=True)
    warnings = [e for e in events.events if e[0] == "warning"]
    assert [w[2] for w in warnings] == [3]
    _render(plates, tmp_path / "alone", checkpoint, frames="3", warmup=0)
    np.testing.assert_array_equal(_depth_files(tmp_path / "cut")["shot_depth.0003.exr"],
                                  _depth_files(tmp_path / "alone")["shot_depth.0003.exr"])


def test_memory_is_bounded_by_queue_depth(plates, tmp_path, checkpoint, monkeypatch) -> None:
    """At most QUEUE_DEPTH frames wait on each side of the model, whatever the shot length."""
    from flashdepth_vfx.engine import pipeline

    peak = {"in": 0}
    real_queue = pipeline.queue.Queue

    class Watched(real_queue):  # type: ignore[misc, valid-type]
        def put(self, item, block=True, timeout=None):
            super().put(item, block, timeout)
            peak["in"] = max(peak["in"], self.qsize())

    monkeypatch.setattr(pipeline.queue, "Queue", Watched)
    _render(plates, tmp_path / "out", checkpoint)
    assert 1 <= peak["in"] <= pipeline.QUEUE_DEPTH


def test_movie_input(tmp_path, checkpoint, testdata_dir) -> None:
    movie = testdata_dir / "video" / "bigbuckbunny.mp4"
    settings = RenderSettings(plate=str(movie), output=str(tmp_path / "bbb_depth.####.exr"), frames="1-3",
                              checkpoint=str(checkpoint), max_size=252)
    summary = Render(settings, Recorder()).run()
    assert [p.name for p in summary.written] == ["bbb_depth.0001.exr", "bbb_depth.0002.exr", "bbb_depth.0003.exr"]
    depth = read_channel(summary.written[2], "depth.Z")
    assert depth.shape == (720, 1280) and np.isfinite(depth).all() and depth.std() > 0
